"""Who may see and do what through the police API: the authorisation matrix, the limits, the
audit trail and attribution, over real HTTP and websockets on chDB and a real Kafka broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pyarrow as pa
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from graphql_api.access import Role
from pingan.platform.warehouse import EmbeddedWarehouse
from schemas.alerts import Alert, AlertType, Severity, SubjectKind
from schemas.audit import AlertAction, AuditEntry
from schemas.events import utc_now
from schemas.topics import ALERT_ACTIONS, AUDIT_LOG
from tests.integration.api_harness import (
    ADMIN,
    ANALYST,
    C01_MANAGER,
    C01_OFFICER,
    OFFICER,
    WAIT,
    Api,
    Who,
    api_settings,
    audit_entries,
    next_message,
    prepared_warehouse,
    running_api,
)

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
T0 = utc_now() - timedelta(hours=2)
ROLES: dict[str, Who] = {
    "district_admin": ADMIN,
    "district_officer": OFFICER,
    "community_officer": C01_OFFICER,
    "property_manager": C01_MANAGER,
    "analyst": ANALYST,
}
HANDLING = ("acknowledgeAlert", "assignAlert", "resolveAlert")


def _alert(alert_id: str, community: str, alert_type: AlertType) -> Alert:
    device = alert_type is AlertType.DEVICE_OFFLINE
    return Alert(
        alert_id=alert_id,
        alert_type=alert_type,
        severity=Severity.HIGH,
        community_id=community,
        subject_kind=SubjectKind.DEVICE if device else SubjectKind.PLATE,
        subject="cam-1" if device else "浙A12345",
        first_seen=T0,
        last_seen=T0,
        explanation="test alert",
        raised_at=T0,
        updated_at=T0,
        source_received_at=T0,
    )


def _cell_alert_id(operation: str, role: str, community: str) -> str:
    return f"{RUN}-{operation}-{role}-{community}"


FACILITY = {c: _alert(f"{RUN}-facility-{c}", c, AlertType.DEVICE_OFFLINE) for c in ("c01", "c02")}
POLICE = {c: _alert(f"{RUN}-police-{c}", c, AlertType.WATCHLIST_PLATE) for c in ("c01", "c02")}
HISTORY = _alert(f"{RUN}-history", "c01", AlertType.DEVICE_OFFLINE)
CELL_ALERTS = [
    _alert(_cell_alert_id(op, role, c), c, AlertType.DEVICE_OFFLINE)
    for op in HANDLING
    for role in ROLES
    for c in ("c01", "c02")
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedWarehouse]:
    data_dir: Path = tmp_path_factory.mktemp("api-access")
    with prepared_warehouse(data_dir) as warehouse:
        alerts = [*FACILITY.values(), *POLICE.values(), *CELL_ALERTS, HISTORY]
        rows = [a.row() | {"kafka_partition": 0, "kafka_offset": i} for i, a in enumerate(alerts)]
        schema = warehouse.arrow_schema("alerts")
        warehouse.insert("alerts", pa.Table.from_pylist(rows, schema=schema))
        yield warehouse


@pytest.fixture(scope="module")
async def api(warehouse: EmbeddedWarehouse, configured_kafka: str) -> AsyncIterator[Api]:
    async with running_api(warehouse, configured_kafka) as api:
        yield api


@dataclass(frozen=True)
class Operation:
    """One API operation as the matrix calls it for a community: `allowed` are the roles
    whose permission covers it; `outside` is what a community role gets for another
    community (None: the operation names no community)."""

    name: str
    allowed: frozenset[str]
    document: str
    outside: str | None
    answer_error: str | None = None
    """The error an allowed caller gets past the permission check (no face model here)."""

    def call(self, community: str, role: str) -> tuple[str, dict[str, Any]]:
        variables = {
            "c": community,
            "facility": FACILITY[community].alert_id,
            "cell": _cell_alert_id(self.name, role, community),
            "since": (T0 - timedelta(days=1)).isoformat(),
            "person": f"{RUN}-{role}-{community}",
        }
        used = {k: v for k, v in variables.items() if f"${k}" in self.document}
        return self.document, used


UNKNOWN = "unknown community id(s): c02"
NULL = "null"
NOT_FOUND = "no alert with id"


def _op(
    name: str,
    roles: set[str],
    document: str,
    outside: str | None = None,
    answer_error: str | None = None,
) -> Operation:
    return Operation(name, frozenset(roles), document, outside, answer_error)


EVERYONE = set(ROLES)
POLICE_ROLES = {"district_admin", "district_officer", "community_officer"}
ALERT_ROLES = POLICE_ROLES | {"property_manager"}
OPERATIONS = [
    _op("communities", EVERYONE, "query { communities { id } }"),
    _op(
        "alerts",
        ALERT_ROLES,
        "query($c: ID!) { alerts(filter: {communityIds: [$c]}) "
        "{ edges { node { id communityId } } } }",
        UNKNOWN,
    ),
    _op(
        "alert",
        ALERT_ROLES,
        "query($facility: ID!) { alert(id: $facility) { id communityId } }",
        NULL,
    ),
    _op(
        "vehiclePassages",
        POLICE_ROLES,
        'query($c: ID!) { vehiclePassages(communityIds: [$c], purpose: "matrix") { totalCount } }',
        UNKNOWN,
    ),
    _op(
        "ruleSettings",
        POLICE_ROLES,
        "query($c: ID!) { ruleSettings(communityId: $c) { name communityId } }",
        UNKNOWN,
    ),
    _op("auditLog", {"district_admin"}, "query { auditLog(first: 1) { totalCount } }"),
    _op(
        "acknowledgeAlert",
        ALERT_ROLES,
        "mutation($cell: ID!) { acknowledgeAlert(id: $cell) { id status communityId } }",
        NOT_FOUND,
    ),
    _op(
        "assignAlert",
        ALERT_ROLES,
        'mutation($cell: ID!) { assignAlert(id: $cell, to: "wang") { id assignedTo communityId } }',
        NOT_FOUND,
    ),
    _op(
        "resolveAlert",
        ALERT_ROLES,
        'mutation($cell: ID!) { resolveAlert(id: $cell, note: "ok") { id status communityId } }',
        NOT_FOUND,
    ),
    _op(
        "setRuleSettings",
        {"district_admin"},
        'mutation($c: ID!) { setRuleSettings(communityId: $c, rule: "stray_dog", '
        "params: {suppress_minutes: 45}) { communityId } }",
    ),
    _op(
        "faceCaptures",
        POLICE_ROLES,
        'query($c: ID!) { faceCaptures(communityIds: [$c], purpose: "matrix") '
        "{ edges { node { id communityId } } } }",
        UNKNOWN,
    ),
    _op(
        "trajectory",
        POLICE_ROLES,
        'query { trajectory(personId: "p-matrix", purpose: "matrix") '
        "{ sightings { place { communityId } } } }",
    ),
    _op(
        "vehicle",
        POLICE_ROLES,
        'query { vehicle(plate: "鄂A12345", purpose: "matrix") '
        "{ recentPassages { communityId } } }",
    ),
    _op(
        "devices",
        ALERT_ROLES,
        "query($c: ID!) { devices(communityIds: [$c]) { edges { node { id communityId } } } }",
        UNKNOWN,
    ),
    _op(
        "parkingSessions",
        ALERT_ROLES,
        "query($c: ID!) { parkingSessions(communityIds: [$c]) { totalCount totalFee } }",
        UNKNOWN,
    ),
    _op(
        "alertStats",
        EVERYONE,
        "query($c: ID!, $since: DateTime!) { alertStats(bucket: DAY, since: $since, "
        "communityIds: [$c]) { key count } }",
        UNKNOWN,
    ),
    _op(
        "faceSearch",
        POLICE_ROLES,
        'query($c: ID!) { faceSearch(image: "aGVsbG8=", communityIds: [$c], purpose: "matrix") '
        "{ matches { communityId } } }",
        UNKNOWN,
        "no face model pack is installed on this server: face search is off",
    ),
    _op("privacyStatus", {"district_admin"}, "query { privacyStatus { enrolledPeople } }"),
    _op(
        "registerResident",
        {"district_admin"},
        "mutation($person: String!, $c: ID!) { registerResident(personId: $person, "
        'communityId: $c, unitDoorId: "b01-u1", age: 80, livesAlone: true) { personId } }',
    ),
    _op(
        "withdrawConsent",
        {"district_admin"},
        'mutation($person: String!) { withdrawConsent(personId: $person, purpose: "matrix") '
        "{ galleryEntriesRemoved } }",
    ),
    _op(
        "addWatchlistPlate",
        {"district_admin", "district_officer"},
        'mutation { addWatchlistPlate(plate: "鄂A00001", category: WANTED) { plate } }',
    ),
]
PERMISSION_OF = {
    "communities": "read:aggregates",
    "alerts": "read:alerts",
    "alert": "read:alerts",
    "vehiclePassages": "read:plates",
    "ruleSettings": "read:rule-settings",
    "auditLog": "read:audit",
    "acknowledgeAlert": "handle:alerts",
    "assignAlert": "handle:alerts",
    "resolveAlert": "handle:alerts",
    "setRuleSettings": "edit:rule-settings",
    "addWatchlistPlate": "edit:watchlists",
    "faceCaptures": "read:biometrics",
    "trajectory": "read:biometrics",
    "vehicle": "read:plates",
    "devices": "read:devices",
    "parkingSessions": "read:parking",
    "alertStats": "read:aggregates",
    "privacyStatus": "read:audit",
    "faceSearch": "read:biometrics",
    "registerResident": "edit:registry",
    "withdrawConsent": "erase:personal-data",
}
CELLS = [
    pytest.param(op, role, community, id=f"{op.name}-{role}-{community}")
    for op in OPERATIONS
    for role in ROLES
    for community in ("c01", "c02")
]


def _communities_in(value: Any) -> set[str]:
    """Every communityId / id of a community anywhere in an answer."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("communityId", "id") and isinstance(item, str):
                found.add(item)
            found |= _communities_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= _communities_in(item)
    return found


@pytest.mark.parametrize(("operation", "role", "community"), CELLS)
async def test_authorisation_matrix(
    api: Api, operation: Operation, role: str, community: str
) -> None:
    who = ROLES[role]
    document, variables = operation.call(community, role)
    body = await api.graphql(document, variables, who)
    scoped_out = community == "c02" and who[1] is not None
    if role not in operation.allowed:
        [error] = body["errors"]
        assert error["message"] == (
            f"{operation.name} needs the permission {PERMISSION_OF[operation.name]!r}, "
            f"which the role {role!r} does not have"
        )
        assert body["data"] in (None, {operation.name: None})
        return
    if (not scoped_out or operation.outside is None) and operation.answer_error:
        assert [e["message"] for e in body["errors"]] == [operation.answer_error], body
    elif not scoped_out or operation.outside is None:
        assert "errors" not in body, body
    elif operation.outside == NULL:
        assert body == {"data": {operation.name: None}}
    else:
        [error] = body["errors"]
        assert error["message"].startswith(operation.outside), body
    if who[1] is not None:
        assert "c02" not in _communities_in(body.get("data")), body
    if operation.name == "communities" and who[1] is not None:
        assert [c["id"] for c in body["data"]["communities"]] == ["c01"]


async def test_a_property_manager_never_sees_or_handles_police_alerts(api: Api) -> None:
    listing = await api.data(
        "query { alerts(first: 500) { edges { node { id type } } } }", None, C01_MANAGER
    )
    types = {e["node"]["type"] for e in listing["alerts"]["edges"]}
    assert types == {"DEVICE_OFFLINE"}
    police = POLICE["c01"].alert_id
    assert await api.data(f'{{ alert(id: "{police}") {{ id }} }}', None, C01_MANAGER) == {
        "alert": None
    }
    errors = await api.errors(
        f'mutation {{ acknowledgeAlert(id: "{police}") {{ id }} }}', None, C01_MANAGER
    )
    assert errors == [f"no alert with id {police!r}"]
    seen = await api.data(f'{{ alert(id: "{police}") {{ id }} }}', None, C01_OFFICER)
    assert seen == {"alert": {"id": police}}


async def test_without_a_valid_token_the_api_answers_401(api: Api) -> None:
    for token in (None, "not-a-token", api.token(ADMIN) + "x"):
        status, body = await api.post("{ communities { id } }", None, token)
        assert status == 401, body
        assert set(body) == {"error"}
        assert "Traceback" not in body["error"]


async def test_a_websocket_without_a_token_is_rejected_at_connection_init(api: Api) -> None:
    async with api.websocket(None) as (_, answer):
        assert answer["type"] == "closed"
        assert answer["code"] == 4403


async def test_subscriptions_only_carry_the_callers_communities_and_types(api: Api) -> None:
    now = utc_now()
    live = {
        "c02-facility": _alert(f"{RUN}-live-c02", "c02", AlertType.DEVICE_OFFLINE),
        "c01-police": _alert(f"{RUN}-live-c01p", "c01", AlertType.WATCHLIST_PLATE),
        "c01-facility": _alert(f"{RUN}-live-c01f", "c01", AlertType.DEVICE_OFFLINE),
    }
    live = {k: a.model_copy(update={"first_seen": now}) for k, a in live.items()}
    received: dict[str, list[str]] = {}
    for name, who in (("officer", C01_OFFICER), ("manager", C01_MANAGER)):
        async with api.websocket(who) as (ws, answer):
            assert answer["type"] == "connection_ack"
            baseline = api.context.alert_feed.subscriber_count
            await api.subscribe(ws, "subscription { alerts { id communityId type } }")
            async with asyncio.timeout(WAIT):
                while api.context.alert_feed.subscriber_count <= baseline:
                    await asyncio.sleep(0.02)
            await api.context.publisher.publish_many(live.values())
            ids: list[str] = []
            while not ids or ids[-1] != live["c01-facility"].alert_id:
                message = await next_message(ws)
                assert message["type"] == "next", message
                ids.append(message["payload"]["data"]["alerts"]["id"])
            received[name] = ids
    assert live["c02-facility"].alert_id not in received["officer"]
    assert live["c01-police"].alert_id in received["officer"]
    assert received["manager"] == [live["c01-facility"].alert_id]


async def test_an_analyst_cannot_subscribe_to_alerts(api: Api) -> None:
    async with api.websocket(ANALYST) as (ws, answer):
        assert answer["type"] == "connection_ack"
        await api.subscribe(ws, "subscription { alerts { id } }")
        message = await next_message(ws)
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert "needs the permission 'read:alerts'" in errors[0]["message"]


async def _consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in range(AUDIT_LOG.partitions)]
    if topic == ALERT_ACTIONS.name:
        partitions = [TopicPartition(topic, p) for p in range(ALERT_ACTIONS.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    return consumer


async def _audit_entries(bootstrap: str, actor: str) -> list[AuditEntry]:
    return [e for e in await audit_entries(bootstrap) if e.actor == actor]


async def test_sensitive_calls_and_changes_are_audited_and_attributed(
    api: Api, configured_kafka: str
) -> None:
    sub = f"officer-{RUN}"
    token = api.token(OFFICER, sub=sub)
    async with aiohttp.ClientSession() as http:
        for document in (
            '{ vehiclePassages(plate: "鄂A12345", purpose: "case 114: lost wallet") '
            "{ totalCount } }",
            'mutation { addWatchlistPlate(plate: "鄂B77777", category: STOLEN) { addedBy } }',
        ):
            async with http.post(
                api.url, json={"query": document}, headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                body = await resp.json()
                assert "errors" not in body, body
    assert body["data"]["addWatchlistPlate"]["addedBy"] == sub
    entries = await _audit_entries(configured_kafka, sub)
    lookup, change = sorted(entries, key=lambda e: e.at)
    assert (lookup.operation, lookup.actor_role) == ("vehicle_passages", "district_officer")
    assert lookup.purpose == "case 114: lost wallet"
    assert orjson.loads(lookup.arguments)["plate"] == "鄂A12345"
    assert lookup.client_address == "127.0.0.1"
    assert change.operation == "watchlist_plate.add"


async def test_officers_steps_are_attributed_and_kept_as_the_alerts_history(
    api: Api, configured_kafka: str
) -> None:
    target = HISTORY.alert_id
    sub = f"admin-{RUN}"
    token = api.token(ADMIN, sub=sub)
    status, body = await api.post(
        'mutation($id: ID!) { assignAlert(id: $id, to: "li.ming", note: "去看看") '
        "{ status assignedTo } }",
        {"id": target},
        token,
    )
    assert status == 200 and "errors" not in body, body
    assert body["data"]["assignAlert"] == {"status": "ACKNOWLEDGED", "assignedTo": "li.ming"}
    consumer = await _consumer(configured_kafka, ALERT_ACTIONS.name)
    try:
        async with asyncio.timeout(WAIT):
            steps = []
            while not steps:
                for messages in (await consumer.getmany(timeout_ms=200)).values():
                    steps += [orjson.loads(m.value) for m in messages]
                steps = [s for s in steps if s["alert_id"] == target]
    finally:
        await consumer.stop()
    [step] = steps
    assert (step["actor"], step["action"], step["assigned_to"], step["note"]) == (
        sub,
        "assign",
        "li.ming",
        "去看看",
    )
    _store_steps(api, [step])
    listed = await api.data(
        "query($id: ID!) { alert(id: $id) { history { action actor actorRole note assignedTo } } }",
        {"id": target},
        C01_OFFICER,
    )
    assert listed["alert"]["history"] == [
        {
            "action": "assign",
            "actor": sub,
            "actorRole": "district_admin",
            "note": "去看看",
            "assignedTo": "li.ming",
        }
    ]


def _store_steps(api: Api, steps: list[dict[str, Any]]) -> None:
    """What the worker's sink does with the alert-actions topic (no worker runs here)."""
    warehouse = api.context.warehouse
    rows = [
        AlertAction.model_validate(s).row() | {"kafka_partition": 0, "kafka_offset": i}
        for i, s in enumerate(steps)
    ]
    schema = warehouse.arrow_schema("alert_actions")
    warehouse.insert("alert_actions", pa.Table.from_pylist(rows, schema=schema))


async def test_switching_off_a_safety_rule_needs_the_district_admin(api: Api) -> None:
    document = (
        'mutation { setRuleSettings(communityId: "c01", rule: "perimeter_intrusion", '
        "params: {enabled: false}) { name } }"
    )
    refused = await api.errors(document, None, OFFICER)
    assert refused == [
        "setRuleSettings needs the permission 'edit:rule-settings', "
        "which the role 'district_officer' does not have"
    ]
    assert await api.data(document, None, ADMIN) == {
        "setRuleSettings": {"name": "perimeter_intrusion"}
    }


async def test_out_of_bounds_thresholds_are_refused_naming_the_bound(api: Api) -> None:
    errors = await api.errors(
        'mutation { setRuleSettings(communityId: "c01", rule: "cloned_plate", '
        "params: {suppress_minutes: 1e300}) { name } }"
    )
    assert errors == ["cloned_plate: suppress_minutes must be at most 10080 (got 1e+300)"]
    listed = await api.data(
        '{ ruleSettings(communityId: "c01") { name parameters { name minimum maximum } } }'
    )
    cloned = next(r for r in listed["ruleSettings"] if r["name"] == "cloned_plate")
    bounds = {p["name"]: (p["minimum"], p["maximum"]) for p in cloned["parameters"]}
    assert bounds["suppress_minutes"] == (0, 10080)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{ alerts(first: 500) { edges { node { id history { actor action } } } } }", None),
        (
            "{ " + " ".join(f"a{n}: alerts(first: 500) {{ totalCount }}" for n in range(20)) + " }",
            "20 aliases found. Allowed: 15",
        ),
        (
            "{ "
            + " ".join(f"a{n}: alerts(first: 500) {{ totalCount }}" for n in range(200))
            + " }",
            "Document contains more than 2000 tokens",
        ),
        (
            "{ alerts(first: 100000) { totalCount } }",
            "first must be between 1 and 500, got 100000",
        ),
    ],
)
async def test_query_limits(api: Api, document: str, message: str | None) -> None:
    body = await api.graphql(document)
    if message is None:
        assert "errors" not in body, body
    else:
        assert message in body["errors"][0]["message"], body


async def test_a_deep_query_is_refused_before_it_runs(
    warehouse: EmbeddedWarehouse, configured_kafka: str
) -> None:
    settings = api_settings(api_max_query_depth=3)
    async with running_api(warehouse, configured_kafka, settings) as shallow:
        body = await shallow.graphql("{ alerts { edges { node { evidence { eventId } } } } }")
    assert "exceeds maximum operation depth of 3" in body["errors"][0]["message"]


async def test_the_rate_limit_answers_429_with_retry_after(
    warehouse: EmbeddedWarehouse, configured_kafka: str
) -> None:
    settings = api_settings(api_rate_limit_per_minute=3)
    async with running_api(warehouse, configured_kafka, settings) as limited:
        token = limited.token(ANALYST)
        statuses = [
            (await limited.post("{ communities { id } }", None, token))[0] for _ in range(4)
        ]
        async with limited.http.post(
            limited.url,
            json={"query": "{ communities { id } }"},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            retry_after = int(resp.headers["Retry-After"])
        other = await limited.post("{ communities { id } }", None, limited.token(ADMIN))
    assert statuses == [200, 200, 200, 429]
    assert 1 <= retry_after <= 20
    assert other[0] == 200


async def test_introspection_graphiql_hosts_and_cors_follow_the_settings(
    warehouse: EmbeddedWarehouse, configured_kafka: str
) -> None:
    settings = api_settings(
        api_introspection=False,
        api_graphiql=False,
        api_cors_origins="https://console.police.example",
    )
    async with running_api(warehouse, configured_kafka, settings) as locked:
        body = await locked.graphql("{ __schema { types { name } } }")
        assert "introspection has been disabled" in body["errors"][0]["message"]
        async with locked.http.get(locked.url, headers={"Accept": "text/html"}) as resp:
            assert "graphiql" not in (await resp.text()).lower()
        async with locked.http.post(
            locked.url, json={"query": "{ communities { id } }"}, headers={"Host": "evil.example"}
        ) as resp:
            assert resp.status == 421
        preflight = {
            "Origin": "https://console.police.example",
            "Access-Control-Request-Method": "POST",
        }
        async with locked.http.options(locked.url, headers=preflight) as resp:
            assert resp.status == 204
            assert resp.headers["Access-Control-Allow-Origin"] == "https://console.police.example"
        async with locked.http.options(
            locked.url, headers=preflight | {"Origin": "https://evil.example"}
        ) as resp:
            assert "Access-Control-Allow-Origin" not in resp.headers
    assert Role.ANALYST.district_wide

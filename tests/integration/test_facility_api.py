"""The district's facilities and numbers through the police API: live counters on
communities, alert statistics, device health (listed and live) and parking, on a real chDB
holding rows of c01 and c02, and a real Kafka broker for the live alert feed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

import pytest

from graphql_api.access import Caller, Role
from graphql_api.context import ApiContext, CallContext
from graphql_api.facility_queries import district_midnight
from graphql_api.queries import WarehouseReader
from graphql_api.schema import build_schema
from pingan.platform.warehouse import EmbeddedWarehouse
from schemas.alerts import Alert, AlertStatus, AlertType, Severity, SubjectKind
from schemas.events import (
    AccessMethod,
    DeviceKind,
    DeviceTelemetry,
    Direction,
    DoorAccess,
    DoorKind,
    Event,
    PlateColour,
    VehiclePassage,
    utc_now,
)
from schemas.parking import ParkingSession, SessionStatus
from tests.integration.api_harness import (
    ADMIN,
    ANALYST,
    C01_MANAGER,
    C01_OFFICER,
    Api,
    Who,
    audit_entries,
    insert_records,
    next_message,
    prepared_warehouse,
    running_api,
)

pytestmark = pytest.mark.integration

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
D0 = district_midnight(utc_now() - 3 * DAY)
"""A past district-time day (16:00 UTC); the stored alerts were first seen on it and the next."""
ONLINE = {"online": 1.0, "uptime_s": 3600.0}
COUNTERS = """
{ communities { id openAlerts { critical high medium low } eventsToday devicesOffline } }
"""
STATS = """
query($bucket: StatsBucket!, $since: DateTime!, $until: DateTime, $groupBy: StatsGrouping!,
      $communityIds: [ID!]) {
  alertStats(bucket: $bucket, since: $since, until: $until, groupBy: $groupBy,
             communityIds: $communityIds) { bucketStart key count }
}
"""
DEVICES = """
query($communityIds: [ID!], $status: DeviceStatus, $kind: DeviceKind, $first: Int,
      $after: String) {
  devices(communityIds: $communityIds, status: $status, kind: $kind, first: $first,
          after: $after) {
    edges { node { id kind communityId controllerId lastHeard onlineMetric status } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""
PARKING = """
query($communityIds: [ID!], $plate: String, $status: ParkingSessionStatus, $since: DateTime,
      $first: Int, $after: String) {
  parkingSessions(communityIds: $communityIds, plate: $plate, status: $status, since: $since,
                  first: $first, after: $after) {
    edges { node { id communityId plate status fee } }
    pageInfo { hasNextPage endCursor }
    totalCount
    totalFee
  }
}
"""
DEVICE_HEALTH = """
subscription($communityIds: [ID!]) {
  deviceHealth(communityIds: $communityIds) { deviceId communityId status changedAt alertId }
}
"""


def _alert(
    alert_id: str,
    community: str,
    alert_type: AlertType,
    severity: Severity,
    first_seen: datetime,
    status: AlertStatus = AlertStatus.OPEN,
    version: int = 0,
) -> Alert:
    """Version n of an alert: a later updated_at, so FINAL keeps the highest version."""
    device = alert_type is AlertType.DEVICE_OFFLINE
    return Alert(
        alert_id=alert_id,
        alert_type=alert_type,
        severity=severity,
        status=status,
        community_id=community,
        subject_kind=SubjectKind.DEVICE if device else SubjectKind.COMMUNITY,
        subject=f"{community}-cam-9" if device else community,
        first_seen=first_seen,
        last_seen=first_seen,
        explanation=f"{alert_type} in {community}",
        raised_at=first_seen,
        updated_at=first_seen + version * MINUTE,
        source_received_at=first_seen,
        resolved_at=first_seen + HOUR if status is AlertStatus.RESOLVED else None,
    )


DEVICE_OFFLINE, STRAY_DOG = AlertType.DEVICE_OFFLINE, AlertType.STRAY_DOG
# A3 (acknowledged) and B2 (resolved) have two versions each: only the latest counts.
ALERTS = [
    _alert("A1", "c01", AlertType.WATCHLIST_PLATE, Severity.CRITICAL, D0 + 70 * MINUTE),
    _alert("A2", "c01", AlertType.CHARGING_OVERHEAT, Severity.HIGH, D0 + 100 * MINUTE),
    _alert("A3", "c01", DEVICE_OFFLINE, Severity.MEDIUM, D0 + 185 * MINUTE),
    _alert(
        "A3", "c01", DEVICE_OFFLINE, Severity.MEDIUM, D0 + 185 * MINUTE, AlertStatus.ACKNOWLEDGED, 1
    ),
    _alert("A4", "c01", STRAY_DOG, Severity.LOW, D0 + DAY + 120 * MINUTE, AlertStatus.RESOLVED),
    _alert("A5", "c01", AlertType.ROAMING_VEHICLE, Severity.HIGH, D0 + DAY + 150 * MINUTE),
    _alert("B1", "c02", AlertType.CLONED_PLATE, Severity.HIGH, D0 + 80 * MINUTE),
    _alert("B2", "c02", DEVICE_OFFLINE, Severity.HIGH, D0 + DAY + 135 * MINUTE),
    _alert(
        "B2", "c02", DEVICE_OFFLINE, Severity.HIGH, D0 + DAY + 135 * MINUTE, AlertStatus.RESOLVED, 1
    ),
]


def _telemetry(
    event_id: str,
    device: str,
    kind: DeviceKind,
    at: datetime,
    metrics: dict[str, float],
    community: str = "c01",
    controller: str = "",
) -> DeviceTelemetry:
    return DeviceTelemetry(
        event_id=event_id,
        community_id=community,
        occurred_at=at,
        received_at=at,
        device_id=device,
        device_kind=kind,
        metrics=metrics,
        controller_id=controller,
    )


def _passage(event_id: str, community: str, at: datetime) -> VehiclePassage:
    return VehiclePassage(
        event_id=event_id,
        community_id=community,
        occurred_at=at,
        received_at=at,
        plate="浙A12345",
        plate_colour=PlateColour.BLUE,
        direction=Direction.IN,
        gate_id="g1",
        camera_id="cam-g1",
        confidence=0.95,
    )


def _events(now: datetime) -> dict[str, list[Event]]:
    """Events by table, timed against `now` (the fixture's, just before the tests run)."""
    fresh = _telemetry("t4", "c01-cam-fresh", DeviceKind.CAMERA, now - 5 * SECOND, ONLINE)
    return {
        "device_telemetry": [
            _telemetry("t1", "c01-cam-silent", DeviceKind.CAMERA, now - 10 * MINUTE, ONLINE),
            _telemetry("t2", "c01-fence1", DeviceKind.FENCE_CONTROLLER, now - 3 * MINUTE, ONLINE),
            _telemetry(
                "t3", "c01-fence1", DeviceKind.FENCE_CONTROLLER, now - MINUTE, {"online": 0}
            ),
            fresh,
            fresh,  # a device's retry: one event
            _telemetry(
                "t5",
                "c01-shed1-s01",
                DeviceKind.CHARGING_SHED,
                now - 5 * SECOND,
                {"temperature_c": 31.5},
                controller="c01-shed1",
            ),
            _telemetry("t6", "c02-door1", DeviceKind.DOOR, now - 20 * MINUTE, ONLINE, "c02"),
            _telemetry("t7", "c01-cam-retired", DeviceKind.CAMERA, now - 40 * DAY, ONLINE),
        ],
        "vehicle_passages": [
            _passage("p1", "c01", now - 30 * MINUTE),
            _passage("p2", "c01", now - 2 * MINUTE),
            _passage("p3", "c02", now - 15 * MINUTE),
            _passage("p4", "c01", district_midnight(now) - MINUTE),  # yesterday
        ],
        "door_access": [
            DoorAccess(
                event_id="d1",
                community_id="c01",
                occurred_at=now - MINUTE,
                received_at=now - MINUTE,
                door_id="c01-b01-u1",
                door_kind=DoorKind.UNIT_DOOR,
                method=AccessMethod.CARD,
                granted=True,
            )
        ],
    }


def _session(
    session_id: str,
    community: str,
    plate: str,
    status: SessionStatus,
    started_at: datetime,
    fee_fen: int | None,
    revision: int = 1,
    is_deleted: bool = False,
) -> ParkingSession:
    closed = status is SessionStatus.CLOSED
    return ParkingSession(
        session_id=session_id,
        community_id=community,
        plate=plate,
        plate_colour=PlateColour.BLUE,
        status=status,
        started_at=started_at,
        entered_at=started_at,
        exited_at=started_at + HOUR if closed else None,
        fee_fen=fee_fen,
        reason="" if closed else "no exit yet",
        revision=revision,
        is_deleted=is_deleted,
    )


def _sessions(now: datetime) -> list[ParkingSession]:
    """S1 was open, then closed (revision 2 wins); S4 was retired by a late passage."""
    closed, open_ = SessionStatus.CLOSED, SessionStatus.OPEN
    return [
        _session("S1", "c01", "浙A11111", open_, now - 5 * HOUR, None),
        _session("S1", "c01", "浙A11111", closed, now - 5 * HOUR, 2000, revision=2),
        _session("S2", "c01", "浙A22222", open_, now - 2 * HOUR, None),
        _session("S3", "c01", "浙A11111", closed, now - 30 * HOUR, 800),
        _session("S4", "c01", "浙A33333", SessionStatus.EXIT_WITHOUT_ENTRY, now - 4 * HOUR, None),
        _session(
            "S4",
            "c01",
            "浙A33333",
            SessionStatus.EXIT_WITHOUT_ENTRY,
            now - 4 * HOUR,
            None,
            revision=2,
            is_deleted=True,
        ),
        _session("S5", "c02", "浙A11111", closed, now - 3 * HOUR, 999),
    ]


@dataclass(frozen=True)
class District:
    warehouse: EmbeddedWarehouse
    now: datetime
    events: dict[str, list[Event]]


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[District]:
    """After the broker is up (it takes a while), so fresh telemetry is still fresh."""
    data_dir = tmp_path_factory.mktemp("facility-api")
    with prepared_warehouse(data_dir) as warehouse:
        now = utc_now()
        events = _events(now)
        insert_records(warehouse, "alerts", ALERTS)
        for table, records in events.items():
            insert_records(warehouse, table, records)
        insert_records(warehouse, "parking_sessions", _sessions(now))
        yield District(warehouse, now, events)


@pytest.fixture(scope="module")
async def api(district: District, kafka_bootstrap: str) -> AsyncIterator[Api]:
    async with running_api(district.warehouse, kafka_bootstrap) as api:
        yield api


def _today(district: District) -> dict[str, int]:
    """Events since district midnight, a retried event once: what eventsToday must say."""
    midnight = district_midnight(utc_now())
    seen = {
        (e.community_id, e.event_id)
        for records in district.events.values()
        for e in records
        if e.occurred_at >= midnight
    }
    counts: dict[str, int] = {}
    for community, _ in seen:
        counts[community] = counts.get(community, 0) + 1
    return counts


def _counts(critical: int = 0, high: int = 0, medium: int = 0, low: int = 0) -> dict[str, int]:
    return {"critical": critical, "high": high, "medium": medium, "low": low}


# -- counters on communities ---------------------------------------------------------------


async def test_community_counters_count_current_alerts_todays_events_and_offline_devices(
    api: Api, district: District
) -> None:
    data = await api.data(COUNTERS)
    by_id = {c["id"]: c for c in data["communities"]}
    assert len(by_id) == 42
    today = _today(district)
    assert today["c01"] >= 3  # p2, d1 and the fresh telemetry are minutes old at most
    assert by_id["c01"] == {
        "id": "c01",
        "openAlerts": _counts(critical=1, high=2, medium=1),
        "eventsToday": today["c01"],
        "devicesOffline": 2,
    }
    assert by_id["c02"] == {
        "id": "c02",
        "openAlerts": _counts(high=1),
        "eventsToday": today["c02"],
        "devicesOffline": 1,
    }
    assert by_id["c03"] == {
        "id": "c03",
        "openAlerts": _counts(),
        "eventsToday": 0,
        "devicesOffline": 0,
    }


async def test_a_community_officer_lists_and_counts_only_their_community(api: Api) -> None:
    data = await api.data(COUNTERS, who=C01_OFFICER)
    assert [c["id"] for c in data["communities"]] == ["c01"]
    assert data["communities"][0]["openAlerts"] == _counts(critical=1, high=2, medium=1)


async def test_a_property_manager_counts_only_facility_alerts(api: Api) -> None:
    data = await api.data(COUNTERS, who=C01_MANAGER)
    [c01] = data["communities"]
    # not the watchlist plate (critical) nor the roaming vehicle (high): police matters
    assert c01["openAlerts"] == _counts(high=1, medium=1)
    assert c01["devicesOffline"] == 2


class CountingReader(WarehouseReader):
    """The API's own reader, remembering each query it sends to chDB."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.queries: list[str] = []

    async def rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.queries.append(sql)
        return await super().rows(sql, params)


class CountingApiContext(ApiContext):
    @cached_property
    def reader(self) -> WarehouseReader:
        return CountingReader(self.warehouse, self.read_limits)


@pytest.mark.parametrize(
    ("fields", "queries"),
    [
        ("openAlerts { critical high medium low } eventsToday devicesOffline", 3),
        ("openAlerts { high }", 1),
        ("eventsToday", 1),
        ("name", 0),
    ],
)
async def test_counters_of_all_42_communities_cost_one_query_per_counter(
    api: Api, fields: str, queries: int
) -> None:
    """The real schema and chDB, executed in-process so every query is counted."""
    context = CountingApiContext(
        warehouse=api.context.warehouse,
        publisher=api.context.publisher,
        alert_feed=api.context.alert_feed,
        communities=api.context.communities,
        read_limits=api.context.read_limits,
    )
    call = CallContext(
        api=context,
        client_address="test",
        known_caller=Caller(sub="admin", role=Role.DISTRICT_ADMIN, communities=None),
    )
    result = await build_schema(api.settings).execute(
        f"{{ communities {{ id {fields} }} }}", context_value=call
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    assert len(result.data["communities"]) == 42
    reader = context.reader
    assert isinstance(reader, CountingReader)
    assert len(reader.queries) == queries, reader.queries


# -- alertStats ----------------------------------------------------------------------------


def _stat(start: datetime, key: str, count: int) -> dict[str, Any]:
    return {"bucketStart": start.isoformat(), "key": key, "count": count}


async def _stats(api: Api, who: Who = ADMIN, **variables: Any) -> list[dict[str, Any]]:
    window = {"since": D0.isoformat(), "until": (D0 + 2 * DAY).isoformat()}
    data = await api.data(STATS, window | variables, who=who)
    return [s | {"bucketStart": _utc(s["bucketStart"])} for s in data["alertStats"]]


def _utc(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(D0.tzinfo).isoformat()


async def test_alert_stats_count_current_alerts_per_hour_and_community(api: Api) -> None:
    stats = await _stats(api, bucket="HOUR", groupBy="COMMUNITY")
    assert stats == [
        _stat(D0 + HOUR, "c01", 2),
        _stat(D0 + HOUR, "c02", 1),
        _stat(D0 + 3 * HOUR, "c01", 1),
        _stat(D0 + DAY + 2 * HOUR, "c01", 2),
        _stat(D0 + DAY + 2 * HOUR, "c02", 1),
    ]


async def test_alert_stats_per_district_day_and_type(api: Api) -> None:
    stats = await _stats(api, bucket="DAY", groupBy="TYPE")
    assert stats == [
        _stat(D0, "CHARGING_OVERHEAT", 1),
        _stat(D0, "CLONED_PLATE", 1),
        _stat(D0, "DEVICE_OFFLINE", 1),
        _stat(D0, "WATCHLIST_PLATE", 1),
        _stat(D0 + DAY, "DEVICE_OFFLINE", 1),
        _stat(D0 + DAY, "ROAMING_VEHICLE", 1),
        _stat(D0 + DAY, "STRAY_DOG", 1),
    ]
    window = await _stats(api, bucket="DAY", groupBy="TYPE", until=(D0 + 100 * MINUTE).isoformat())
    assert window == [_stat(D0, "CLONED_PLATE", 1), _stat(D0, "WATCHLIST_PLATE", 1)]


async def test_a_community_officers_stats_never_include_another_community(api: Api) -> None:
    assert await _stats(api, C01_OFFICER, bucket="DAY", groupBy="COMMUNITY") == [
        _stat(D0, "c01", 3),
        _stat(D0 + DAY, "c01", 2),
    ]
    by_type = await _stats(api, C01_OFFICER, bucket="DAY", groupBy="TYPE")
    assert "CLONED_PLATE" not in {s["key"] for s in by_type}
    errors = await api.errors(
        STATS,
        {"bucket": "DAY", "since": D0.isoformat(), "groupBy": "TYPE", "communityIds": ["c02"]},
        who=C01_OFFICER,
    )
    assert errors == ["unknown community id(s): c02"]


async def test_a_property_manager_and_an_analyst_see_what_their_roles_allow(api: Api) -> None:
    assert await _stats(api, C01_MANAGER, bucket="DAY", groupBy="TYPE") == [
        _stat(D0, "CHARGING_OVERHEAT", 1),
        _stat(D0, "DEVICE_OFFLINE", 1),
        _stat(D0 + DAY, "STRAY_DOG", 1),
    ]
    district_wide = await _stats(api, ANALYST, bucket="DAY", groupBy="COMMUNITY")
    assert {s["key"] for s in district_wide} == {"c01", "c02"}
    errors = await api.errors(DEVICES, who=ANALYST)
    assert errors == [
        "devices needs the permission 'read:devices', which the role 'analyst' does not have"
    ]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {
                "bucket": "HOUR",
                "since": "2026-01-01T00:00:00+08:00",
                "until": "2026-04-02T00:00:00+08:00",
            },
            "bucket HOUR covers at most 90 days (2,160 buckets); since..until spans 91.0 days: "
            "shorten it or use bucket DAY",
        ),
        (
            {
                "bucket": "DAY",
                "since": "2022-01-01T00:00:00+08:00",
                "until": "2026-01-01T00:00:00+08:00",
            },
            "bucket DAY covers at most 1096 days (1,096 buckets); since..until spans 1461.0 days: "
            "shorten it",
        ),
        (
            {"bucket": "DAY", "since": "2026-01-01T00:00:00"},
            "since must carry a timezone",
        ),
        (
            {"bucket": "DAY", "since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            "is after until",
        ),
        (
            {"bucket": "WEEK", "since": "2026-01-01T00:00:00Z"},
            "Value 'WEEK' does not exist in 'StatsBucket' enum",
        ),
    ],
)
async def test_alert_stats_refuse_unbounded_or_malformed_series(
    api: Api, variables: dict[str, Any], message: str
) -> None:
    [error] = await api.errors(STATS, {"groupBy": "TYPE"} | variables)
    assert message in error


# -- devices -------------------------------------------------------------------------------


def _nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


async def test_devices_health_from_their_telemetry(api: Api, district: District) -> None:
    first = (await api.data(DEVICES, {"communityIds": ["c01"], "first": 3}))["devices"]
    rest = (
        await api.data(
            DEVICES, {"communityIds": ["c01"], "first": 3, "after": first["pageInfo"]["endCursor"]}
        )
    )["devices"]
    assert (first["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasNextPage"]) == (True, False)
    assert first["totalCount"] == 4  # the retired camera, unheard for 40 days, is not listed
    devices = {d["id"]: d for d in _nodes(first) + _nodes(rest)}
    assert list(devices) == ["c01-cam-fresh", "c01-cam-silent", "c01-fence1", "c01-shed1-s01"]
    assert {d: v["status"] for d, v in devices.items()} == {
        "c01-cam-fresh": "ONLINE",
        "c01-cam-silent": "OFFLINE",  # silent for 10 min
        "c01-fence1": "OFFLINE",  # heard a minute ago, but its poller could not reach it
        "c01-shed1-s01": "ONLINE",
    }
    fence = devices["c01-fence1"]
    assert (fence["kind"], fence["onlineMetric"], fence["controllerId"]) == (
        "FENCE_CONTROLLER",
        0.0,
        None,
    )
    assert datetime.fromisoformat(fence["lastHeard"]) == district.now - MINUTE
    slot = devices["c01-shed1-s01"]
    assert (slot["kind"], slot["onlineMetric"], slot["controllerId"]) == (
        "CHARGING_SHED",
        None,
        "c01-shed1",
    )
    assert devices["c01-cam-fresh"]["onlineMetric"] == 1.0


async def test_devices_filter_by_status_and_kind_within_the_callers_communities(
    api: Api,
) -> None:
    offline = (await api.data(DEVICES, {"status": "OFFLINE"}))["devices"]
    assert [(d["communityId"], d["id"]) for d in _nodes(offline)] == [
        ("c01", "c01-cam-silent"),
        ("c01", "c01-fence1"),
        ("c02", "c02-door1"),
    ]
    cameras = (await api.data(DEVICES, {"kind": "CAMERA", "status": "ONLINE"}))["devices"]
    assert [d["id"] for d in _nodes(cameras)] == ["c01-cam-fresh"]
    own = (await api.data(DEVICES, {"status": "OFFLINE"}, who=C01_MANAGER))["devices"]
    assert [d["id"] for d in _nodes(own)] == ["c01-cam-silent", "c01-fence1"]
    assert own["totalCount"] == 2
    errors = await api.errors(DEVICES, {"communityIds": ["c02"]}, who=C01_OFFICER)
    assert errors == ["unknown community id(s): c02"]
    errors = await api.errors(DEVICES, {"after": "bm90IGEgY3Vyc29y"})
    assert "malformed cursor" in errors[0]


# -- parking -------------------------------------------------------------------------------


async def test_parking_sessions_with_the_total_fee_of_every_match(api: Api) -> None:
    everything = (await api.data(PARKING))["parkingSessions"]
    assert [n["id"] for n in _nodes(everything)] == ["S2", "S5", "S1", "S3"]
    assert everything["totalCount"] == 4  # S4 was retired
    assert Decimal(everything["totalFee"]) == Decimal("37.99")  # S1 in its latest revision

    plate = {"plate": " 浙a 111.11 ", "communityIds": ["c01"], "first": 1}
    page = (await api.data(PARKING, plate))["parkingSessions"]
    after = {"after": page["pageInfo"]["endCursor"]}
    rest = (await api.data(PARKING, plate | after))["parkingSessions"]
    assert [n["id"] for n in _nodes(page) + _nodes(rest)] == ["S1", "S3"]
    assert (page["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasNextPage"]) == (True, False)
    assert (page["totalCount"], Decimal(page["totalFee"])) == (2, Decimal("28.00"))
    assert _nodes(page)[0] == {
        "id": "S1",
        "communityId": "c01",
        "plate": "浙A11111",
        "status": "CLOSED",
        "fee": "20.00",
    }

    # S1 was open in its first revision: only its latest counts
    unpriced = (await api.data(PARKING, {"status": "OPEN"}))["parkingSessions"]
    assert [(n["id"], n["fee"]) for n in _nodes(unpriced)] == [("S2", None)]
    assert Decimal(unpriced["totalFee"]) == 0


async def test_a_property_manager_sees_parking_of_their_community_only(
    api: Api, district: District
) -> None:
    own = (await api.data(PARKING, who=C01_MANAGER))["parkingSessions"]
    assert [n["id"] for n in _nodes(own)] == ["S2", "S1", "S3"]
    assert Decimal(own["totalFee"]) == Decimal("28.00")
    recent = {"since": (district.now - 10 * HOUR).isoformat()}
    since = (await api.data(PARKING, recent, who=C01_MANAGER))["parkingSessions"]
    assert [n["id"] for n in _nodes(since)] == ["S2", "S1"]
    errors = await api.errors(PARKING, {"communityIds": ["c02"]}, who=C01_MANAGER)
    assert errors == ["unknown community id(s): c02"]
    errors = await api.errors(PARKING, who=ANALYST)
    assert "needs the permission 'read:parking'" in errors[0]


async def test_parking_lookups_are_audited(api: Api, kafka_bootstrap: str) -> None:
    """Sessions are a plate's comings and goings: each listing leaves an audit entry."""
    await api.data(PARKING, {"plate": "浙A22222", "status": "OPEN"}, who=C01_MANAGER)
    entries = [
        e
        for e in await audit_entries(kafka_bootstrap)
        if e.operation == "parking_sessions" and "浙A22222" in e.arguments
    ]
    assert [(e.actor, e.actor_role, e.community_ids, e.result_count) for e in entries] == [
        ("property_manager-c01", "property_manager", ["c01"], 1)
    ]


# -- deviceHealth --------------------------------------------------------------------------


async def test_device_health_follows_device_offline_alerts_of_the_callers_communities(
    api: Api,
) -> None:
    now = utc_now()
    c02_down = _alert("live-c02", "c02", DEVICE_OFFLINE, Severity.HIGH, now)
    plate = _alert("live-plate", "c01", AlertType.WATCHLIST_PLATE, Severity.CRITICAL, now)
    down = _alert("live-c01", "c01", DEVICE_OFFLINE, Severity.HIGH, now)
    acknowledged = _alert(
        "live-c01", "c01", DEVICE_OFFLINE, Severity.HIGH, now, AlertStatus.ACKNOWLEDGED, 1
    )
    back = _alert("live-c01", "c01", DEVICE_OFFLINE, Severity.HIGH, now, AlertStatus.RESOLVED, 2)
    feed = api.context.alert_feed
    async with api.websocket(C01_OFFICER) as (ws, answer):
        assert answer["type"] == "connection_ack", answer
        baseline = feed.subscriber_count
        await api.subscribe(ws, DEVICE_HEALTH)
        async with asyncio.timeout(30):
            while feed.subscriber_count <= baseline:
                await asyncio.sleep(0.02)
        async with feed.subscribe() as everything:
            await api.context.publisher.publish_many([c02_down, plate])
            await _seen(everything, {"live-c02", "live-plate"})
        await api.context.publisher.publish_many([down, acknowledged, back])
        received = [await next_message(ws), await next_message(ws)]
    assert [m["type"] for m in received] == ["next", "next"], received
    changes = [m["payload"]["data"]["deviceHealth"] for m in received]
    # the acknowledgement in between changed nothing, so it was not pushed
    assert [(c["deviceId"], c["communityId"], c["alertId"], c["status"]) for c in changes] == [
        ("c01-cam-9", "c01", "live-c01", "OFFLINE"),
        ("c01-cam-9", "c01", "live-c01", "ONLINE"),
    ]
    assert [datetime.fromisoformat(c["changedAt"]) for c in changes] == [
        down.first_seen,
        back.resolved_at,
    ]


async def _seen(feed: Any, alert_ids: set[str]) -> None:
    """Every subscriber has been offered these alerts once this one has."""
    pending = set(alert_ids)
    async with asyncio.timeout(30):
        async for alert in feed:
            pending.discard(alert.alert_id)
            if not pending:
                return

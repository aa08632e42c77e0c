"""The spine end to end on real parts: simulator/devices → Kafka → Faust → chDB → GraphQL."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime
from functools import partial
from pathlib import Path

import orjson
import pytest
import websockets
from aiokafka import AIOKafkaConsumer

from pingan.platform.consumer_groups import committed_total
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.warehouse import open_warehouse
from schemas.alerts import WatchlistPlate
from schemas.commands import CommandAction, CommandOutcome, DeviceCommand
from schemas.events import VehiclePassage, utc_now
from schemas.faces import BiometricSearch
from schemas.topics import ALERTS, AUDIT_TOPICS, DEAD_LETTERS, EVENT_TOPICS, VEHICLE_PASSAGES
from tests.conftest import (
    CATCH_UP_AFTER_SIGKILL_S,
    REPO,
    WorkerProcess,
    eventually,
    group_caught_up,
)

pytestmark = pytest.mark.integration

ALERTS_QUERY = """
query($filter: AlertFilter) {
  alerts(filter: $filter, first: 100) {
    edges { node { id type severity communityId subject firstSeen explanation
                   evidence { eventId eventKind occurredAt summary } } }
  }
}"""

_plates = itertools.count(10000)


def unique_plate() -> str:
    return f"浙T{next(_plates)}"


def passage(plate: str, community: str = "c07", **changes: object) -> VehiclePassage:
    now = utc_now()
    fields = {
        "event_id": f"test-{uuid.uuid4()}",
        "community_id": community,
        "occurred_at": now,
        "received_at": now,
        "plate": plate,
        "plate_colour": "blue",
        "direction": "in",
        "gate_id": f"{community}-gate-1",
        "camera_id": f"{community}-anpr-1",
        "confidence": 0.97,
    }
    return VehiclePassage(**(fields | changes))


async def publish(bootstrap: str, *records: object) -> None:
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(records)  # type: ignore[arg-type]


def alerts_for(worker: WorkerProcess, subject: str) -> list[dict]:
    reply = worker.graphql(ALERTS_QUERY, {"filter": {"types": ["WATCHLIST_PLATE"]}})
    assert "errors" not in reply, reply
    nodes = [edge["node"] for edge in reply["data"]["alerts"]["edges"]]
    return [n for n in nodes if n["subject"] == subject]


def test_simulator_incident_reaches_the_alerts_query(
    worker_process: WorkerProcess, kafka_bootstrap: str, tmp_path: Path
) -> None:
    worker_process.start()
    labels_path = tmp_path / "labels.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pingan.cli",
            "simulate",
            "--communities",
            "42",
            "--rate",
            "300",
            "--seed",
            "7",
            "--duration",
            "6",
            "--incident-every",
            "2",
            "--labels",
            str(labels_path),
        ],
        cwd=REPO,
        env={**os.environ, "KAFKA_BOOTSTRAP": kafka_bootstrap},
        check=True,
        capture_output=True,
        timeout=120,
    )
    labels = [orjson.loads(line) for line in labels_path.read_text().splitlines()]
    assert labels, "the simulator injected no watchlist incident"
    label = labels[0]

    alert = eventually(lambda: alerts_for(worker_process, label["subject"]), timeout=60)[0]

    assert alert["communityId"] == label["community_id"]
    assert alert["evidence"][0]["eventId"] == label["event_id"]
    assert alert["evidence"][0]["eventKind"] == "vehicle_passage"
    assert _same_instant(alert["firstSeen"], label["occurred_at"])
    assert alert["severity"] in {"CRITICAL", "HIGH", "MEDIUM"}
    assert label["subject"] in alert["explanation"]


def test_subscriber_receives_alert_over_graphql_transport_ws(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    worker_process.start()
    plate = unique_plate()
    asyncio.run(publish(kafka_bootstrap, _watchlisted(plate, "wanted")))
    received = asyncio.run(_subscribe_until_alert(worker_process, kafka_bootstrap, plate))
    assert received["subject"] == plate
    assert received["type"] == "WATCHLIST_PLATE"
    assert received["severity"] == "CRITICAL"
    assert received["communityId"] == "c07"


async def _subscribe_until_alert(worker: WorkerProcess, bootstrap: str, plate: str) -> dict:
    """Keep sending passages until the subscription delivers: no guess at when it is live."""
    url = f"ws://127.0.0.1:{worker.api_port}/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": {"authorization": worker.authorization}}
        await ws.send(orjson.dumps(init).decode())
        assert orjson.loads(await ws.recv())["type"] == "connection_ack"
        query = (
            "subscription($f: AlertFilter) { alerts(filter: $f) "
            "{ id type severity communityId subject } }"
        )
        subscribe = {"query": query, "variables": {"f": {"communityIds": ["c07"]}}}
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": subscribe}).decode())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            await publish(bootstrap, passage(plate))
            try:
                message = orjson.loads(await asyncio.wait_for(ws.recv(), timeout=1.0))
            except TimeoutError:
                continue
            assert message["type"] == "next", message
            alert = message["payload"]["data"]["alerts"]
            if alert["subject"] == plate:  # the backlog may raise other c07 alerts first
                return alert
    raise AssertionError(f"no alert for {plate} arrived on the subscription within 60 s")


def test_watchlist_addition_through_graphql_raises_alert(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    worker_process.start()
    plate = unique_plate()
    added = worker_process.graphql(
        "mutation($p: String!) { addWatchlistPlate(plate: $p, category: STOLEN, "
        'note: "reported stolen") { plate category } }',
        {"p": plate},
    )
    assert "errors" not in added, added

    def alerted() -> list[dict]:
        asyncio.run(publish(kafka_bootstrap, passage(plate)))
        return alerts_for(worker_process, plate)

    alert = eventually(alerted, timeout=60, interval=0.5)[0]
    assert alert["severity"] == "HIGH"
    assert "stolen" in alert["explanation"]


def test_bad_messages_go_to_dead_letters_while_good_ones_flow(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    worker_process.start()
    plate = unique_plate()
    good = [passage(plate) for _ in range(5)]
    future = passage(plate).model_dump(mode="json") | {"occurred_at": "2099-01-01T00:00:00Z"}
    stale = passage(plate).model_dump(mode="json") | {"occurred_at": "1970-01-01T00:00:00Z"}
    missing = passage(plate).model_dump(mode="json")
    del missing["direction"]
    bad: list[tuple[bytes, str]] = [
        (b"\x00\xffnot json at all", "not JSON"),
        (orjson.dumps(missing), "direction: Field required"),
        (
            orjson.dumps(passage(plate, community="c99").model_dump(mode="json")),
            "unknown community",
        ),
        (orjson.dumps(future), "in the future"),
        (orjson.dumps(stale), "past the 180 days its table keeps"),
    ]

    async def send() -> None:
        async with Publisher(kafka_bootstrap) as publisher:
            for record, (raw, _) in zip(good, bad, strict=False):
                await publisher.publish(record)
                await publisher.publish_raw(VEHICLE_PASSAGES, b"c07", raw)
            await publisher.publish(good[-1])

    asyncio.run(send())
    dead = asyncio.run(_read_dead_letters(kafka_bootstrap, expected=len(bad)))
    for (raw, reason), letter in zip(bad, dead, strict=True):
        assert letter.value == raw
        headers = dict(letter.headers)
        assert reason in headers["pingan-reason"].decode()
        assert headers["pingan-source-topic"].decode() == VEHICLE_PASSAGES.name

    passages_query = (
        'query($p: String) { vehiclePassages(plate: $p, purpose: "test") '
        "{ edges { node { id } } } }"
    )

    def good_ids() -> set[str]:
        reply = worker_process.graphql(passages_query, {"p": plate})
        return {e["node"]["id"] for e in reply["data"]["vehiclePassages"]["edges"]}

    eventually(lambda: good_ids() == {r.event_id for r in good}, timeout=60)
    eventually(lambda: group_caught_up(kafka_bootstrap, _group(worker_process), [DEAD_LETTERS]))
    worker_process.stop()
    rows = _query(worker_process, "SELECT hex(raw) AS raw FROM dead_letters ORDER BY source_offset")
    assert [r["raw"] for r in rows] == [raw.hex().upper() for raw, _ in bad]


def test_audit_records_land_in_their_tables(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    """Who searched a face and what Pingan did to a device stay answerable in SQL."""
    worker_process.start()
    run = uuid.uuid4().hex[:8]
    search = BiometricSearch(
        search_id=f"s-{run}",
        operator="officer-12",
        searched_at=utc_now(),
        reason="lost wallet, case 2026-311",
        image_sha256="ab" * 32,
        faces=1,
        matched_person_ids=["p-0042"],
        model_id="cd" * 32,
    )
    command = DeviceCommand(
        command_id=f"cmd-{run}",
        community_id="c07",
        device_id="c07-shed1",
        target_id="c07-shed1-s03",
        slot=3,
        action=CommandAction.STOP_CHARGING,
        reason_alert_id=f"a-{run}",
        requested_at=utc_now(),
        outcome=CommandOutcome.OK,
        executed_at=utc_now(),
    )
    asyncio.run(publish(kafka_bootstrap, search, command))
    eventually(lambda: group_caught_up(kafka_bootstrap, _group(worker_process), AUDIT_TOPICS), 60)
    worker_process.stop()

    searches = _query(
        worker_process,
        "SELECT operator, reason, matched_person_ids FROM biometric_searches "
        "WHERE search_id = {id:String}",
        {"id": search.search_id},
    )
    assert searches == [
        {"operator": "officer-12", "reason": search.reason, "matched_person_ids": ["p-0042"]}
    ]
    commands = _query(
        worker_process,
        "SELECT target_id, action, outcome FROM device_commands WHERE command_id = {id:String}",
        {"id": command.command_id},
    )
    assert commands == [{"target_id": "c07-shed1-s03", "action": "stop_charging", "outcome": "ok"}]


async def _read_dead_letters(bootstrap: str, expected: int) -> list:
    consumer = AIOKafkaConsumer(
        DEAD_LETTERS.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        letters: list = []
        deadline = time.monotonic() + 60
        while len(letters) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            letters += [m for messages in batches.values() for m in messages]
        return sorted(letters, key=lambda m: int(dict(m.headers)["pingan-source-offset"]))
    finally:
        await consumer.stop()


def test_worker_killed_mid_stream_loses_and_double_counts_nothing(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    plate_on_list = unique_plate()
    run = uuid.uuid4().hex[:8]
    events = [
        passage(plate_on_list if i % 50 == 0 else unique_plate(), event_id=f"kill-{run}-{i}")
        for i in range(20000)
    ]
    asyncio.run(publish(kafka_bootstrap, _watchlisted(plate_on_list, "attention"), *events))
    expected_sightings = sum(1 for e in events if e.plate == plate_on_list)

    worker_process.start()
    at_kill = eventually(lambda: _rows_committed(kafka_bootstrap, worker_process), timeout=60)
    worker_process.kill()
    assert at_kill < len(events), "the worker finished before it could be killed mid-stream"
    worker_process.start()
    topics = [*EVENT_TOPICS, ALERTS]
    caught_up = partial(group_caught_up, kafka_bootstrap, _group(worker_process), topics)
    eventually(caught_up, CATCH_UP_AFTER_SIGKILL_S)
    worker_process.stop()

    counts = _query(
        worker_process,
        "SELECT count() AS n, uniqExact(event_id) AS distinct_ids FROM vehicle_passages "
        "WHERE startsWith(event_id, {prefix:String})",
        {"prefix": f"kill-{run}-"},
    )[0]
    assert counts == {"n": len(events), "distinct_ids": len(events)}
    alerts = _query(
        worker_process,
        "SELECT count() AS n, any(count) AS sightings FROM alerts FINAL "
        "WHERE subject = {plate:String}",
        {"plate": plate_on_list},
    )[0]
    assert alerts == {"n": 1, "sightings": expected_sightings}


def _rows_committed(bootstrap: str, worker: WorkerProcess) -> int:
    return committed_total(bootstrap, _group(worker), [VEHICLE_PASSAGES])


def _watchlisted(plate: str, category: str) -> WatchlistPlate:
    return WatchlistPlate(plate=plate, category=category, note="", added_at=utc_now())


def _group(worker: WorkerProcess) -> str:
    return worker.env["PINGAN_WORKER_ID"]


def _query(worker: WorkerProcess, sql: str, params: dict | None = None) -> list[dict]:
    warehouse = open_warehouse(Settings(data_dir=worker.data_dir))
    try:
        return warehouse.query(sql, params)
    finally:
        warehouse.close()


def _same_instant(iso_a: str, iso_b: str) -> bool:
    def parse(s: str) -> datetime:
        return datetime.fromisoformat(s.replace("Z", "+00:00"))

    return parse(iso_a) == parse(iso_b)

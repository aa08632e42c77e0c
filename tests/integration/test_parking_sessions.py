"""Parking on real parts: passages → Kafka → worker → `parking_sessions` in chDB, across a
restart between entries and exits that wipes the worker's RocksDB and replays every
passage, so the open sessions can only come back from the changelog and any double
processing would show as extra rows."""

from __future__ import annotations

import asyncio
import random
import shutil
import uuid
from datetime import datetime, time, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from pingan.platform.consumer_groups import committed_total
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.warehouse import open_warehouse
from schemas.events import Direction, PlateColour, Record, VehiclePassage, utc_now
from schemas.parking import ParkingPass, ParkingSession, ParkingTariff
from schemas.reference import DISTRICT_TZ
from schemas.topics import PARKING_SESSIONS, VEHICLE_PASSAGES
from tests.conftest import WorkerProcess, eventually, group_caught_up

pytestmark = pytest.mark.integration

COMMUNITY = "c07"
DAY = (utc_now().astimezone(DISTRICT_TZ) - timedelta(days=1)).date()
TARIFF = ParkingTariff(
    community_id=COMMUNITY,
    day_rate_fen=600,
    night_rate_fen=300,
    daily_cap_fen=5000,
    max_open_hours=2,
    updated_at=utc_now(),
)


def at(hour: int, minute: int = 0) -> datetime:
    """Yesterday in the district, so the scenario is the same whatever the time of the run."""
    return datetime.combine(DAY, time(hour, minute), DISTRICT_TZ)


def plate() -> str:
    return f"浙P{random.randrange(10_000, 99_999)}"


def passage(plate: str, direction: str, when: datetime) -> VehiclePassage:
    return VehiclePassage(
        event_id=f"park-{uuid.uuid4()}",
        community_id=COMMUNITY,
        occurred_at=when,
        received_at=utc_now(),
        plate=plate,
        plate_colour=PlateColour.BLUE,
        direction=Direction(direction),
        gate_id=f"{COMMUNITY}-gate-1",
        camera_id=f"{COMMUNITY}-anpr-1",
        confidence=0.96,
    )


async def publish(bootstrap: str, records: list[Record]) -> None:
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(records)


def processed(bootstrap: str, worker: WorkerProcess) -> bool:
    """Passages committed (so their sessions are on the topic) and the sessions written."""
    group = worker.env["PINGAN_WORKER_ID"]
    return group_caught_up(bootstrap, group, [VEHICLE_PASSAGES, PARKING_SESSIONS])


async def rewind_passages(bootstrap: str, group: str) -> None:
    """Commit offset 0 for the stopped worker's group: the restart replays every passage."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(VEHICLE_PASSAGES.name, p) for p in range(6)]
        consumer.assign(partitions)
        await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in partitions})
    finally:
        await consumer.stop()


async def emitted_sessions(bootstrap: str) -> list[ParkingSession]:
    """Every session revision the worker sent, in order per partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(PARKING_SESSIONS.name, p) for p in range(6)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        received: list[ParkingSession] = []
        while any([await consumer.position(tp) < offset for tp, offset in end.items()]):
            batches = await consumer.getmany(timeout_ms=500)
            received += [
                ParkingSession.model_validate_json(m.value) for ms in batches.values() for m in ms
            ]
        return received
    finally:
        await consumer.stop()


def sessions(worker: WorkerProcess) -> list[dict]:
    warehouse = open_warehouse(Settings(data_dir=worker.data_dir))
    try:
        rows = warehouse.query(
            "SELECT * FROM parking_sessions FINAL "
            "WHERE community_id = {c:String} ORDER BY started_at, session_id, revision",
            {"c": COMMUNITY},
        )
    finally:
        warehouse.close()
    return [{k: v.decode() if isinstance(v, bytes) else v for k, v in r.items()} for r in rows]


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {row["session_id"]: row for row in rows}


def test_passages_become_sessions_across_a_restart_and_a_full_replay(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    a, b, c, d, e = (plate() for _ in range(5))
    a_in = passage(a, "in", at(9))
    b_out = passage(b, "out", at(9, 30))
    c_in = passage(c, "in", at(10, 45))
    d_in, d_in_again = passage(d, "in", at(10)), passage(d, "in", at(11, 30))
    monthly = ParkingPass(
        community_id=COMMUNITY,
        plate=c,
        valid_from=at(0) - timedelta(days=1),
        valid_until=at(0) + timedelta(days=30),
    )
    asyncio.run(publish(kafka_bootstrap, [TARIFF, monthly]))

    worker_process.start()
    asyncio.run(publish(kafka_bootstrap, [a_in, b_out, c_in, d_in, d_in_again]))
    eventually(lambda: processed(kafka_bootstrap, worker_process), timeout=120)
    worker_process.stop()

    before = by_id(sessions(worker_process))
    assert before[a_in.event_id]["status"] == "overdue"  # inside > 2 h by 11:30
    assert before[a_in.event_id]["fee_fen"] is None
    assert before[c_in.event_id]["status"] == "open"
    assert before[b_out.event_id]["status"] == "exit_without_entry"
    assert before[b_out.event_id]["reason"]
    assert before[d_in.event_id]["status"] == "entry_without_exit"
    assert before[d_in_again.event_id]["status"] == "open"

    shutil.rmtree(worker_process.data_dir / "faust")
    group = worker_process.env["PINGAN_WORKER_ID"]
    asyncio.run(rewind_passages(kafka_bootstrap, group))
    assert committed_total(kafka_bootstrap, group, [VEHICLE_PASSAGES]) == 0
    worker_process.start()
    a_out = passage(a, "out", at(12, 10))
    e_out, e_in = passage(e, "out", at(13)), passage(e, "in", at(12, 45))  # entry read late
    c_out = passage(c, "out", at(18))
    asyncio.run(publish(kafka_bootstrap, [a_out, e_out, e_in, c_out]))
    eventually(lambda: processed(kafka_bootstrap, worker_process), timeout=120)
    worker_process.stop()

    after = by_id(sessions(worker_process))
    closed = after[a_in.event_id]
    assert closed["status"] == "closed"
    assert closed["exit_event_id"] == a_out.event_id
    assert closed["duration_seconds"] == 3 * 3600 + 600
    assert closed["fee_fen"] == 3 * 600  # 09:30, 10:30, 11:30 started hours at c07's rate
    assert closed["tariff_id"] == COMMUNITY
    passed = after[c_in.event_id]
    assert (passed["status"], passed["fee_fen"], passed["monthly_pass"]) == ("closed", 0, True)
    assert after[e_in.event_id]["status"] == "closed"
    assert e_out.event_id not in after, "the orphan exit is retired once its entry arrives"
    assert after[d_in_again.event_id]["status"] == "overdue"

    emitted = asyncio.run(emitted_sessions(kafka_bootstrap))
    assert [s.revision for s in emitted if s.session_id == a_in.event_id] == [1, 2, 3]
    revisions = [(s.session_id, s.revision) for s in emitted]
    assert len(revisions) == len(set(revisions)), "a replayed passage emitted a session twice"

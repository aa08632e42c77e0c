"""The rule engine on real parts: state survives a SIGKILL, thresholds change at run time.

SIGKILL lands mid multi-day MLM window and mid cloned-plate pair.

The worker's local RocksDB is deleted after the kill, so the tables can only come back
from their changelog topics; each incident must still alert exactly once.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import uuid
from datetime import datetime, timedelta

import pytest

from pingan.platform.district import load_communities
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.warehouse import open_warehouse
from schemas.events import (
    BoundingBox,
    CameraAnalytics,
    CameraAnalyticsKind,
    DeviceKind,
    DeviceTelemetry,
    Direction,
    Event,
    FaceCapture,
    PlateColour,
    Record,
    VehiclePassage,
    utc_now,
)
from schemas.reference import RuleSettings, distance_km
from schemas.topics import ALERTS, EVENT_TOPICS, PASSAGES_BY_PLATE
from tests.conftest import CATCH_UP_AFTER_SIGKILL_S, WorkerProcess, eventually, group_caught_up

pytestmark = pytest.mark.integration

UNIT = "c03-b02-u1"
VISITORS = 16


def _unit_vector(rng: random.Random) -> list[float]:
    values = [rng.gauss(0.0, 1.0) for _ in range(128)]
    norm = sum(v * v for v in values) ** 0.5
    return [v / norm for v in values]


def _near(base: list[float], rng: random.Random) -> list[float]:
    values = [v + rng.gauss(0.0, 0.03) for v in base]
    norm = sum(v * v for v in values) ** 0.5
    return [round(v / norm, 5) for v in values]


def _capture(at: datetime, embedding: list[float]) -> FaceCapture:
    return FaceCapture(
        event_id=f"mlm-{uuid.uuid4()}",
        community_id=UNIT.split("-")[0],
        occurred_at=at,
        received_at=at,
        camera_id=f"{UNIT}-cam",
        embedding=embedding,
        quality=0.9,
        bbox=BoundingBox(x=10, y=10, width=120, height=140),
    )


def mlm_days(start: datetime, days: int, rng: random.Random) -> list[list[FaceCapture]]:
    """The same 16 strangers arrive at one unit door every morning around 09:00 local."""
    people = [_unit_vector(rng) for _ in range(VISITORS)]
    return [
        [
            _capture(start + timedelta(days=day, minutes=3 * n), _near(face, rng))
            for n, face in enumerate(people)
        ]
        for day in range(days)
    ]


def passage(plate: str, community: str, at: datetime) -> VehiclePassage:
    return VehiclePassage(
        event_id=f"clone-{uuid.uuid4()}",
        community_id=community,
        occurred_at=at,
        received_at=at,
        plate=plate,
        plate_colour=PlateColour.BLUE,
        direction=Direction.IN,
        gate_id=f"{community}-g1",
        camera_id=f"{community}-g1-anpr",
        confidence=0.97,
    )


def far_apart() -> tuple[str, str, float]:
    communities = load_communities()
    pairs = [(a, b) for a in communities for b in communities if a.community_id < b.community_id]
    a, b = max(pairs, key=lambda p: distance_km(p[0].lat, p[0].lon, p[1].lat, p[1].lon))
    return a.community_id, b.community_id, distance_km(a.lat, a.lon, b.lat, b.lon)


async def publish(bootstrap: str, events: list[Event]) -> None:
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(events)


def alerts_of(worker: WorkerProcess, alert_type: str, subject: str) -> list[dict]:
    warehouse = open_warehouse(Settings(data_dir=worker.data_dir))
    try:
        return warehouse.query(
            "SELECT alert_id, count, status FROM alerts FINAL "
            "WHERE alert_type = {t:String} AND subject = {s:String}",
            {"t": alert_type, "s": subject},
        )
    finally:
        warehouse.close()


def caught_up(bootstrap: str, worker: WorkerProcess) -> bool:
    group = worker.env["PINGAN_WORKER_ID"]
    return group_caught_up(bootstrap, group, [*EVENT_TOPICS, PASSAGES_BY_PLATE, ALERTS])


def test_state_recovers_from_changelogs_after_sigkill(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    rng = random.Random(7)
    now = utc_now()
    morning = (now - timedelta(days=3)).replace(hour=1, minute=0, second=0, microsecond=0)
    day_one, day_two, day_three = mlm_days(morning, 3, rng)
    plate = f"浙T{rng.randrange(10_000, 99_999)}"
    first, second, km = far_apart()
    gap = timedelta(hours=km / 240.0)  # twice the 120 km/h a car could manage
    seen_first = passage(plate, first, now - timedelta(minutes=30))
    seen_second = passage(plate, second, seen_first.occurred_at + gap)

    worker_process.start()
    asyncio.run(publish(kafka_bootstrap, [*day_one, *day_two, seen_first]))
    eventually(lambda: caught_up(kafka_bootstrap, worker_process), timeout=120)
    worker_process.kill()
    shutil.rmtree(worker_process.data_dir / "faust")

    worker_process.start()
    asyncio.run(publish(kafka_bootstrap, [*day_three, seen_second]))
    eventually(lambda: caught_up(kafka_bootstrap, worker_process), CATCH_UP_AFTER_SIGKILL_S)
    worker_process.stop()

    assert len(alerts_of(worker_process, "MLM_GATHERING", UNIT)) == 1
    (cloned,) = alerts_of(worker_process, "CLONED_PLATE", plate)
    assert cloned["count"] == 1


def sighting(community: str, camera: str, at: datetime) -> CameraAnalytics:
    return CameraAnalytics(
        event_id=f"dog-{uuid.uuid4()}",
        community_id=community,
        occurred_at=at,
        received_at=at,
        camera_id=camera,
        analytics_kind=CameraAnalyticsKind.STRAY_DOG,
        snapshot_refs=["snapshots/dog.jpg"],
        confidence=0.9,
    )


def test_thresholds_change_at_run_time_per_community(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    """c05 lowers the stray-dog threshold to one sighting while the worker runs; c06 keeps 3."""
    worker_process.start()
    settings = RuleSettings(
        community_id="c05",
        rules={"stray_dog": {"min_sightings": 1}},
        updated_by="test",
        updated_at=utc_now(),
    )
    asyncio.run(publish_records(kafka_bootstrap, [settings]))
    now = utc_now()
    for n in range(2):
        at = now - timedelta(minutes=30 - 10 * n)
        asyncio.run(
            publish(
                kafka_bootstrap,
                [sighting("c05", f"c05-pub{n + 1}", at), sighting("c06", f"c06-pub{n + 1}", at)],
            )
        )
        eventually(lambda: caught_up(kafka_bootstrap, worker_process), timeout=60)
    worker_process.stop()

    assert len(alerts_of(worker_process, "STRAY_DOG", "c05")) == 1
    assert alerts_of(worker_process, "STRAY_DOG", "c06") == []


async def publish_records(bootstrap: str, records: list[Record]) -> None:
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(records)


def heartbeat(device: str, at: datetime) -> DeviceTelemetry:
    return DeviceTelemetry(
        event_id=f"hb-{uuid.uuid4()}",
        community_id=device.split("-")[0],
        occurred_at=at,
        received_at=at,
        device_id=device,
        device_kind=DeviceKind.FENCE_CONTROLLER,
        metrics={"online": 1.0},
    )


def test_outage_inside_one_backlog_batch_still_alerts_and_resolves(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    """A backlog replays hours in one batch: absence rules must still see the 10-min gap."""
    start = utc_now() - timedelta(hours=2)
    beats = [start + timedelta(minutes=2 * n) for n in range(60) if not 20 <= 2 * n < 30]
    silent, steady = "c08-fz1-ctl", "c08-fz2-ctl"
    events: list[Event] = [heartbeat(silent, at) for at in beats]
    events += [heartbeat(steady, start + timedelta(minutes=2 * n)) for n in range(60)]
    asyncio.run(publish(kafka_bootstrap, sorted(events, key=lambda e: e.occurred_at)))

    worker_process.start()
    eventually(lambda: caught_up(kafka_bootstrap, worker_process), timeout=120)
    worker_process.stop()

    (outage,) = alerts_of(worker_process, "DEVICE_OFFLINE", silent)
    assert outage["status"] == "resolved"
    assert alerts_of(worker_process, "DEVICE_OFFLINE", steady) == []

"""DEVICE_OFFLINE on a real worker: what is one outage, and what is none.

A platform outage is not every device's outage. Three fence controllers report every
minute; then the stream carries nothing for half an hour (ingest down). When telemetry
resumes, device b is heard 30 s after device a, by which time the watermark has leapt over
b's last heartbeat by far more than the 5-min limit. The second dark stretch falls while the
worker is stopped too, so the stream's clock must resume from the devices' states. Device c
went quiet before the first stretch and is really offline.

A charging shed is read through its controller: when it stops answering, its 16 slots fall
silent with it, and that is one outage of the controller.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.warehouse import open_warehouse
from schemas.events import (
    AccessMethod,
    DeviceKind,
    DeviceTelemetry,
    DoorAccess,
    DoorKind,
    Event,
    utc_now,
)
from schemas.topics import ALERTS, EVENT_TOPICS
from tests.conftest import WorkerProcess, eventually, group_caught_up

pytestmark = pytest.mark.integration

A, B, C = "c08-gap-a", "c08-gap-b", "c08-gap-c"
START = utc_now().replace(microsecond=0) - timedelta(hours=3)


def beat(
    device: str,
    minute: float,
    start: datetime = START,
    kind: DeviceKind = DeviceKind.FENCE_CONTROLLER,
    controller: str = "",
) -> DeviceTelemetry:
    at = start + timedelta(minutes=minute)
    return DeviceTelemetry(
        event_id=f"{device}@{minute}",
        community_id="c08",
        occurred_at=at,
        received_at=at,
        device_id=device,
        device_kind=kind,
        metrics={"online": 1.0},
        controller_id=controller,
    )


def reporting(first: int, last: int, silent: frozenset[str] = frozenset()) -> list[Event]:
    """a on the minute, b half a minute later (so the last word before a dark stretch is
    b's, and the first after it a's), c on the minute unless silent."""
    events: list[Event] = []
    for minute in range(first, last + 1):
        events.append(beat(A, minute))
        events.append(beat(B, minute + 0.5))
        if C not in silent:
            events.append(beat(C, minute))
    return sorted(events, key=lambda e: e.occurred_at)


async def publish(bootstrap: str, events: list[Event]) -> None:
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(events)


def run_worker_over_backlog(worker: WorkerProcess, bootstrap: str) -> None:
    group = worker.env["PINGAN_WORKER_ID"]
    worker.start()
    eventually(lambda: group_caught_up(bootstrap, group, [*EVENT_TOPICS, ALERTS]), timeout=120)
    worker.stop()


def query(worker: WorkerProcess, sql: str) -> list[dict]:
    warehouse = open_warehouse(Settings(data_dir=worker.data_dir))
    try:
        return warehouse.query(sql)
    finally:
        warehouse.close()


def offline_alerts(worker: WorkerProcess) -> dict[str, dict]:
    rows = query(
        worker,
        "SELECT subject, status, first_seen, explanation FROM alerts FINAL "
        "WHERE alert_type = 'DEVICE_OFFLINE' AND community_id = 'c08'",
    )
    return {row["subject"]: row for row in rows}


def as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=START.tzinfo)


def test_a_late_buffered_upload_resolves_its_outage_and_raises_no_other(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    """A device cut off from the network keeps its heartbeats and uploads them when it is
    back: minutes behind the watermark. Its outage was real and is alerted once, while its
    neighbour reports on; the upload resolves it. Each buffered heartbeat moved the device's
    wake-up to a time already past, and that wake-up fired before the next buffered heartbeat
    was read: one more outage per heartbeat, each resolved before it began. (Runs first in
    the module, before START: the partition's clock must not stand past these events.)"""
    start = START - timedelta(minutes=70)
    live, cut_off = "c08-late-live", "c08-late-cut"

    def beats(device: str, minutes: range) -> list[Event]:
        return [beat(device, m, start) for m in minutes]

    until_back = sorted(beats(live, range(21)) + beats(cut_off, range(6)), key=at)
    buffered = beats(cut_off, range(6, 20))
    after = sorted(beats(live, range(21, 31)) + beats(cut_off, range(20, 31)), key=at)
    asyncio.run(publish(kafka_bootstrap, [*until_back, *buffered, *after]))
    run_worker_over_backlog(worker_process, kafka_bootstrap)

    rows = query(
        worker_process,
        "SELECT subject, status, first_seen, resolved_at FROM alerts FINAL "
        f"WHERE alert_type = 'DEVICE_OFFLINE' AND subject IN ('{live}', '{cut_off}')",
    )
    assert [(r["subject"], r["status"]) for r in rows] == [(cut_off, "resolved")], rows
    outage = rows[0]
    assert as_utc(outage["first_seen"]) == start + timedelta(minutes=5 + 5, milliseconds=1)
    assert as_utc(outage["resolved_at"]) >= as_utc(outage["first_seen"])


def test_devices_heard_again_after_platform_outages_never_go_offline(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    before = reporting(0, 7) + reporting(8, 10, silent=frozenset({C}))
    after_first_dark = reporting(40, 50, silent=frozenset({C}))
    asyncio.run(publish(kafka_bootstrap, before + after_first_dark))
    run_worker_over_backlog(worker_process, kafka_bootstrap)

    alerts = offline_alerts(worker_process)
    assert set(alerts) & {A, B, C} == {C}
    assert alerts[C]["status"] == "open"
    dark = timedelta(minutes=40 - 10.5)
    expected = START + timedelta(minutes=7 + 5, milliseconds=1) + dark
    assert as_utc(alerts[C]["first_seen"]) == expected
    assert "not counting 29 min in which the platform heard no device" in alerts[C]["explanation"]

    after_second_dark = [*reporting(80, 90, silent=frozenset({C})), beat(C, 85)]
    asyncio.run(publish(kafka_bootstrap, sorted(after_second_dark, key=lambda e: e.occurred_at)))
    run_worker_over_backlog(worker_process, kafka_bootstrap)

    alerts = offline_alerts(worker_process)
    assert set(alerts) & {A, B, C} == {C}
    assert alerts[C]["status"] == "resolved"


def test_an_unreachable_shed_is_one_outage_of_its_controller(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    start, shed = START + timedelta(hours=2), "c08-gap-shed"
    slots = [f"{shed}-s{n:02d}" for n in range(1, 17)]
    readings = [
        beat(slot, minute, start, DeviceKind.CHARGING_SHED, controller=shed)
        for minute in range(4)
        for slot in slots
    ]
    readings += [beat(shed, minute, start, DeviceKind.CHARGING_SHED) for minute in range(4)]
    neighbour = [beat("c08-gap-door", minute, start, DeviceKind.DOOR) for minute in range(15)]
    events = sorted([*readings, *neighbour], key=lambda e: e.occurred_at)
    asyncio.run(publish(kafka_bootstrap, events))
    run_worker_over_backlog(worker_process, kafka_bootstrap)

    shed_alerts = {s: a for s, a in offline_alerts(worker_process).items() if shed in s}
    assert list(shed_alerts) == [shed]
    assert as_utc(shed_alerts[shed]["first_seen"]) == start + timedelta(minutes=8, milliseconds=1)
    assert shed_alerts[shed]["explanation"].startswith(f"Charging shed {shed} has sent no")
    stored = query(
        worker_process,
        f"SELECT controller_id, count() AS n FROM device_telemetry "
        f"WHERE startsWith(device_id, '{shed}-s') GROUP BY controller_id",
    )
    assert stored == [{"controller_id": shed, "n": 16 * 4}]


def test_another_topic_ahead_while_catching_up_is_not_the_platform_going_dark(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    """Each topic has its own agent, and catching up a backlog they run at their own pace:
    door access on a device's partition may be read minutes ahead of its telemetry. Taken
    for the platform's silence, that lead postponed a real outage (in `make chaos` a smoke
    detector's came 4 minutes late, outside its incident, after a worker restart).

    The telemetry of a and b to minute 10 is read first; then door access from minute 14;
    then b's telemetry on to minute 30, while a stays silent from minute 10."""
    start = START + timedelta(hours=2, minutes=30)
    a, b = "c08-lag-a", "c08-lag-b"

    def beats(device: str, minutes: range) -> list[Event]:
        return [beat(device, m, start) for m in minutes]

    asyncio.run(publish(kafka_bootstrap, sorted(beats(a, range(11)) + beats(b, range(11)), key=at)))
    run_worker_over_backlog(worker_process, kafka_bootstrap)
    ahead = [door_access("c08-lag-door", start + timedelta(minutes=14 + m / 2)) for m in range(33)]
    asyncio.run(publish(kafka_bootstrap, ahead))
    run_worker_over_backlog(worker_process, kafka_bootstrap)
    asyncio.run(publish(kafka_bootstrap, beats(b, range(11, 31))))
    run_worker_over_backlog(worker_process, kafka_bootstrap)

    alerts = offline_alerts(worker_process)
    assert set(alerts) & {a, b} == {a}
    assert as_utc(alerts[a]["first_seen"]) == start + timedelta(minutes=10 + 5, milliseconds=1)
    assert "not counting" not in alerts[a]["explanation"]


def at(event: Event) -> datetime:
    return event.occurred_at


def door_access(door: str, when: datetime) -> DoorAccess:
    return DoorAccess(
        event_id=f"{door}@{when:%H%M%S}",
        community_id="c08",
        occurred_at=when,
        received_at=when,
        door_id=door,
        door_kind=DoorKind.UNIT_DOOR,
        method=AccessMethod.CARD,
        person_id=None,
        granted=True,
    )

"""Rule workers that scale across processes: two, then one after a SIGKILL, then three.

Rule workers (`pingan worker --role rules`) share one consumer group and own the event
partitions between them; their rule state lives in changelog topics and follows the
partitions. One sink (`--role sink`) writes ClickHouse in a group of its own and serves the
API. Watchlisted plates, each seen again and again in its own community, are the labelled
incidents: a rule state lost in a hand-over would raise a second alert for a plate or
restart its count, and a batch lost or replayed into ClickHouse would show in the rows.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from pingan.platform.consumer_groups import group_lag, group_offsets
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings, kafka_security
from pingan.platform.stack.kafka import free_port
from pingan.platform.warehouse import open_warehouse
from schemas.alerts import WatchlistCategory, WatchlistPlate
from schemas.events import Direction, PlateColour, VehiclePassage, utc_now
from schemas.topics import (
    ALERTS,
    ALERTS_BY_PLATE,
    EVENT_TOPICS,
    PASSAGES_BY_PLATE,
    VEHICLE_PASSAGES,
)
from tests.conftest import CATCH_UP_AFTER_SIGKILL_S, WorkerProcess, eventually

SESSION_TIMEOUT_S = 10
"""A killed rule worker's partitions move once its session lapses: short here, so the test
spends its time on the hand-over, not on waiting for it."""
RULE_TOPICS = [*EVENT_TOPICS, PASSAGES_BY_PLATE, ALERTS, ALERTS_BY_PLATE]
SINK_TOPICS = [*EVENT_TOPICS, ALERTS]
COMMUNITIES = [f"c{n:02d}" for n in range(1, 43)]
SIGHTING_EVERY = 40


class RoleWorker(WorkerProcess):
    """`pingan worker --role …` in the group `group` (a sink's is `<group>-sink`)."""

    def __init__(self, bootstrap: str, data_dir: Path, group: str, role: str) -> None:
        super().__init__(bootstrap, data_dir, free_port())
        self.role = role
        self.command = ["-m", "pingan.cli", "worker", "--role", role]
        self.env["PINGAN_WORKER_ID"] = group
        self.env["PINGAN_KAFKA_SESSION_TIMEOUT_SECONDS"] = str(SESSION_TIMEOUT_S)

    def wait_ready(self, timeout: float) -> None:
        """A sink answers /healthz; a rules worker serves nothing, and says it is ready."""
        if self.role == "sink":
            super().wait_ready(timeout)
            return

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"rules worker exited early:\n{self.log_tail()}")
            return "[^Worker]: Ready" in self.log_path.read_text(errors="replace")

        eventually(ready, timeout)


def group_members(bootstrap: str, group: str) -> int:
    """Members of a stable group (0 while it rebalances)."""

    async def describe() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_security())
        await admin.start()
        try:
            (response,) = await admin.describe_consumer_groups([group])
        finally:
            await admin.close()
        (_error, _group, state, _protocol_type, _protocol, members, *_rest) = response.groups[0]
        return len(members) if state == "Stable" else 0

    return asyncio.run(describe())


def every_passage_partition_committed(bootstrap: str, group: str) -> bool:
    """Both rule workers have handled (and committed) passages of their partitions: the
    second's rule state is in the changelogs when it is killed."""
    committed, end = asyncio.run(group_offsets(bootstrap, group, [VEHICLE_PASSAGES]))
    return all(committed.get(tp, 0) > 0 for tp, offset in end.items() if offset > 0)


def plate_of(community: str, run: str) -> str:
    return f"苏S{run[:2].upper()}{COMMUNITIES.index(community):03d}"


def passages(run: str, start: int, count: int, rng: random.Random) -> list[VehiclePassage]:
    """Every SIGHTING_EVERY-th passage is a watchlisted plate at its own community's gate."""
    now = utc_now()
    made = []
    for i in range(start, start + count):
        community = rng.choice(COMMUNITIES)
        watched = i % SIGHTING_EVERY == 0
        made.append(
            VehiclePassage(
                event_id=f"scale-{run}-{i}",
                community_id=community,
                occurred_at=now,
                received_at=now,
                plate=plate_of(community, run) if watched else f"浙Q{rng.randrange(10**5):05d}",
                plate_colour=PlateColour.BLUE,
                direction=Direction.IN,
                gate_id=f"{community}-gate-1",
                camera_id=f"{community}-anpr-1",
                confidence=0.97,
            )
        )
    return made


async def publish(bootstrap: str, records: list) -> None:
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(records)


def caught_up(bootstrap: str, group: str) -> bool:
    return (
        group_lag(bootstrap, group, RULE_TOPICS) == 0
        and group_lag(bootstrap, f"{group}-sink", SINK_TOPICS) == 0
    )


@pytest.fixture
def group() -> str:
    return f"pingan-scale-{uuid.uuid4().hex[:8]}"


def test_rule_workers_hand_over_partitions_on_sigkill_and_on_joining(
    kafka_bootstrap: str, tmp_path: Path, group: str
) -> None:
    run = uuid.uuid4().hex[:8]
    rng = random.Random(16)
    sink = RoleWorker(kafka_bootstrap, tmp_path / "sink", group, "sink")
    first, second, third = (
        RoleWorker(kafka_bootstrap, tmp_path / f"rules-{n}", group, "rules") for n in (1, 2, 3)
    )
    for worker in (sink, first, second, third):
        worker.data_dir.mkdir()
    watchlist = [
        WatchlistPlate(
            plate=plate_of(c, run), category=WatchlistCategory.STOLEN, note="", added_at=utc_now()
        )
        for c in COMMUNITIES
    ]
    before, after = passages(run, 0, 8000, rng), passages(run, 8000, 6000, rng)
    try:
        sink.start()
        first.start()
        second.start()
        eventually(lambda: group_members(kafka_bootstrap, group) == 2, timeout=60)
        asyncio.run(publish(kafka_bootstrap, [*watchlist, *before]))
        eventually(lambda: every_passage_partition_committed(kafka_bootstrap, group), timeout=90)
        second.kill()
        third.start()
        asyncio.run(publish(kafka_bootstrap, after))
        eventually(lambda: caught_up(kafka_bootstrap, group), CATCH_UP_AFTER_SIGKILL_S)
        assert group_members(kafka_bootstrap, group) == 2, "the first and third share the work"
    finally:
        for worker in (first, second, third, sink):
            worker.stop()

    events = [*before, *after]
    rows, alerts = stored(sink.data_dir, run)
    assert rows == {"n": len(events), "distinct_ids": len(events)}
    sightings = {plate_of(c, run): 0 for c in COMMUNITIES}
    for event in events:
        if event.plate in sightings:
            sightings[event.plate] += 1
    assert {a["subject"]: (a["n"], a["sightings"]) for a in alerts} == {
        plate: (1, seen) for plate, seen in sightings.items()
    }, "each watchlisted plate raised one alert, counting every sighting once"


def stored(data_dir: Path, run: str) -> tuple[dict, list[dict]]:
    warehouse = open_warehouse(Settings(data_dir=data_dir))
    try:
        rows = warehouse.query(
            "SELECT count() AS n, uniqExact(event_id) AS distinct_ids FROM vehicle_passages "
            "WHERE startsWith(event_id, {prefix:String})",
            {"prefix": f"scale-{run}-"},
        )[0]
        alerts = warehouse.query(
            "SELECT subject, count() AS n, any(count) AS sightings FROM alerts FINAL "
            "WHERE alert_type = 'WATCHLIST_PLATE' AND startsWith(subject, {p:String}) "
            "GROUP BY subject",
            {"p": f"苏S{run[:2].upper()}"},
        )
    finally:
        warehouse.close()
    return rows, alerts

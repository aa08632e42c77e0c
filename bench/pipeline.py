"""Pipeline benchmark: the worker with every rule on against its walking skeleton and a plain
aiokafka → chDB consumer, on one backlog, in one run.

`make bench` starts its own Kafka broker (temp dir, free ports) and publishes with the
Publisher the district's reference data (residents, vehicles, devices, bracelets,
watchlists), then a backlog drawn from the district simulator's everyday mix (device
heartbeats and every other event kind, in the current hour's proportions) stamped over the
past few minutes, with the simulator's watchlist incidents at a known share. On that
backlog it measures:

- baseline: an aiokafka consumer group that decodes each message, builds the sink's Arrow
  batch, inserts it with the same warehouse code and commits after each insert (no Faust);
- skeleton: `pingan worker --no-api` with every rule but `watchlist_plate` disabled through
  the rule-settings topic: the walking skeleton (sinks + one rule);
- all rules: the same worker with the settings record removed, in a fresh consumer group
  and data dir. The target is all rules ≥ 70% of the skeleton's throughput;
- scale-out: two `pingan worker --role rules` and one `--role sink` on the same backlog,
  from the first commit of either group until both have covered it, with each process's
  CPU: `2 rule workers / 1 worker` against the all-rules worker.

Each worker starts on emptied alert, dead-letter and re-keyed passage topics, so it reads
only what it wrote itself. Throughput is read from each consumer group's committed offsets,
from its first commit to the one that covers the backlog, so start-up is reported apart.
Latency under a backlog is queueing, so it is measured next, with every rule on: the
caught-up worker gets the district at real time at 25%, 50% and 75% of the capacity it just
showed (`--curve`), and probe passages (plates watchlisted for this, each used once) give
p50/p99 of event → alert and of event → feed (an `AlertFeed`, the API's source for
subscriptions, in this process); the district's own fence alarms give their worst case.
Last, catch-up: the district's last `--catch-up-minutes` at its mean volume, published as one
backlog on emptied event topics, as after an outage, and drained by a fresh worker with every
rule on, printed as hours of district time per minute. Figures are printed and written to
bench/results/pipeline-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import pstats
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.errors import CoordinatorLoadInProgressError, CoordinatorNotAvailableError

from graphql_api.feed import AlertFeed
from ingest.simulator import District, SimClock, Simulator
from pingan.platform.provision import create_topics, prepare_warehouse
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.stack import kafka
from pingan.platform.warehouse import Warehouse, open_warehouse
from schemas.alerts import Alert, AlertType, WatchlistCategory, WatchlistPlate
from schemas.codec import decode
from schemas.events import (
    Event,
    PerimeterAlarm,
    PerimeterAlarmKind,
    Record,
    VehiclePassage,
    utc_now,
)
from schemas.reference import DISTRICT_DEFAULT, RuleSettings
from schemas.topics import (
    ALERTS,
    ALERTS_BY_PLATE,
    DEAD_LETTERS,
    EVENT_TOPICS,
    PASSAGES_BY_PLATE,
    RULE_SETTINGS,
    Topic,
)
from streams.rules.catalogue import all_rules
from streams.rules.watchlist_plate import WatchlistPlateRule

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
EVENT_TABLES = [str(t.table) for t in EVENT_TOPICS]
WORKER_OUTPUTS = (ALERTS, DEAD_LETTERS, PASSAGES_BY_PLATE, ALERTS_BY_PLATE)
BASELINE_GROUP = "pingan-bench-baseline"
FLOOR_GROUP = "pingan-bench-faust-floor"
TOPICS_BY_NAME = {t.name: t for t in EVENT_TOPICS}
SKELETON_RULE = WatchlistPlateRule.name
ALL_VS_SKELETON_TARGET = 0.70
DISTRICT_MEAN_EVENTS_PER_SECOND = 250
"""A district's mean volume: a quarter of its rush-hour peak of about 1,000 events/s, as the
README's city arithmetic takes it (device heartbeats alone are about 95/s)."""
KEPT_SETTINGS = frozenset({"PINGAN_CACHE_DIR", "PINGAN_KAFKA_VERSION"})
PROBE_PREFIX = "浙Z"
"""Probe plates: the simulator's city letters stop at K, so no district plate starts so."""
POLL_SECONDS = 0.2
TICK_SECONDS = 0.02
WAIT_TIMEOUT = 180.0
HOT_SPOTS = 12
IDLE_WAIT = "<method 'poll' of 'select.epoll' objects>"
WATCHLIST_SIGHTINGS_SQL = """
SELECT sum(count) AS n FROM alerts FINAL WHERE alert_type = {alert_type:String}
"""
ALERTS_BY_TYPE_SQL = """
SELECT alert_type, count() AS n FROM alerts FINAL GROUP BY alert_type ORDER BY alert_type
"""
LATENCY_SQL = """
SELECT count() AS alerts,
       quantileExact(0.5)(ms) AS p50_ms,
       quantileExact(0.99)(ms) AS p99_ms,
       max(ms) AS max_ms
FROM (
    SELECT dateDiff('millisecond', source_received_at, raised_at) AS ms
    FROM alerts FINAL
    WHERE alert_type = {alert_type:String} AND startsWith(subject, {prefix:String})
)
"""
FENCE_SQL = """
SELECT count() AS alerts, max(dateDiff('millisecond', source_received_at, raised_at)) AS max_ms
FROM alerts FINAL
WHERE alert_type = 'PERIMETER_INTRUSION'
  AND source_received_at >= {since:DateTime64(3, 'UTC')}
  AND source_received_at < {until:DateTime64(3, 'UTC')}
  AND NOT startsWith(subject, {prefix:String})
"""
LATENCY_BY_TYPE_SQL = """
SELECT alert_type, count() AS alerts, quantileExact(0.5)(ms) AS p50_ms,
       quantileExact(0.99)(ms) AS p99_ms, max(ms) AS max_ms
FROM (
    SELECT alert_type, dateDiff('millisecond', source_received_at, raised_at) AS ms
    FROM alerts FINAL
    WHERE source_received_at >= {since:DateTime64(3, 'UTC')}
      AND NOT startsWith(subject, {prefix:String})
)
GROUP BY alert_type ORDER BY alert_type
"""
"""Every alert the district raised on its own in the latency phase, by type: fence alarms and
SOS must reach the phone within a second."""


@dataclass(frozen=True)
class Options:
    events: int
    span: int
    watchlist_every: int
    curve: tuple[float, ...]
    live_seconds: float
    live_warmup: float
    live_probes: int
    profile: bool
    catch_up_minutes: float = 15.0
    seed: int = 1


@dataclass(frozen=True)
class Broker:
    bootstrap: str
    pid: int


@dataclass(frozen=True)
class Backlog:
    """The events published before any consumer starts, and what they contain."""

    events: list[Event]
    incidents: int
    incident_every: float
    mix: dict[str, int]


@dataclass(frozen=True)
class Throughput:
    """Events committed from a group's first commit to the one covering the backlog."""

    events: int
    seconds: float
    events_per_second: float
    startup_seconds: float
    cpu_cores: dict[str, float]
    load_average: float
    """1-minute load average when the backlog was covered: other work on the machine."""


@dataclass(frozen=True)
class Latency:
    """One phase of the curve: the district at real time, at `fraction` of the worker's
    measured capacity, sent to the caught-up worker. Event → alert is source_received_at →
    raised_at of the probes after the warm-up; event → feed is source_received_at → the
    alert's arrival at an `AlertFeed`, the API's source for subscriptions, in this process.
    Fence alarms are the district's own PERIMETER_INTRUSION alerts of the phase."""

    fraction: float
    events: int
    events_per_second: float
    warmup_seconds: float
    alerts: int
    alerts_expected: int
    p50_ms: int
    p99_ms: int
    max_ms: int
    feed_p50_ms: int
    feed_p99_ms: int
    feed_max_ms: int
    fence_alarms: int
    fence_alert_max_ms: int
    fence_feed_max_ms: int


@dataclass(frozen=True)
class HotSpot:
    function: str
    calls: int
    own_seconds: float
    cumulative_seconds: float


@dataclass(frozen=True)
class WorkerRun:
    """What one worker phase measured, and what the worker left in its chDB."""

    throughput: Throughput
    rows: int
    rows_expected: int
    watchlist_sightings: int
    watchlist_sightings_expected: int
    alerts_by_type: dict[str, int]
    dead_letters: int
    exit_code: int | None
    stop_seconds: float
    latency: list[Latency] = field(default_factory=list)
    latency_by_type: list[dict[str, object]] = field(default_factory=list)
    profile: dict[str, list[HotSpot]] = field(default_factory=dict)


@dataclass(frozen=True)
class SplitRun:
    """Rule workers and a sink on the backlog: from the first commit of either group until
    both groups have covered it, so the figure is what the district gets, stored."""

    rule_workers: int
    events: int
    seconds: float
    events_per_second: float
    rules_seconds: float
    """Until the rule workers' group covered the backlog (alerts published)."""
    cpu_cores: dict[str, float]
    rows: int
    rows_expected: int
    """Every event on the topics: the sink's group reads them all, latency phases included."""
    alerts_by_type: dict[str, int]


@dataclass(frozen=True)
class CatchUp:
    """The district's last `district_minutes` at its mean volume (the simulator's everyday
    mix, devices heartbeating on their own schedules) published as one backlog, as after an
    outage of the platform, and drained by a fresh worker of role all with every rule on."""

    district_minutes: float
    events: int
    throughput: Throughput
    rows: int
    hours_per_minute: float
    """District time caught up per minute: the share of the span drained from the first
    commit on, over the minutes it took."""
    day_minutes: float
    """Minutes to catch up a whole district day at that pace."""


@dataclass(frozen=True)
class Report:
    events: int
    span_seconds: int
    mix: dict[str, int]
    watchlist_incidents: int
    reference_records: int
    rules: list[str]
    producer_seconds: float
    producer_events_per_second: float
    baseline: Throughput
    baseline_rows: int
    faust_floor: Throughput
    faust_floor_vs_baseline: float
    """The ceiling Faust itself puts on any worker, against the baseline."""
    skeleton: WorkerRun
    all_rules: WorkerRun
    all_rules_vs_skeleton: float
    all_rules_vs_skeleton_target: float
    skeleton_vs_baseline: float
    pipeline_vs_baseline: float
    """All rules (the worker as shipped) against the baseline."""
    profiled: bool
    split: SplitRun | None = None
    split_vs_one_worker: float = 0.0
    """Two rule workers and a sink against one worker of role all (all rules)."""
    catch_up: CatchUp | None = None
    machine: dict[str, object] = field(default_factory=dict)
    load_average_at_end: float = 0.0
    wall_seconds: float = 0.0


def make_backlog(district: District, opts: Options) -> Backlog:
    """`opts.events` everyday events over the past `opts.span` seconds with one watchlist
    incident per `opts.watchlist_every` events, in one-second chunks each received at its
    end, as gateways forwarding in real time would have sent them."""
    clock = SimClock(utc_now() - timedelta(seconds=opts.span))
    incident_every = opts.span * opts.watchlist_every / opts.events
    simulator = Simulator(district, clock, incident_every=incident_every)
    events: list[Event] = []
    for second in range(opts.span):
        count = opts.events * (second + 1) // opts.span - opts.events * second // opts.span
        batch = simulator.batch(second, second + 1, count, received_at=clock.at(second + 1))
        events += batch.events
    mix = Counter(event.kind for event in events)
    return Backlog(events, len(simulator.labels), incident_every, dict(mix.most_common()))


class LiveSource:
    """The same district at real time; once `probing`, every `probe_every`-th everyday passage
    carries the next probe plate, so each probe opens an alert of its own to time."""

    def __init__(
        self, district: District, incident_every: float, probes: Sequence[str], probe_every: int
    ) -> None:
        self._simulator = Simulator(district, SimClock(utc_now()), incident_every=incident_every)
        self._watchlist = {entry.plate for entry in district.watchlist}
        self._communities = [site.community.community_id for site in district.sites]
        self._probes = probes
        self._probe_every = probe_every
        self.probing = False
        self.asked = 0
        self.made = 0
        self.passages = 0
        self.probed = 0
        self.fence_alarms = 0
        self._fence_second = -1

    @property
    def incidents(self) -> int:
        return len(self._simulator.labels)

    def take(self, wall_from: float, wall_to: float, count: int) -> list[Event]:
        """`count` everyday events over (wall_from, wall_to], plus incidents due by then."""
        events = [self._probe(e) for e in self._simulator.events_between(wall_from, wall_to, count)]
        if self.probing and int(wall_to) != self._fence_second:
            self._fence_second = int(wall_to)
            events.append(self._fence_alarm())
        self.asked += count
        self.made += len(events)
        return events

    def _fence_alarm(self) -> PerimeterAlarm:
        """A fence crossing a second while probing, in the communities in turn: the everyday
        mix has none, and a fence alarm is what must reach the officer within a second."""
        self.fence_alarms += 1
        now = utc_now()
        return PerimeterAlarm(
            event_id=f"bench-fence-{self.fence_alarms}-{now.timestamp()}",
            community_id=self._communities[self.fence_alarms % len(self._communities)],
            occurred_at=now,
            received_at=now,
            fence_zone=f"bench-zone-{self.fence_alarms}-{int(now.timestamp())}",
            alarm_kind=PerimeterAlarmKind.CROSS,
        )

    def _probe(self, event: Event) -> Event:
        if not (self.probing and isinstance(event, VehiclePassage)):
            return event
        if event.plate in self._watchlist or self.probed == len(self._probes):
            return event
        self.passages += 1
        if self.passages % self._probe_every:
            return event
        self.probed += 1
        return event.model_copy(update={"plate": self._probes[self.probed - 1]})


def probe_plates(opts: Options) -> list[list[str]]:
    """`live_probes` probe plates per phase of the curve, each phase with a prefix of its own."""
    return [
        [f"{phase_prefix(n)}{k:04d}" for k in range(opts.live_probes)]
        for n in range(1, len(opts.curve) + 1)
    ]


def live_source(
    district: District, backlog: Backlog, opts: Options, probes: Sequence[str], rate: float
) -> LiveSource:
    """The district at `rate`, its probes spread over the passages of the probing seconds."""
    passages = (
        rate * opts.live_seconds * backlog.mix.get("vehicle_passage", 0) / len(backlog.events)
    )
    every = max(1, int(passages / len(probes)))
    return LiveSource(district, backlog.incident_every, probes, every)


def phase_prefix(phase: int) -> str:
    return f"{PROBE_PREFIX}{phase}"


def probe_watchlist(plates: Sequence[str]) -> list[WatchlistPlate]:
    return [
        WatchlistPlate(
            plate=plate,
            category=WatchlistCategory.ATTENTION,
            note="benchmark probe",
            added_by="bench",
            added_at=utc_now(),
        )
        for plate in plates
    ]


class Offsets:
    """A consumer group's committed offsets and the topics' end offsets, summed."""

    def __init__(self, bootstrap: str) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def __aenter__(self) -> Offsets:
        await self._admin.start()
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def ends(self, topics: Sequence[Topic]) -> dict[TopicPartition, int]:
        partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        return await self._consumer.end_offsets(partitions)

    async def end(self, topics: Sequence[Topic]) -> int:
        return sum((await self.ends(topics)).values())

    async def committed(self, group: str, topics: Sequence[Topic]) -> int:
        names = {t.name for t in topics}
        try:
            offsets = await self._admin.list_consumer_group_offsets(group)
        except (CoordinatorNotAvailableError, CoordinatorLoadInProgressError):
            return 0  # a fresh broker creates its offsets topic on the first group's request
        return sum(o.offset for tp, o in offsets.items() if tp.topic in names and o.offset > 0)

    async def truncate(self, topics: Sequence[Topic]) -> None:
        """Delete every record so far: a fresh group then starts reading after them."""
        ends = await self.ends(topics)
        await self._admin.delete_records({tp: RecordsToDelete(end) for tp, end in ends.items()})


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU of each process (all its threads), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in pids.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        used[name] = (int(fields[11]) + int(fields[12])) / ticks
    return used


async def commits(
    offsets: Offsets,
    groups: Sequence[str],
    topics: Sequence[Topic],
    check: Callable[[], None],
    timeout: float = WAIT_TIMEOUT,
) -> AsyncIterator[tuple[float, dict[str, int]]]:
    """(monotonic time, offsets committed per group) every poll; `check` raises if a
    consumer died."""
    deadline = time.monotonic() + timeout
    while True:
        check()
        done = {group: await offsets.committed(group, topics) for group in groups}
        at = time.monotonic()
        yield at, done
        if at > deadline:
            names = ", ".join(t.name for t in topics)
            raise TimeoutError(f"stuck at {done} offsets committed on {names}")
        await asyncio.sleep(POLL_SECONDS)


async def measure(
    offsets: Offsets,
    group: str,
    target: int,
    started: float,
    pids: dict[str, int],
    check: Callable[[], None],
) -> Throughput:
    """Poll the group's commits on the event topics until `target`, timing first to last."""
    first: tuple[float, int, dict[str, float]] | None = None
    async for at, by_group in commits(offsets, [group], EVENT_TOPICS, check):
        done = by_group[group]
        if first is None and done:
            first = (at, done, cpu_seconds(pids))
        if done >= target:
            break
    assert first is not None
    first_at, first_done, first_cpu = first
    seconds = at - first_at
    if seconds <= 0:
        raise RuntimeError("the backlog was consumed between two polls: use more --events")
    cpu = cpu_seconds(pids)
    return Throughput(
        events=target - first_done,
        seconds=seconds,
        events_per_second=(target - first_done) / seconds,
        startup_seconds=first_at - started,
        cpu_cores={name: (cpu[name] - first_cpu[name]) / seconds for name in pids},
        load_average=os.getloadavg()[0],
    )


async def baseline_consume(
    bootstrap: str, warehouse: Warehouse, batch_size: int, within: float
) -> None:
    """The pipeline's sink without Faust: fetch what every partition has, insert it as one
    batch per table, commit it."""
    consumer = AIOKafkaConsumer(
        *(t.name for t in EVENT_TOPICS),
        bootstrap_servers=bootstrap,
        group_id=BASELINE_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        await consumer.start()
        while True:
            await baseline_batch(consumer, warehouse, batch_size, within)
    finally:
        await consumer.stop()


async def baseline_batch(
    consumer: AIOKafkaConsumer, warehouse: Warehouse, size: int, within: float
) -> None:
    """Up to `size` messages from all partitions, waiting at most `within` when there are
    none: decoded, inserted as one Arrow batch per table, committed.

    One fetch across the topics, as a sink would do: fetching topic by topic, with a wait
    each, idles `within` on every quiet topic per round and measures the waits instead.
    """
    fetched = await consumer.getmany(timeout_ms=int(within * 1000), max_records=size)
    by_topic: dict[str, list[dict[str, object]]] = {}
    for tp, messages in fetched.items():
        record = TOPICS_BY_NAME[tp.topic].record
        assert record is not None
        by_topic.setdefault(tp.topic, []).extend(
            decode(m.value, record).row()
            | {"kafka_partition": m.partition, "kafka_offset": m.offset}
            for m in messages
        )
    for topic, rows in by_topic.items():
        table = TOPICS_BY_NAME[topic].table
        assert table is not None
        await warehouse.ainsert(
            table, pa.Table.from_pylist(rows, schema=warehouse.arrow_schema(table))
        )
    if fetched:
        await consumer.commit({tp: messages[-1].offset + 1 for tp, messages in fetched.items()})


def row_count(warehouse: Warehouse, tables: Sequence[str]) -> int:
    return sum(warehouse.query(f"SELECT count() AS n FROM {table}")[0]["n"] for table in tables)


async def run_baseline(
    broker: Broker, data_dir: Path, offsets: Offsets, target: int
) -> tuple[Throughput, int]:
    """Baseline throughput on a fresh chDB, and the rows it holds afterwards."""
    settings = Settings(data_dir=data_dir, kafka_bootstrap=broker.bootstrap)
    warehouse = open_warehouse(settings)
    try:
        prepare_warehouse(warehouse, settings)
        started = time.monotonic()
        task = asyncio.create_task(
            baseline_consume(
                broker.bootstrap, warehouse, settings.sink_batch_size, settings.sink_batch_seconds
            )
        )

        def check() -> None:
            if task.done():
                task.result()
                raise RuntimeError("the baseline consumer stopped")

        try:
            pids = {"consumer": os.getpid(), "broker": broker.pid}
            throughput = await measure(offsets, BASELINE_GROUP, target, started, pids, check)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return throughput, row_count(warehouse, EVENT_TABLES)
    finally:
        warehouse.close()


async def run_faust_floor(
    broker: Broker, data_dir: Path, offsets: Offsets, target: int
) -> Throughput:
    """Throughput of `bench.faust_floor`: Faust taking the event topics and doing nothing."""
    data_dir.mkdir(parents=True)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": broker.bootstrap,
        "FLOOR_GROUP": FLOOR_GROUP,
        "FLOOR_DATA_DIR": str(data_dir),
    }
    command = ["-m", "bench.faust_floor", "worker", "--loglevel", "warn"]
    name = "the Faust floor app"
    with logged_process(command, env, data_dir / "floor.log", name) as proc:
        check = still_running({name: proc})
        pids = {"consumer": proc.pid, "broker": broker.pid}
        return await measure(offsets, FLOOR_GROUP, target, time.monotonic(), pids, check)


@contextlib.contextmanager
def logged_process(
    command: Sequence[str], env: Mapping[str, str], log_path: Path, name: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`python COMMAND` from the repository, its output in `log_path`, whose tail is shown
    if the caller fails; stopped on the way out."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, *command],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    except BaseException:
        step(f"{name}'s log ends with:\n{log_tail(log_path)}")
        raise
    finally:
        stop(proc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def worker_process(
    bootstrap: str, data_dir: Path, group: str, profile: Path | None, role: str = "all"
) -> Iterator[subprocess.Popen[bytes]]:
    """`pingan worker --no-api --role ROLE` with its own data dir and group (under cProfile if
    `profile`), stopped on the way out."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        "PINGAN_DATA_DIR": str(data_dir),
        "PINGAN_WORKER_ID": group,
        "PINGAN_API_PORT": str(free_port()),
    }
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
    command = [*profiler, "-m", "pingan.cli", "worker", "--no-api", "--role", role]
    data_dir.mkdir(parents=True)
    with logged_process(command, env, data_dir / "worker.log", "the worker") as proc:
        yield proc


def still_running(procs: Mapping[str, subprocess.Popen[bytes]]) -> Callable[[], None]:
    """A check for the polling loops: raises once any of `procs` has exited."""

    def check() -> None:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}")

    return check


def stop(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> float:
    """SIGTERM, SIGKILL after `timeout`; returns the seconds it took to exit."""
    started = time.monotonic()
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return time.monotonic() - started


def log_tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def hot_spots(profile: Path) -> dict[str, list[HotSpot]]:
    """Where the worker's main thread spent its time: Pingan's own functions by cumulative
    time, and any function by own time, leaving out the event loop's idle wait."""
    stats = pstats.Stats(str(profile)).stats
    ours: list[HotSpot] = []
    everything: list[HotSpot] = []
    for (file, line, name), (_, calls, own, cumulative, _) in stats.items():
        mine = file.startswith(str(REPO)) and "site-packages" not in file
        where = Path(file).relative_to(REPO) if mine else Path(file).name
        spot = HotSpot(f"{where}:{line}({name})", calls, own, cumulative)
        if mine:
            ours.append(spot)
        if name != IDLE_WAIT:
            everything.append(spot)
    ours.sort(key=lambda h: h.cumulative_seconds, reverse=True)
    everything.sort(key=lambda h: h.own_seconds, reverse=True)
    return {
        "pingan code by cumulative time": ours[:HOT_SPOTS],
        "all code by own time": everything[:HOT_SPOTS],
    }


async def steady_stream(bootstrap: str, source: LiveSource, rate: float, opts: Options) -> float:
    """Publish `rate` events/s for the warm-up, then probe for `live_seconds`.

    The warm-up takes the alerts absence rules raise when event time jumps from the
    backlog's end to now, so probes time a worker in its steady state.
    """
    async with Publisher(bootstrap) as publisher:
        started = time.monotonic()
        done = 0.0
        while (elapsed := time.monotonic() - started) < opts.live_warmup + opts.live_seconds:
            source.probing = elapsed >= opts.live_warmup
            count = int(elapsed * rate) - source.asked
            await publisher.publish_many(source.take(done, elapsed, count))
            done = elapsed
            await asyncio.sleep(TICK_SECONDS)
        return time.monotonic() - started


async def drain(offsets: Offsets, group: str, events: int, check: Callable[[], None]) -> None:
    """Wait until the worker has committed every event published, then every alert raised:
    the alerts topic's end is re-read until it stays put over a poll."""
    async for _, done in commits(offsets, [group], EVENT_TOPICS, check):
        if done[group] >= events:
            break
    last_end = -1
    async for _, done in commits(offsets, [group], (ALERTS,), check):
        end = await offsets.end((ALERTS,))
        if done[group] >= end == last_end:
            break
        last_end = end


def step(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


async def produce(broker: Broker, reference: Sequence[Record], events: Sequence[Event]) -> float:
    """Publish the reference records, then the backlog; returns the seconds the backlog took."""
    async with Publisher(broker.bootstrap) as publisher:
        await publisher.publish_many(reference)
        started = time.perf_counter()
        await publisher.publish_many(events)
        return time.perf_counter() - started


async def set_rules(bootstrap: str, disabled: Sequence[str]) -> None:
    """District-wide rule settings disabling `disabled`; none at all (a tombstone) if empty."""
    async with Publisher(bootstrap) as publisher:
        if not disabled:
            await publisher.publish_raw(RULE_SETTINGS, DISTRICT_DEFAULT.encode(), None)
            return
        await publisher.publish(
            RuleSettings(
                community_id=DISTRICT_DEFAULT,
                rules={name: {"enabled": False} for name in disabled},
                updated_by="bench",
                updated_at=utc_now(),
            )
        )


async def run_worker(
    broker: Broker,
    data_dir: Path,
    group: str,
    offsets: Offsets,
    backlog: Backlog,
    disabled: Sequence[str],
    make_live: Callable[[Sequence[str], float], LiveSource] | None,
    opts: Options,
) -> WorkerRun:
    """Throughput on the backlog with `disabled` rules off, then (with `make_live`, called
    as each latency phase starts so that its event time is now) the latency curve on the
    district at real time, then what the worker left in its chDB."""
    await offsets.truncate(WORKER_OUTPUTS)
    await set_rules(broker.bootstrap, disabled)
    target = await offsets.end(EVENT_TOPICS)
    profile = data_dir.with_suffix(".prof") if opts.profile else None
    phases: list[Phase] = []
    with worker_process(broker.bootstrap, data_dir, group, profile) as proc:
        check = still_running({"the worker": proc})
        pids = {"consumer": proc.pid, "broker": broker.pid}
        throughput = await measure(offsets, group, target, time.monotonic(), pids, check)
        if make_live is not None:
            phases = await latency_curve(
                broker, offsets, group, throughput.events_per_second, make_live, check, opts
            )
        await drain(offsets, group, await offsets.end(EVENT_TOPICS), check)
        step("stopping the worker")
        stop_seconds = await asyncio.to_thread(stop, proc)
    warehouse = open_warehouse(Settings(data_dir=data_dir))
    try:
        watchlist = {"alert_type": AlertType.WATCHLIST_PLATE.value}
        by_type: list[dict[str, object]] = []
        if phases:
            by_type = warehouse.query(
                LATENCY_BY_TYPE_SQL, {"since": phases[0].since, "prefix": PROBE_PREFIX}
            )
        return WorkerRun(
            throughput=throughput,
            rows=row_count(warehouse, EVENT_TABLES),
            rows_expected=len(backlog.events) + sum(p.live.made for p in phases),
            watchlist_sightings=warehouse.query(WATCHLIST_SIGHTINGS_SQL, watchlist)[0]["n"],
            watchlist_sightings_expected=backlog.incidents
            + sum(p.live.incidents + p.live.probed for p in phases),
            alerts_by_type={r["alert_type"]: r["n"] for r in warehouse.query(ALERTS_BY_TYPE_SQL)},
            dead_letters=row_count(warehouse, ["dead_letters"]),
            exit_code=proc.returncode,
            stop_seconds=stop_seconds,
            latency=[phase.latency(n, warehouse) for n, phase in enumerate(phases, start=1)],
            latency_by_type=by_type,
            profile=hot_spots(profile) if profile else {},
        )
    finally:
        warehouse.close()


@dataclass
class Phase:
    """A latency phase as run: what it sent, when, and what the feed received meanwhile."""

    fraction: float
    live: LiveSource
    seconds: float
    since: datetime
    until: datetime
    feed: list[tuple[Alert, datetime]]
    warmup_seconds: float

    def latency(self, n: int, warehouse: Warehouse) -> Latency:
        watchlist = {"alert_type": AlertType.WATCHLIST_PLATE.value, "prefix": phase_prefix(n)}
        found = warehouse.query(LATENCY_SQL, watchlist)[0]
        fence = warehouse.query(
            FENCE_SQL, {"since": self.since, "until": self.until, "prefix": PROBE_PREFIX}
        )[0]
        probes = [ms for alert, ms in self._feed_ms() if alert.subject.startswith(phase_prefix(n))]
        fences = [
            ms
            for alert, ms in self._feed_ms()
            if alert.alert_type is AlertType.PERIMETER_INTRUSION
            and self.since <= alert.source_received_at < self.until
        ]
        return Latency(
            fraction=self.fraction,
            events=self.live.made,
            events_per_second=self.live.made / self.seconds,
            warmup_seconds=self.warmup_seconds,
            alerts_expected=self.live.probed,
            **found,
            feed_p50_ms=percentile(probes, 0.5),
            feed_p99_ms=percentile(probes, 0.99),
            feed_max_ms=max(probes, default=0),
            fence_alarms=fence["alerts"],
            fence_alert_max_ms=fence["max_ms"],
            fence_feed_max_ms=max(fences, default=0),
        )

    def _feed_ms(self) -> list[tuple[Alert, int]]:
        return [
            (alert, int((arrived - alert.source_received_at).total_seconds() * 1000))
            for alert, arrived in self.feed
        ]


def percentile(values: Sequence[int], q: float) -> int:
    """The exact q-quantile (nearest rank), as ClickHouse's quantileExact reports it."""
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def latency_curve(
    broker: Broker,
    offsets: Offsets,
    group: str,
    capacity: float,
    make_live: Callable[[Sequence[str], float], LiveSource],
    check: Callable[[], None],
    opts: Options,
) -> list[Phase]:
    """One phase per fraction of `capacity`, each drained before the next starts, with an
    `AlertFeed` recording when each alert's first version reached it."""
    phases = []
    probes = probe_plates(opts)
    arrivals: dict[str, tuple[Alert, datetime]] = {}
    async with (
        AlertFeed(broker.bootstrap, queue_size=100_000) as feed,
        feed.subscribe() as subscription,
    ):
        listening = asyncio.create_task(record_arrivals(subscription, arrivals))
        try:
            for n, fraction in enumerate(opts.curve, start=1):
                rate = fraction * capacity
                live = make_live(probes[n - 1], rate)
                step(
                    f"latency phase {n}: {rate:,.0f} events/s ({fraction:.0%} of capacity), "
                    f"{opts.live_warmup:.0f} s warm-up, probes for {opts.live_seconds:.0f} s"
                )
                since = utc_now()
                seconds = await steady_stream(broker.bootstrap, live, rate, opts)
                until = utc_now()
                await drain(offsets, group, await offsets.end(EVENT_TOPICS), check)
                seen = [a for a in arrivals.values() if since <= a[0].source_received_at < until]
                phases.append(Phase(fraction, live, seconds, since, until, seen, opts.live_warmup))
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
    return phases


async def record_arrivals(
    subscription: AsyncIterator[Alert], arrivals: dict[str, tuple[Alert, datetime]]
) -> None:
    """The first version of each alert, stamped as it arrives."""
    async for alert in subscription:
        arrivals.setdefault(alert.alert_id, (alert, utc_now()))


async def run_split(broker: Broker, tmp: Path, offsets: Offsets, rule_workers: int) -> SplitRun:
    """`rule_workers` × `--role rules` and one `--role sink` on the backlog, all rules on."""
    await offsets.truncate(WORKER_OUTPUTS)
    await set_rules(broker.bootstrap, [])
    target = await offsets.end(EVENT_TOPICS)
    group = f"pingan-bench-split-{rule_workers}"
    sink_dir = tmp / f"split-{rule_workers}-sink"
    with contextlib.ExitStack() as stack:
        procs = {
            "sink": stack.enter_context(
                worker_process(broker.bootstrap, sink_dir, group, None, "sink")
            )
        }
        for n in range(1, rule_workers + 1):
            procs[f"rules-{n}"] = stack.enter_context(
                worker_process(
                    broker.bootstrap, tmp / f"split-{rule_workers}-rules-{n}", group, None, "rules"
                )
            )
        check = still_running(procs)
        pids = {name: proc.pid for name, proc in procs.items()} | {"broker": broker.pid}
        done = await both_groups_cover(offsets, group, target, pids, check)
        step("stopping the rule workers and the sink")
    warehouse = open_warehouse(Settings(data_dir=sink_dir))
    try:
        rows = row_count(warehouse, EVENT_TABLES)
        alerts = {r["alert_type"]: r["n"] for r in warehouse.query(ALERTS_BY_TYPE_SQL)}
    finally:
        warehouse.close()
    return SplitRun(
        rule_workers=rule_workers, rows=rows, rows_expected=target, alerts_by_type=alerts, **done
    )


async def both_groups_cover(
    offsets: Offsets,
    group: str,
    target: int,
    pids: dict[str, int],
    check: Callable[[], None],
) -> dict[str, object]:
    """Poll the rules group and its sink group until both have committed `target` events."""
    first: tuple[float, int, dict[str, float]] | None = None
    rules_at: float | None = None
    sink_group = f"{group}-sink"
    groups = [group, sink_group]
    async for at, done in commits(offsets, groups, EVENT_TOPICS, check, WAIT_TIMEOUT * 4):
        rules, sink = done[group], done[sink_group]
        if first is None and (rules or sink):
            first = (at, min(rules, sink), cpu_seconds(pids))
        if rules_at is None and rules >= target:
            rules_at = at
        if rules >= target and sink >= target:
            break
    assert first is not None and rules_at is not None
    first_at, first_done, first_cpu = first
    seconds = at - first_at
    cpu = cpu_seconds(pids)
    return {
        "events": target - first_done,
        "seconds": seconds,
        "events_per_second": (target - first_done) / seconds,
        "rules_seconds": rules_at - first_at,
        "cpu_cores": {name: (cpu[name] - first_cpu[name]) / seconds for name in pids},
    }


async def bench(opts: Options, broker: Broker, tmp: Path) -> Report:
    await create_topics(broker.bootstrap)
    rules = [rule.name for rule in all_rules()]
    district = District.build(opts.seed)
    step(f"drawing {opts.events:,} events from the district simulator")
    backlog = make_backlog(district, opts)
    probes = probe_plates(opts)
    reference = [
        *district.reference_records(),
        *probe_watchlist([plate for phase in probes for plate in phase]),
    ]
    step(f"producing {len(reference):,} reference records and {len(backlog.events):,} events")
    produce_seconds = await produce(broker, reference, backlog.events)
    async with Offsets(broker.bootstrap) as offsets:
        step("baseline: aiokafka consumer → chDB")
        baseline, baseline_rows = await run_baseline(
            broker, tmp / "baseline", offsets, await offsets.end(EVENT_TOPICS)
        )
        step("Faust floor: faust-streaming taking the event topics, doing nothing")
        floor = await run_faust_floor(
            broker, tmp / "faust-floor", offsets, await offsets.end(EVENT_TOPICS)
        )
        step(f"skeleton: pingan worker --no-api, only {SKELETON_RULE} on")
        skeleton = await run_worker(
            broker,
            tmp / "skeleton",
            "pingan-bench-skeleton",
            offsets,
            backlog,
            [name for name in rules if name != SKELETON_RULE],
            None,
            opts,
        )
        step(f"all rules: pingan worker --no-api, {len(rules)} rules on")
        all_on = await run_worker(
            broker,
            tmp / "all-rules",
            "pingan-bench-all-rules",
            offsets,
            backlog,
            [],
            partial(live_source, district, backlog, opts),
            opts,
        )
        step("scale-out: 2 × pingan worker --role rules and 1 × --role sink, all rules on")
        split = await run_split(broker, tmp, offsets, 2)
        catch_up = None
        if opts.catch_up_minutes > 0:
            catch_up = await run_catch_up(broker, district, tmp / "catch-up", offsets, opts)
    skeleton_rate = skeleton.throughput.events_per_second
    all_rate = all_on.throughput.events_per_second
    return Report(
        catch_up=catch_up,
        split=split,
        split_vs_one_worker=split.events_per_second / all_rate,
        events=len(backlog.events),
        span_seconds=opts.span,
        mix=backlog.mix,
        watchlist_incidents=backlog.incidents,
        reference_records=len(reference),
        rules=rules,
        producer_seconds=produce_seconds,
        producer_events_per_second=len(backlog.events) / produce_seconds,
        baseline=baseline,
        baseline_rows=baseline_rows,
        faust_floor=floor,
        faust_floor_vs_baseline=floor.events_per_second / baseline.events_per_second,
        skeleton=skeleton,
        all_rules=all_on,
        all_rules_vs_skeleton=all_rate / skeleton_rate,
        all_rules_vs_skeleton_target=ALL_VS_SKELETON_TARGET,
        skeleton_vs_baseline=skeleton_rate / baseline.events_per_second,
        pipeline_vs_baseline=all_rate / baseline.events_per_second,
        profiled=opts.profile,
    )


async def run_catch_up(
    broker: Broker, district: District, data_dir: Path, offsets: Offsets, opts: Options
) -> CatchUp:
    """The district's last minutes at its mean volume on emptied event topics, drained by a
    fresh worker: how many hours of district time it catches up per minute."""
    span = round(opts.catch_up_minutes * 60)
    sample = replace(opts, events=span * DISTRICT_MEAN_EVENTS_PER_SECOND, span=span)
    step(f"catch-up: drawing {opts.catch_up_minutes:g} min of the district at its mean volume")
    backlog = make_backlog(district, sample)
    await offsets.truncate(EVENT_TOPICS)
    emptied = await offsets.ends(EVENT_TOPICS)
    step(f"catch-up: producing {len(backlog.events):,} events; a fresh worker drains them")
    await produce(broker, [], backlog.events)
    await offsets.truncate(WORKER_OUTPUTS)
    await set_rules(broker.bootstrap, [])
    # A partition the backlog left empty is never committed by the fresh group.
    ends = await offsets.ends(EVENT_TOPICS)
    target = sum(end for tp, end in ends.items() if end > emptied[tp])
    group = "pingan-bench-catch-up"
    with worker_process(broker.bootstrap, data_dir, group, None) as proc:
        check = still_running({"the worker": proc})
        pids = {"consumer": proc.pid, "broker": broker.pid}
        throughput = await measure(offsets, group, target, time.monotonic(), pids, check)
    warehouse = open_warehouse(Settings(data_dir=data_dir))
    try:
        rows = row_count(warehouse, EVENT_TABLES)
    finally:
        warehouse.close()
    caught_up = span / 3600 * throughput.events / len(backlog.events)
    per_minute = caught_up / (throughput.seconds / 60)
    return CatchUp(
        opts.catch_up_minutes,
        len(backlog.events),
        throughput,
        rows,
        hours_per_minute=per_minute,
        day_minutes=24 / per_minute,
    )


def catch_up_lines(c: CatchUp | None) -> list[str]:
    if c is None:
        return []
    t = c.throughput
    return [
        f"catch-up: the district's last {c.district_minutes:g} min at its mean volume "
        f"({DISTRICT_MEAN_EVENTS_PER_SECOND}/s), {c.events:,} events, drained at "
        f"{t.events_per_second:,.0f}/s in {t.seconds:.1f} s (start-up {t.startup_seconds:.1f} s,"
        f" CPU {t.cpu_cores['consumer']:.2f}); rows {check_mark(c.rows, c.events)}; a "
        f"district day in {c.day_minutes:.0f} min",
        f"{'catch-up, district hours per minute':48}{c.hours_per_minute:>8.2f} h",
    ]


def machine() -> dict[str, object]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": models[0] if models else platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_at_start": os.getloadavg(),
        "kafka": Settings().kafka_version,
        "packages": {p: version(p) for p in ("faust-streaming", "aiokafka", "chdb", "pyarrow")},
    }


def isolate_environment() -> None:
    """Default settings for this process and the worker, whatever the caller's environment."""
    for name in list(os.environ):
        if name in ("KAFKA_BOOTSTRAP", "CLICKHOUSE_URL") or (
            name.startswith("PINGAN_") and name not in KEPT_SETTINGS
        ):
            del os.environ[name]


@contextlib.contextmanager
def local_broker(data_dir: Path) -> Iterator[Broker]:
    """A broker of our own on free ports; stopped on the way out."""
    ports = {"kafka_port": free_port(), "kafka_controller_port": free_port()}
    settings = Settings(data_dir=data_dir, **ports)
    try:
        bootstrap = kafka.up(settings)
        yield Broker(bootstrap, kafka.status(settings)["pid"])
    finally:
        kafka.down(settings)


def check_mark(found: int, expected: int) -> str:
    return f"{found:,} / {expected:,} {'OK' if found == expected else 'MISMATCH'}"


def render(r: Report, path: Path) -> str:
    s, a = r.skeleton, r.all_rules
    header = (
        f"{'':30}{'events':>10}{'seconds':>10}{'events/s':>11}{'start-up s':>12}"
        f"{'load':>6}  CPU cores"
    )
    throughputs = (
        ("baseline (aiokafka → chDB)", r.baseline),
        ("Faust floor (takes, no work)", r.faust_floor),
        (f"skeleton ({SKELETON_RULE} only)", s.throughput),
        (f"all rules ({len(r.rules)})", a.throughput),
    )
    met = "met" if r.all_rules_vs_skeleton >= r.all_rules_vs_skeleton_target else "NOT MET"
    lines = [
        f"Pingan pipeline benchmark: {r.events:,} simulated events over the past "
        f"{r.span_seconds} s, {r.watchlist_incidents} watchlist incidents, "
        f"{r.reference_records:,} reference records; {r.machine['nproc']} cores, "
        f"load average at start {r.machine['loadavg_at_start'][0]:.1f}",
        "mix: " + ", ".join(f"{kind} {n:,}" for kind, n in r.mix.items()),
        f"rules: {', '.join(r.rules)}",
        *(["WORKERS RAN UNDER cProfile: their figures are not comparable"] if r.profiled else []),
        header,
        f"{'producer (Publisher)':30}{r.events:>10,}{r.producer_seconds:>10.2f}"
        f"{r.producer_events_per_second:>11,.0f}",
        *(
            f"{name:30}{t.events:>10,}{t.seconds:>10.2f}{t.events_per_second:>11,.0f}"
            f"{t.startup_seconds:>12.1f}{t.load_average:>6.1f}  "
            f"{t.cpu_cores['consumer']:.2f} consumer, {t.cpu_cores['broker']:.2f} broker"
            for name, t in throughputs
        ),
        f"{'all rules / skeleton':30}{'':20}{r.all_rules_vs_skeleton:>11.2f}x"
        f"  (target ≥ {r.all_rules_vs_skeleton_target:.2f}: {met})",
        f"{'Faust floor / baseline':30}{'':20}{r.faust_floor_vs_baseline:>11.2f}x"
        "  (no worker on Faust passes this)",
        f"{'skeleton / baseline':30}{'':20}{r.skeleton_vs_baseline:>11.2f}x",
        f"{'all rules / baseline':30}{'':20}{r.pipeline_vs_baseline:>11.2f}x",
        *split_lines(r),
        "(throughput is first to last commit of the consumer group; start-up is before; "
        "load is the 1-min load average at the end)",
        *curve_lines(a.latency),
        *catch_up_lines(r.catch_up),
        "by type, over the whole curve (event → alert):",
        *(
            f"  {row['alert_type']}: {row['alerts']} alerts, p50 {row['p50_ms']} ms, "
            f"p99 {row['p99_ms']} ms, max {row['max_ms']} ms"
            for row in a.latency_by_type
        ),
        *(
            f"alerts, {name}: "
            + (", ".join(f"{kind} {n:,}" for kind, n in run.alerts_by_type.items()) or "none")
            for name, run in (("skeleton", s), ("all rules", a))
        ),
        f"rows, baseline: {check_mark(r.baseline_rows, r.events)}",
        f"rows, skeleton: {check_mark(s.rows, s.rows_expected)}; "
        f"all rules (backlog + latency phase): {check_mark(a.rows, a.rows_expected)}",
        f"watchlist sightings, skeleton: "
        f"{check_mark(s.watchlist_sightings, s.watchlist_sightings_expected)}; all rules: "
        f"{check_mark(a.watchlist_sightings, a.watchlist_sightings_expected)}",
        f"dead letters: skeleton {s.dead_letters}, all rules {a.dead_letters}",
        f"workers stopped in {s.stop_seconds:.1f} s (exit {s.exit_code}) and "
        f"{a.stop_seconds:.1f} s (exit {a.exit_code}); load average at end "
        f"{r.load_average_at_end:.1f}; wall time {r.wall_seconds:.0f} s",
    ]
    for name, run in (("skeleton", s), ("all rules", a)):
        for view, spots in run.profile.items():
            lines.append(f"worker {name}, {view}: own s, cumulative s, calls, function")
            lines += [
                f"  {h.own_seconds:7.2f}{h.cumulative_seconds:9.2f}{h.calls:>11,}  {h.function}"
                for h in spots
            ]
    lines.append(f"written to {path}")
    return "\n".join(lines)


def curve_lines(curve: Sequence[Latency]) -> list[str]:
    """Each phase, then the figures the targets name, each on a line of its own."""
    lines = [
        f"latency at {lat.fraction:.0%} of capacity: {lat.events:,} events at "
        f"{lat.events_per_second:,.0f}/s ({lat.warmup_seconds:.0f} s warm-up), probe alerts "
        f"{check_mark(lat.alerts, lat.alerts_expected)}; event → alert p50 {lat.p50_ms} ms, "
        f"p99 {lat.p99_ms} ms, max {lat.max_ms} ms; event → feed p50 {lat.feed_p50_ms} ms, "
        f"p99 {lat.feed_p99_ms} ms, max {lat.feed_max_ms} ms; {lat.fence_alarms} fence "
        f"alarms: → alert max {lat.fence_alert_max_ms} ms, → feed max {lat.fence_feed_max_ms} ms"
        for lat in curve
    ]
    for lat in curve:
        share = f"{lat.fraction:.0%} capacity"
        lines += [
            f"{f'p99 event→alert at {share}':48}{lat.p99_ms:>8} ms",
            f"{f'p99 event→subscriber at {share}':48}{lat.feed_p99_ms:>8} ms",
            f"{f'fence alarm→subscriber max at {share}':48}{lat.fence_feed_max_ms:>8} ms",
        ]
    return lines


def split_lines(r: Report) -> list[str]:
    """The scale-out phase: the ratio on a line of its own, then what each process used."""
    if r.split is None:
        return []
    sp = r.split
    return [
        f"{sp.rule_workers} rule workers + 1 sink: {sp.events:,} events in {sp.seconds:.2f} s "
        f"= {sp.events_per_second:,.0f}/s stored (rules done after {sp.rules_seconds:.2f} s); "
        "CPU cores " + ", ".join(f"{n} {c:.2f}" for n, c in sp.cpu_cores.items()),
        f"{sp.rule_workers} rule workers: rows {check_mark(sp.rows, sp.rows_expected)}; alerts "
        + (", ".join(f"{k} {n:,}" for k, n in sp.alerts_by_type.items()) or "none"),
        f"{f'{sp.rule_workers} rule workers / 1 worker':30}{'':20}{r.split_vs_one_worker:>11.2f}x",
    ]


def save(report: Report) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"pipeline-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(asdict(report), indent=2, ensure_ascii=False) + "\n")
    return path


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--events", type=int, default=100_000, help="backlog size")
    parser.add_argument(
        "--span", type=int, default=300, help="seconds of event time the backlog covers, to now"
    )
    parser.add_argument(
        "--watchlist-every",
        type=int,
        default=1_000,
        help="one simulator watchlist incident per N backlog events",
    )
    parser.add_argument(
        "--curve",
        type=lambda text: tuple(float(f) for f in text.split(",")),
        default=(0.25, 0.5, 0.75),
        help="latency phases' rates, as fractions of the all-rules worker's measured capacity",
    )
    parser.add_argument(
        "--live-seconds", type=float, default=20.0, help="latency phase length, after warm-up"
    )
    parser.add_argument(
        "--live-warmup", type=float, default=5.0, help="latency phase seconds before probing"
    )
    parser.add_argument(
        "--live-probes",
        type=int,
        default=200,
        help="probe plates per latency phase, spread over its passages",
    )
    parser.add_argument(
        "--catch-up-minutes",
        type=float,
        default=15.0,
        help="minutes of district time drained as one backlog at the end (0: skip)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the workers under cProfile and print their hot spots (slows them down)",
    )
    return Options(**vars(parser.parse_args(argv)))


def main(argv: Sequence[str] | None = None) -> None:
    opts = parse_options(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    isolate_environment()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # retries while groups form
    started, machine_info = time.monotonic(), machine()
    with tempfile.TemporaryDirectory(prefix="pingan-bench-") as tmp:
        step("starting a Kafka broker")
        with local_broker(Path(tmp) / "broker") as broker:
            report = asyncio.run(bench(opts, broker, Path(tmp)))
            step("stopping the broker")
    report = replace(
        report,
        machine=machine_info,
        load_average_at_end=os.getloadavg()[0],
        wall_seconds=time.monotonic() - started,
    )
    print(render(report, save(report)))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)  # everything started has been stopped and removed on the way out

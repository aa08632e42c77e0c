"""Pipeline benchmark: the real worker against a plain aiokafka → chDB consumer, in one run.

`make bench` starts its own Kafka broker (temp dir, free ports) and publishes a backlog of
vehicle passages and door accesses with the Publisher, a known share of them with plates
on the watchlist. On that broker and those events it measures:

- baseline: an aiokafka consumer group that decodes each message, builds the sink's Arrow
  batch, inserts it with the same warehouse code and commits after each insert (no Faust);
- pipeline: `pingan worker --no-api` as a subprocess, with default settings.

Throughput is read from each consumer group's committed offsets, from its first commit to
the one that covers the backlog, so start-up is reported apart. Latency under a backlog is
queueing, so it is measured next: the caught-up worker gets a steady stream, and p50/p99 of
event → alert come from the `alerts` rows of that phase. Figures are printed and written to
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
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, CoordinatorNotAvailableError

from ingest.publisher import Publisher
from ingest.reference import community_ids
from pingan.provision import create_topics, prepare_warehouse
from pingan.settings import Settings
from pingan.stack import kafka
from pingan.warehouse import Warehouse, open_warehouse
from schemas.alerts import WatchlistCategory, WatchlistPlate
from schemas.codec import decode
from schemas.events import (
    AccessMethod,
    Direction,
    DoorAccess,
    DoorKind,
    Event,
    PlateColour,
    VehiclePassage,
    utc_now,
)
from schemas.topics import ALERTS, DOOR_ACCESS, VEHICLE_PASSAGES, Topic

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
EVENT_TOPICS = (VEHICLE_PASSAGES, DOOR_ACCESS)
EVENT_TABLES = [str(t.table) for t in EVENT_TOPICS]
BASELINE_GROUP = "pingan-bench-baseline"
WORKER_GROUP = "pingan-bench-worker"
KEPT_SETTINGS = frozenset({"PINGAN_CACHE_DIR", "PINGAN_KAFKA_VERSION"})
PASSAGES_IN_FIVE = 3
PLATE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
POLL_SECONDS = 0.2
TICK_SECONDS = 0.02
WAIT_TIMEOUT = 180.0
LATENCY_SQL = """
SELECT count() AS alerts,
       quantileExact(0.5)(ms) AS p50_ms,
       quantileExact(0.99)(ms) AS p99_ms,
       max(ms) AS max_ms
FROM (
    SELECT dateDiff('millisecond', source_received_at, raised_at) AS ms
    FROM alerts
    WHERE toUnixTimestamp64Milli(source_received_at) >= {since_ms:Int64}
)
"""


@dataclass(frozen=True)
class Options:
    events: int
    watchlist_every: int
    live_rate: float
    live_seconds: float
    live_watchlist_every: int
    watchlist_size: int = 50
    seed: int = 1


@dataclass(frozen=True)
class Throughput:
    """Events committed from a group's first commit to the one covering the backlog."""

    events: int
    seconds: float
    events_per_second: float
    startup_seconds: float
    cpu_cores: dict[str, float]


@dataclass(frozen=True)
class Latency:
    """Event → alert (source_received_at → raised_at) for a steady stream to a caught-up worker."""

    events: int
    events_per_second: float
    alerts: int
    alerts_expected: int
    p50_ms: int
    p99_ms: int
    max_ms: int


@dataclass(frozen=True)
class Checks:
    pipeline_rows: int
    pipeline_rows_expected: int
    baseline_rows: int
    baseline_rows_expected: int
    alerts: int
    alerts_expected: int
    dead_letters: int
    worker_exit_code: int | None
    worker_stop_seconds: float


@dataclass(frozen=True)
class WorkerRun:
    """What the pipeline phase measured, and what the worker left in its chDB."""

    throughput: Throughput
    latency: Latency
    rows: int
    alerts: int
    dead_letters: int
    exit_code: int | None
    stop_seconds: float


@dataclass(frozen=True)
class Report:
    events: int
    passages: int
    watchlisted_passages: int
    producer_seconds: float
    producer_events_per_second: float
    baseline: Throughput
    pipeline: Throughput
    pipeline_vs_baseline: float
    latency: Latency
    checks: Checks
    machine: dict[str, object] = field(default_factory=dict)
    wall_seconds: float = 0.0


class EventSource:
    """Vehicle passages (3 in 5) and door accesses; every `watch_every`-th passage is watched.

    Events are stamped `received_at` when made, so events made just before publishing
    measure event → alert latency.
    """

    def __init__(
        self, prefix: str, watch_every: int, watchlist: Sequence[WatchlistPlate], seed: int
    ) -> None:
        self._prefix = prefix
        self._watch_every = watch_every
        self._watchlist = watchlist
        self._rng = random.Random(seed)
        self._communities = sorted(community_ids())
        self.made = 0
        self.passages = 0
        self.watched = 0

    def take(self, count: int) -> list[Event]:
        return [self._next() for _ in range(count)]

    def _next(self) -> Event:
        rng, now = self._rng, utc_now()
        community = rng.choice(self._communities)
        common = {
            "event_id": f"{self._prefix}-{self.made}",
            "community_id": community,
            "occurred_at": now - timedelta(milliseconds=rng.randrange(2_000)),
            "received_at": now,
        }
        self.made += 1
        if self.made % 5 >= PASSAGES_IN_FIVE:
            return DoorAccess(
                **common,
                door_id=f"{community}-door-{rng.randint(1, 40)}",
                door_kind=rng.choice(list(DoorKind)),
                method=rng.choice(list(AccessMethod)),
                person_id=f"{community}-p{rng.randint(1, 3_000)}" if rng.random() < 0.9 else None,
                granted=rng.random() < 0.97,
            )
        return VehiclePassage(
            **common,
            plate=self._plate(),
            plate_colour=rng.choice(list(PlateColour)),
            direction=rng.choice(list(Direction)),
            gate_id=f"{community}-gate-{rng.randint(1, 3)}",
            camera_id=f"{community}-cam-{rng.randint(1, 6)}",
            confidence=round(rng.uniform(0.8, 1.0), 3),
        )

    def _plate(self) -> str:
        self.passages += 1
        if self.passages % self._watch_every:
            return "浙A" + "".join(self._rng.choices(PLATE_CHARS, k=5))
        self.watched += 1
        return self._watchlist[self.watched % len(self._watchlist)].plate


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

    async def end(self, topics: Sequence[Topic]) -> int:
        partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        return sum((await self._consumer.end_offsets(partitions)).values())

    async def committed(self, group: str, topics: Sequence[Topic]) -> int:
        names = {t.name for t in topics}
        try:
            offsets = await self._admin.list_consumer_group_offsets(group)
        except (CoordinatorNotAvailableError, CoordinatorLoadInProgressError):
            return 0  # a fresh broker creates its offsets topic on the first group's request
        return sum(o.offset for tp, o in offsets.items() if tp.topic in names and o.offset > 0)


def make_watchlist(size: int) -> list[WatchlistPlate]:
    categories = list(WatchlistCategory)
    return [
        WatchlistPlate(
            plate=f"浙Z{k:05d}",
            category=categories[k % len(categories)],
            note="benchmark",
            added_by="bench",
            added_at=utc_now(),
        )
        for k in range(size)
    ]


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU of each process (all its threads), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in pids.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        used[name] = (int(fields[11]) + int(fields[12])) / ticks
    return used


async def commits(
    offsets: Offsets, group: str, topics: Sequence[Topic], check: Callable[[], None]
) -> AsyncIterator[tuple[float, int]]:
    """(monotonic time, offsets committed) every poll; `check` raises if the consumer died."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        check()
        done = await offsets.committed(group, topics)
        at = time.monotonic()
        yield at, done
        if at > deadline:
            names = ", ".join(t.name for t in topics)
            raise TimeoutError(f"group {group} stuck at {done} offsets committed on {names}")
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
    async for at, done in commits(offsets, group, EVENT_TOPICS, check):
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
    )


async def baseline_consume(
    bootstrap: str, warehouse: Warehouse, batch_size: int, within: float
) -> None:
    """The pipeline's sink without Faust: fetch a batch per topic, insert it, commit it."""
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
            for topic in EVENT_TOPICS:
                await baseline_batch(consumer, warehouse, topic, batch_size, within)
    finally:
        await consumer.stop()


async def baseline_batch(
    consumer: AIOKafkaConsumer, warehouse: Warehouse, topic: Topic, size: int, within: float
) -> None:
    """Up to `size` messages of one topic: decoded, inserted as one Arrow batch, committed."""
    partitions = [tp for tp in consumer.assignment() if tp.topic == topic.name]
    if not partitions:
        await asyncio.sleep(within)  # the group has not assigned partitions yet
        return
    fetched = await consumer.getmany(*partitions, timeout_ms=int(within * 1000), max_records=size)
    rows = [
        decode(m.value, topic.record).row()
        | {"kafka_partition": m.partition, "kafka_offset": m.offset}
        for messages in fetched.values()
        for m in messages
    ]
    if rows:
        batch = pa.Table.from_pylist(rows, schema=warehouse.arrow_schema(topic.table))
        await warehouse.ainsert(topic.table, batch)
        await consumer.commit({tp: messages[-1].offset + 1 for tp, messages in fetched.items()})


def row_count(warehouse: Warehouse, tables: Sequence[str]) -> int:
    return sum(warehouse.query(f"SELECT count() AS n FROM {table}")[0]["n"] for table in tables)


async def run_baseline(
    bootstrap: str, data_dir: Path, offsets: Offsets, target: int, broker_pid: int
) -> tuple[Throughput, int]:
    """Baseline throughput on a fresh chDB, and the rows it holds afterwards."""
    settings = Settings(data_dir=data_dir, kafka_bootstrap=bootstrap)
    warehouse = open_warehouse(settings)
    try:
        prepare_warehouse(warehouse, settings)
        started = time.monotonic()
        task = asyncio.create_task(
            baseline_consume(
                bootstrap, warehouse, settings.sink_batch_size, settings.sink_batch_seconds
            )
        )

        def check() -> None:
            if task.done():
                task.result()
                raise RuntimeError("the baseline consumer stopped")

        try:
            pids = {"consumer": os.getpid(), "broker": broker_pid}
            throughput = await measure(offsets, BASELINE_GROUP, target, started, pids, check)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return throughput, row_count(warehouse, EVENT_TABLES)
    finally:
        warehouse.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def worker_process(bootstrap: str, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`pingan worker --no-api` with its own data dir and group, stopped on the way out."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        "PINGAN_DATA_DIR": str(data_dir),
        "PINGAN_WORKER_ID": WORKER_GROUP,
        "PINGAN_API_PORT": str(free_port()),
    }
    data_dir.mkdir(parents=True)
    with (data_dir / "worker.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pingan.cli", "worker", "--no-api"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    except Exception:
        step(f"the worker's log ends with:\n{log_tail(data_dir / 'worker.log')}")
        raise
    finally:
        stop(proc)


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


async def steady_stream(bootstrap: str, source: EventSource, rate: float, seconds: float) -> float:
    """Publish `rate` events/s for `seconds`, each made just before it is sent."""
    async with Publisher(bootstrap) as publisher:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            await publisher.publish_many(source.take(int(elapsed * rate) - source.made))
            await asyncio.sleep(TICK_SECONDS)
        return time.monotonic() - started


async def drain(offsets: Offsets, events: int, alerts: int, check: Callable[[], None]) -> None:
    """Wait until the worker has committed every event published and every alert raised."""
    for topics, target in ((EVENT_TOPICS, events), ((ALERTS,), alerts)):
        async for _, done in commits(offsets, WORKER_GROUP, topics, check):
            if done >= target:
                break


def step(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


async def produce(bootstrap: str, watchlist: list[WatchlistPlate], events: list[Event]) -> float:
    """Publish the watchlist, then the backlog; returns the seconds the backlog took."""
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(watchlist)
        started = time.perf_counter()
        await publisher.publish_many(events)
        return time.perf_counter() - started


async def run_pipeline(
    bootstrap: str,
    data_dir: Path,
    offsets: Offsets,
    target: int,
    broker_pid: int,
    backlog: EventSource,
    live: EventSource,
    opts: Options,
) -> WorkerRun:
    """Throughput on the backlog, then latency on a steady stream, then what chDB holds."""
    with worker_process(bootstrap, data_dir) as proc:

        def check() -> None:
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {proc.returncode}")

        pids = {"consumer": proc.pid, "broker": broker_pid}
        throughput = await measure(offsets, WORKER_GROUP, target, time.monotonic(), pids, check)
        step(f"latency phase: {opts.live_rate:,.0f} events/s for {opts.live_seconds:.0f} s")
        since_ms = time.time_ns() // 1_000_000
        live_seconds = await steady_stream(bootstrap, live, opts.live_rate, opts.live_seconds)
        await drain(offsets, target + live.made, backlog.watched + live.watched, check)
        step("stopping the worker")
        stop_seconds = await asyncio.to_thread(stop, proc)
    warehouse = open_warehouse(Settings(data_dir=data_dir))
    try:
        latency = warehouse.query(LATENCY_SQL, {"since_ms": since_ms})[0]
        return WorkerRun(
            throughput=throughput,
            latency=Latency(
                events=live.made,
                events_per_second=live.made / live_seconds,
                alerts_expected=live.watched,
                **latency,
            ),
            rows=row_count(warehouse, EVENT_TABLES),
            alerts=row_count(warehouse, ["alerts"]),
            dead_letters=row_count(warehouse, ["dead_letters"]),
            exit_code=proc.returncode,
            stop_seconds=stop_seconds,
        )
    finally:
        warehouse.close()


async def bench(opts: Options, bootstrap: str, broker_pid: int, tmp: Path) -> Report:
    await create_topics(bootstrap)
    watchlist = make_watchlist(opts.watchlist_size)
    backlog = EventSource("backlog", opts.watchlist_every, watchlist, opts.seed)
    live = EventSource("live", opts.live_watchlist_every, watchlist, opts.seed + 1)
    step(f"producing {opts.events:,} events and {len(watchlist)} watchlist plates")
    produce_seconds = await produce(bootstrap, watchlist, backlog.take(opts.events))
    async with Offsets(bootstrap) as offsets:
        target = await offsets.end(EVENT_TOPICS)
        step("baseline: aiokafka consumer → chDB")
        baseline, baseline_rows = await run_baseline(
            bootstrap, tmp / "baseline", offsets, target, broker_pid
        )
        step("pipeline: pingan worker --no-api")
        run = await run_pipeline(
            bootstrap, tmp / "worker", offsets, target, broker_pid, backlog, live, opts
        )
    return Report(
        events=opts.events,
        passages=backlog.passages,
        watchlisted_passages=backlog.watched,
        producer_seconds=produce_seconds,
        producer_events_per_second=opts.events / produce_seconds,
        baseline=baseline,
        pipeline=run.throughput,
        pipeline_vs_baseline=run.throughput.events_per_second / baseline.events_per_second,
        latency=run.latency,
        checks=Checks(
            pipeline_rows=run.rows,
            pipeline_rows_expected=opts.events + live.made,
            baseline_rows=baseline_rows,
            baseline_rows_expected=opts.events,
            alerts=run.alerts,
            alerts_expected=backlog.watched + live.watched,
            dead_letters=run.dead_letters,
            worker_exit_code=run.exit_code,
            worker_stop_seconds=run.stop_seconds,
        ),
    )


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
def local_broker(data_dir: Path) -> Iterator[tuple[str, int]]:
    """A broker of our own on free ports: (bootstrap, pid); stopped on the way out."""
    ports = {"kafka_port": free_port(), "kafka_controller_port": free_port()}
    settings = Settings(data_dir=data_dir, **ports)
    try:
        bootstrap = kafka.up(settings)
        yield bootstrap, kafka.status(settings)["pid"]
    finally:
        kafka.down(settings)


def check_mark(found: int, expected: int) -> str:
    return f"{found:,} / {expected:,} {'OK' if found == expected else 'MISMATCH'}"


def render(r: Report, path: Path) -> str:
    b, p, lat, c = r.baseline, r.pipeline, r.latency, r.checks
    header = f"{'':28}{'events':>10}{'seconds':>10}{'events/s':>11}{'start-up s':>12}  CPU cores"
    rows = [
        f"{'producer (Publisher)':28}{r.events:>10,}{r.producer_seconds:>10.2f}"
        f"{r.producer_events_per_second:>11,.0f}",
        *(
            f"{name:28}{t.events:>10,}{t.seconds:>10.2f}{t.events_per_second:>11,.0f}"
            f"{t.startup_seconds:>12.1f}  {t.cpu_cores['consumer']:.2f} consumer, "
            f"{t.cpu_cores['broker']:.2f} broker"
            for name, t in (("baseline (aiokafka → chDB)", b), ("pipeline (pingan worker)", p))
        ),
        f"{'pipeline / baseline':28}{'':20}{r.pipeline_vs_baseline:>11.2f}x",
    ]
    return "\n".join(
        [
            f"Pingan pipeline benchmark: {r.events:,} events ({r.passages:,} vehicle passages, "
            f"{r.watchlisted_passages} watchlisted), {r.machine['nproc']} cores, "
            f"load average at start {r.machine['loadavg_at_start'][0]:.1f}",
            header,
            *rows,
            "(throughput is first to last commit of the consumer group; start-up is before)",
            f"latency phase: {lat.events:,} events at {lat.events_per_second:,.0f}/s, "
            f"alerts {check_mark(lat.alerts, lat.alerts_expected)}: "
            f"p50 {lat.p50_ms} ms, p99 {lat.p99_ms} ms, max {lat.max_ms} ms",
            f"rows, pipeline (backlog + latency phase): "
            f"{check_mark(c.pipeline_rows, c.pipeline_rows_expected)}",
            f"rows, baseline: {check_mark(c.baseline_rows, c.baseline_rows_expected)}",
            f"alerts, all: {check_mark(c.alerts, c.alerts_expected)}; "
            f"dead letters: {c.dead_letters}",
            f"worker stopped in {c.worker_stop_seconds:.1f} s (exit {c.worker_exit_code}); "
            f"wall time {r.wall_seconds:.0f} s",
            f"written to {path}",
        ]
    )


def save(report: Report) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"pipeline-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return path


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--events", type=int, default=200_000, help="backlog size")
    parser.add_argument(
        "--watchlist-every", type=int, default=1_000, help="one backlog passage in N is watched"
    )
    parser.add_argument("--live-rate", type=float, default=1_000.0, help="latency phase events/s")
    parser.add_argument("--live-seconds", type=float, default=20.0, help="latency phase length")
    parser.add_argument(
        "--live-watchlist-every",
        type=int,
        default=50,
        help="one latency-phase passage in N is watched (more alerts than the backlog's rate)",
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
        with local_broker(Path(tmp) / "broker") as (bootstrap, broker_pid):
            report = asyncio.run(bench(opts, bootstrap, broker_pid, Path(tmp)))
            step("stopping the broker")
    report = replace(report, machine=machine_info, wall_seconds=time.monotonic() - started)
    print(render(report, save(report)))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)  # everything started has been stopped and removed on the way out

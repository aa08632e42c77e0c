"""`make chaos`: faults and hostile input on the real local stack, counted.

`python -m bench.chaos` starts its own Kafka broker (temp dir, free ports) and a real
`pingan worker` process (embedded chDB, API and webhooks on a free port), then runs, in turn:

- fuzz: `--messages` messages across every event topic, built from the schemas by
  Hypothesis and mutated (wild values, missing fields, garbage bytes, far timestamps), plus
  `--requests` webhook calls, validly HMAC-signed or mutated;
- kills: a labelled simulator scenario published while the worker is SIGKILLed `--kills`
  times at random points, each time restarted;
- broker: the broker frozen (SIGSTOP) for `--outage` seconds under a stream of webhook calls;
- insert faults: through the warehouse's test-only fault hook (PINGAN_TEST_WAREHOUSE_FAULT),
  inserts that fail for a while (to be retried), then rows ClickHouse refuses (to be
  dead-lettered), under `--fault-events` valid events;
- subscribers: one slow and `--idle-subscribers` idle `alerts` subscriptions, while
  `--probes` watchlist alerts are raised one at a time.

Then the worker is stopped and its chDB read: every message is stored (by Kafka partition and
offset), dead-lettered (with its reason) or lost. Failures are figures, not crashes of the
harness. The table is printed and written to bench/results/chaos.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import websockets
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from graphql_api.access import Role
from graphql_api.tokens import mint_token
from ingest.http.auth import DEVICE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from ingest.http.credentials import issue_key
from ingest.simulator.scenario import Scenario
from ingest.simulator.scoring import Label
from pingan.platform.consumer_groups import group_lag
from pingan.platform.device_secrets import DeviceSecretBox
from pingan.platform.district import community_ids
from pingan.platform.provision import create_topics
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.stack import kafka
from pingan.platform.stack.kafka import free_port
from pingan.platform.warehouse import Warehouse, open_warehouse
from schemas.alerts import Alert, WatchlistCategory, WatchlistPlate
from schemas.credentials import CredentialScheme
from schemas.events import (
    AccessMethod,
    CameraAnalyticsKind,
    DeviceKind,
    Direction,
    DoorKind,
    PerimeterAlarmKind,
    PlateColour,
    VehiclePassage,
    Wearer,
    utc_now,
)
from schemas.reference import Device
from schemas.topics import (
    ALERTS,
    BRACELET_READINGS,
    CAMERA_ANALYTICS,
    DEAD_LETTERS,
    DEVICE_TELEMETRY,
    DOOR_ACCESS,
    EVENT_TOPICS,
    FACE_CAPTURES,
    PERIMETER_ALARMS,
    VEHICLE_PASSAGES,
    Topic,
)
from streams.engine import changelog_topics
from streams.rules.catalogue import all_rules

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "chaos.json"
WORKER_ID = "pingan-chaos"
FAULT_ENV = "PINGAN_TEST_WAREHOUSE_FAULT"
"""The warehouse's test-only fault hook (pingan/platform/warehouse_faults.py)."""
TRANSIENT_FAILURES = 5
"""Inserts failed in a row: the sink backs off doubling from 0.2 s, so 5 take about 6 s and
stay well inside the stall window."""
REJECT_MARK = "chaos-refused"
"""Rows whose event_id holds this are refused by ClickHouse under the `reject` fault."""
RETRY_LOG_MARK = "failed, retrying"
"""What the sink logs for each insert it retries (streams/sink.py)."""
ALERT_DEADLINE_S = 1.0
SESSION_TIMEOUT_S = 30
"""The worker's Kafka session: a worker restarted after SIGKILL waits this out before the
group hands it its partitions back (60 s by default); shorter risks rebalances when
the machine is loaded."""
SEND_CHUNK = 2_000

log = logging.getLogger("bench.chaos")
KILL_COMMUNITIES = 2
"""The kill scenario's communities: few, so that its events stay few at CI size."""


@dataclass(frozen=True)
class Options:
    messages: int = 100_000
    requests: int = 10_000
    kills: int = 10
    outage: float = 60.0
    fault_events: int = 5_000
    idle_subscribers: int = 200
    probes: int = 50
    scenario_minutes: int = 360
    stall: float = 120.0
    """Seconds without progress after which the worker counts as stuck."""
    seed: int = 15


def step(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- the stack ------------------------------------------------------------------------------


class Worker:
    """`pingan worker` as its own process; an exit nobody asked for is a crash, restarted."""

    def __init__(self, bootstrap: str, data_dir: Path, device_secret_key: str) -> None:
        self.api_port = free_port()
        self.log_path = data_dir / "worker.log"
        self.token_secret = secrets.token_urlsafe(32)
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP": bootstrap,
            "PINGAN_DATA_DIR": str(data_dir),
            "PINGAN_API_PORT": str(self.api_port),
            "PINGAN_SQL_PORT": str(free_port()),
            "PINGAN_WORKER_ID": WORKER_ID,
            "PINGAN_SINK_BATCH_SECONDS": "0.2",
            "PINGAN_API_TOKEN_SECRET": self.token_secret,
            "PINGAN_LOG_LEVEL": "INFO",
            "PINGAN_DEVICE_SECRET_KEY": device_secret_key,
            "PINGAN_KAFKA_SESSION_TIMEOUT_SECONDS": str(SESSION_TIMEOUT_S),
        }
        self.env.pop("CLICKHOUSE_URL", None)
        self.process: subprocess.Popen[bytes] | None = None
        self.crashes: list[int] = []
        self.failed_starts: list[int] = []
        self.kills = 0
        self.restarts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, extra_env: dict[str, str] | None = None, timeout: float = 240.0) -> None:
        env = {**self.env, **(extra_env or {})}
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pingan.cli", "worker"],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        """Ready when the API answers: it starts after Faust has recovered its tables."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                self.restart_after_failed_start()
                return
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=1).is_success:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in {timeout:.0f}s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart_after_failed_start(self) -> None:
        """An exit before the API answers: the tree or the stack, not the fault under test."""
        assert self.process is not None
        self.failed_starts.append(self.process.returncode)
        step(f"  the worker did not start ({self.process.returncode}); starting it again")
        if len(self.failed_starts) > 5:
            raise RuntimeError(f"the worker does not start:\n{self.log_tail()}")
        self.start()

    def restart_after_crash(self) -> None:
        assert self.process is not None
        self.crashes.append(self.process.returncode)
        step(f"  the worker exited by itself ({self.process.returncode}); restarting it")
        if len(self.crashes) > 20:
            raise RuntimeError(f"the worker keeps crashing:\n{self.log_tail()}")
        self.restarts += 1
        self.start()

    def check(self) -> None:
        if self.process is not None and not self.alive():
            self.restart_after_crash()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.kills += 1
        self.restarts += 1
        self.start()

    def restart(self, extra_env: dict[str, str] | None = None) -> None:
        self.stop()
        self.restarts += 1
        self.start(extra_env)

    def stop(self, timeout: float = 60.0) -> None:
        if self.process is None:
            return
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        elif self.process.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
            self.crashes.append(self.process.returncode)
        self.process = None

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def token(self) -> str:
        settings = Settings(api_token_secret=self.token_secret)
        return mint_token(settings, Role.DISTRICT_ADMIN, "chaos", None, timedelta(hours=4))


def wait_drained(bootstrap: str, worker: Worker, stall: float) -> bool:
    """True once nothing is left on the event, alert and dead-letter topics twice in a row;
    False when the lag has not moved for `stall` seconds (a stuck worker)."""
    topics = [*EVENT_TOPICS, DEAD_LETTERS, ALERTS]
    quiet, last_lag, last_move = 0, None, time.monotonic()
    while quiet < 2:
        worker.check()
        lag = group_lag(bootstrap, WORKER_ID, topics)
        if lag != last_lag:
            last_lag, last_move = lag, time.monotonic()
        if time.monotonic() - last_move > stall:
            step(f"  stuck: {lag} messages not consumed for {stall:.0f}s")
            return False
        quiet = quiet + 1 if lag == 0 else 0
        time.sleep(1.0)
    return True


# --- what was sent, and what became of it ---------------------------------------------------


@dataclass(frozen=True)
class Sent:
    topic: str
    partition: int
    offset: int
    good: bool
    """Unmutated, valid by the schemas: must be stored."""


@dataclass
class Outcomes:
    stored: set[tuple[str, int, int]] = field(default_factory=set)
    dead: dict[tuple[str, int, int], str] = field(default_factory=dict)
    event_ids: dict[str, Counter[str]] = field(default_factory=dict)

    def tally(self, sent: Sequence[Sent]) -> dict[str, Any]:
        counts = Counter[str]()
        lost_by_topic = Counter[str]()
        for s in sent:
            where = (s.topic, s.partition, s.offset)
            counts["sent"] += 1
            counts["good" if s.good else "mutated"] += 1
            if where in self.stored:
                counts["stored"] += 1
            elif where in self.dead:
                counts["dead_lettered"] += 1
                counts["dead_lettered_without_reason"] += not self.dead[where].strip()
                counts["good_dead_lettered"] += s.good
            else:
                counts["lost"] += 1
                counts["good_lost"] += s.good
                lost_by_topic[s.topic] += 1
        return {k: counts[k] for k in TALLY_KEYS} | {"lost_by_topic": dict(lost_by_topic)}


TALLY_KEYS = (
    "sent",
    "good",
    "mutated",
    "stored",
    "dead_lettered",
    "dead_lettered_without_reason",
    "good_dead_lettered",
    "lost",
    "good_lost",
)


def read_outcomes(warehouse: Warehouse) -> Outcomes:
    outcomes = Outcomes()
    for topic in EVENT_TOPICS:
        assert topic.table is not None
        rows = warehouse.query(
            f"SELECT kafka_partition AS p, kafka_offset AS o, event_id FROM {topic.table}"
        )
        outcomes.stored |= {(topic.name, int(r["p"]), int(r["o"])) for r in rows}
        outcomes.event_ids[topic.name] = Counter(_text(r["event_id"]) for r in rows)
    for r in warehouse.query(
        "SELECT source_topic AS t, source_partition AS p, source_offset AS o, reason "
        "FROM dead_letters"
    ):
        outcomes.dead[(_text(r["t"]), int(r["p"]), int(r["o"]))] = _text(r["reason"])
    return outcomes


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


async def send_raw(
    bootstrap: str, messages: Sequence[tuple[Topic, bytes | None, bytes, bool]]
) -> list[Sent]:
    """Each (topic, key, value, good) as is, acknowledged by every replica; where it landed."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sent: list[Sent] = []
    try:
        for start in range(0, len(messages), SEND_CHUNK):
            chunk = messages[start : start + SEND_CHUNK]
            futures = [await producer.send(t.name, value, key=key) for t, key, value, _ in chunk]
            for (topic, _, _, good), meta in zip(
                chunk, await asyncio.gather(*futures), strict=True
            ):
                sent.append(Sent(topic.name, meta.partition, meta.offset, good))
    finally:
        await producer.stop()
    return sent


# --- fuzzed messages, from the schemas ------------------------------------------------------

COMMUNITIES = sorted(community_ids())
ids = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"), min_size=1, max_size=24)
unit = st.floats(0.0, 1.0)
WILD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.sampled_from(["1900-01-01T00:00:00Z", "2299-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def embedding(rng_seed: int) -> list[float]:
    rng = random.Random(rng_seed)
    return [round(rng.uniform(-1, 1), 5) for _ in range(128)]


FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    VEHICLE_PASSAGES.name: {
        "plate": st.integers(10000, 99999).map(lambda n: f"鄂A{n}"),
        "plate_colour": st.sampled_from([c.value for c in PlateColour]),
        "direction": st.sampled_from([d.value for d in Direction]),
        "gate_id": ids,
        "camera_id": ids,
        "confidence": unit,
    },
    DOOR_ACCESS.name: {
        "door_id": ids,
        "door_kind": st.sampled_from([k.value for k in DoorKind]),
        "method": st.sampled_from([m.value for m in AccessMethod]),
        "person_id": st.none() | ids,
        "granted": st.booleans(),
    },
    FACE_CAPTURES.name: {
        "camera_id": ids,
        "embedding": st.integers(0, 2**32).map(embedding),
        "quality": unit,
        "bbox": st.fixed_dictionaries(
            {
                "x": st.floats(0, 1920),
                "y": st.floats(0, 1080),
                "width": st.floats(1, 400),
                "height": st.floats(1, 400),
            }
        ),
        "match_score": st.none() | st.floats(-1, 1),
    },
    DEVICE_TELEMETRY.name: {
        "device_id": ids,
        "device_kind": st.sampled_from([k.value for k in DeviceKind]),
        "metrics": st.dictionaries(ids, st.floats(-1e6, 1e6), max_size=4),
    },
    PERIMETER_ALARMS.name: {
        "fence_zone": ids,
        "alarm_kind": st.sampled_from([k.value for k in PerimeterAlarmKind]),
    },
    BRACELET_READINGS.name: {
        "bracelet_id": ids,
        "wearer": st.sampled_from([w.value for w in Wearer]),
        "lat": st.none() | st.floats(30.0, 31.0),
        "lon": st.none() | st.floats(114.0, 115.0),
        "battery": unit,
    },
    CAMERA_ANALYTICS.name: {
        "camera_id": ids,
        "analytics_kind": st.sampled_from([k.value for k in CameraAnalyticsKind]),
        "confidence": unit,
        "floor": st.none() | st.integers(-5, 200),
        "window_column": st.none() | st.integers(1, 100),
        "trajectory": st.lists(
            st.fixed_dictionaries({"t_s": unit, "x": st.floats(0, 1920), "y": st.floats(0, 1080)}),
            max_size=5,
        ),
    },
}
"""Valid values per field of each event topic's record (schemas/events.py)."""


@st.composite
def event_fields(draw: st.DrawFn, topic_name: str, community: str | None = None) -> dict:
    now = utc_now()
    ago = draw(st.integers(0, 86_400_000))
    occurred = now - timedelta(milliseconds=ago)
    return {
        "schema_version": 1,
        "event_id": f"fz-{uuid.uuid4().hex}",
        "community_id": community or draw(st.sampled_from(COMMUNITIES)),
        "occurred_at": occurred.isoformat(timespec="milliseconds"),
        "received_at": now.isoformat(timespec="milliseconds"),
        **{name: draw(values) for name, values in FIELDS[topic_name].items()},
    }


@st.composite
def mutated(draw: st.DrawFn, fields: dict) -> bytes:
    """One of the ways a device or a bug breaks a message."""
    names = sorted(fields)
    how = draw(st.sampled_from(["wild", "wild", "wild", "drop", "bytes", "truncate", "skew"]))
    if how == "bytes":
        return draw(st.binary(max_size=200))
    changed = dict(fields)
    if how == "drop":
        del changed[draw(st.sampled_from(names))]
    elif how == "skew":
        changed["occurred_at"] = (utc_now() + timedelta(days=draw(st.integers(1, 3650)))).isoformat(
            timespec="milliseconds"
        )
    else:
        changed[draw(st.sampled_from(names))] = draw(WILD)
    raw = dumps(changed)
    if how == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    return raw


@st.composite
def fuzz_message(draw: st.DrawFn) -> tuple[Topic, bytes, bytes, bool]:
    """(topic, key, value, good): a valid record of a random event topic, mutated 1 in 3."""
    topic = draw(st.sampled_from(EVENT_TOPICS))
    fields = draw(event_fields(topic.name))
    key = str(fields["community_id"]).encode()
    if draw(st.integers(0, 2)) == 0:
        return topic, key, draw(mutated(fields)), False
    return topic, key, orjson.dumps(fields), True


def dumps(value: object) -> bytes:
    """JSON as a device might send it: integers past 64 bits and NaN included."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False).encode()


def draw_all(strategy: st.SearchStrategy[Any], count: int, start_seed: int) -> list[Any]:
    """`count` examples of `strategy`, drawn by Hypothesis's own engine (not `.example()`)."""
    made: list[Any] = []
    round_seed = start_seed
    while len(made) < count:

        @seed(round_seed)
        @settings(
            max_examples=count - len(made),
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def collect(example: Any) -> None:
            made.append(example)

        collect()
        round_seed += 1
    return made[:count]


# --- webhooks -------------------------------------------------------------------------------

WEBHOOKS: dict[DeviceKind, list[tuple[str, Topic]]] = {
    DeviceKind.CAMERA: [
        ("/ingest/v1/vehicle-passages", VEHICLE_PASSAGES),
        ("/ingest/v1/camera-analytics", CAMERA_ANALYTICS),
    ],
    DeviceKind.DOOR: [("/ingest/v1/door-access", DOOR_ACCESS)],
    DeviceKind.BRACELET_GATEWAY: [("/ingest/v1/bracelet-readings", BRACELET_READINGS)],
}


@dataclass(frozen=True)
class Signer:
    device: Device
    secret: str


def signers(communities: Sequence[str], box: DeviceSecretBox) -> tuple[list[Signer], list[Any]]:
    """An HMAC-signing device of each webhook kind per community, and the records that
    register them (secrets sealed with the worker's key)."""
    made, records = [], []
    for community in communities:
        for kind in WEBHOOKS:
            device = Device(
                device_id=f"chaos-{community}-{kind.value}",
                community_id=community,
                device_kind=kind,
            )
            key = issue_key(device.device_id, CredentialScheme.HMAC, "chaos", utc_now(), box)
            made.append(Signer(device, key.key))
            records += [device, key.credential]
    return made, records


@dataclass(frozen=True)
class Call:
    kind: str
    path: str
    topic: Topic
    body: bytes
    headers: dict[str, str]
    event_ids: tuple[str, ...]


def signed(signer: Signer, body: bytes, stamp: int | None = None) -> dict[str, str]:
    when = str(stamp if stamp is not None else int(time.time()))
    return {
        DEVICE_HEADER: signer.device.device_id,
        TIMESTAMP_HEADER: when,
        SIGNATURE_HEADER: signature(signer.secret, when, body),
        "Content-Type": "application/json",
    }


@st.composite
def webhook_call(draw: st.DrawFn, fleet: Sequence[Signer], max_body: int) -> Call:
    """A call of a device, valid (signed, its own community) or mutated one way."""
    signer = draw(st.sampled_from(fleet))
    path, topic = draw(st.sampled_from(WEBHOOKS[signer.device.device_kind]))
    events = draw(
        st.lists(event_fields(topic.name, signer.device.community_id), min_size=1, max_size=5)
    )
    for event in events:
        event.pop("received_at")
        event["event_id"] = f"wh-{uuid.uuid4().hex}"
    kind = draw(
        st.sampled_from(
            ["valid"] * 5
            + ["mutated_body", "bad_signature", "stale", "unknown_device", "other_community"]
            + ["oversized"]
        )
    )
    body = orjson.dumps(events)
    headers = signed(signer, body)
    if kind == "mutated_body":
        body = draw(mutated(events[0]))
        headers = signed(signer, body)
    elif kind == "bad_signature":
        headers[SIGNATURE_HEADER] = "sha256=" + "0" * 64
    elif kind == "stale":
        headers = signed(signer, body, int(time.time()) - 86_400)
    elif kind == "unknown_device":
        headers[DEVICE_HEADER] = "chaos-nobody"
    elif kind == "other_community":
        other = next(c for c in COMMUNITIES if c != signer.device.community_id)
        body = orjson.dumps([{**e, "community_id": other} for e in events])
        headers = signed(signer, body)
    elif kind == "oversized":
        body = b"[" + b" " * (max_body + 1) + b"]"
        headers = signed(signer, body)
    return Call(kind, path, topic, body, headers, event_ids_in(body))


def event_ids_in(body: bytes) -> tuple[str, ...]:
    """The ids of the events a body carries, as sent: a mutated body is one event (its id
    perhaps mutated too), not the batch it was made from."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ()
    items = data if isinstance(data, list) else [data]
    return tuple(
        e["event_id"] for e in items if isinstance(e, dict) and isinstance(e.get("event_id"), str)
    )


@dataclass
class CallResults:
    statuses: Counter[str] = field(default_factory=Counter)
    acknowledged: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, call: Call, status: int, answer: dict) -> None:
        self.statuses[f"{call.kind} {status}"] += 1
        if 200 <= status < 300:
            self.acknowledged[call.topic.name].update(call.event_ids)


async def post_calls(base_url: str, calls: Sequence[Call], clients: int) -> CallResults:
    results = CallResults()
    queue = iter(calls)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def client() -> None:
            for call in queue:
                await post_one(session, base_url, call, results)

        await asyncio.gather(*(client() for _ in range(clients)))
    return results


async def post_one(
    session: aiohttp.ClientSession, base_url: str, call: Call, results: CallResults
) -> int:
    try:
        async with session.post(base_url + call.path, data=call.body, headers=call.headers) as r:
            answer = await r.json(content_type=None) if r.content_length != 0 else {}
            results.add(call, r.status, answer if isinstance(answer, dict) else {})
            return r.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        results.errors[type(exc).__name__] += 1
        results.statuses[f"{call.kind} no answer"] += 1
        return 0


def acknowledged_lost(results: CallResults, outcomes: Outcomes) -> int:
    return sum(
        1
        for topic, event_ids in results.acknowledged.items()
        for event_id in event_ids
        if outcomes.event_ids.get(topic, Counter())[event_id] == 0
    )


# --- scenarios ------------------------------------------------------------------------------


@dataclass
class Chaos:
    """The run's state: the broker, the worker, and everything sent, per scenario."""

    opts: Options
    broker_settings: Settings
    bootstrap: str
    worker: Worker
    fleet: list[Signer]
    max_body: int
    sent: dict[str, list[Sent]] = field(default_factory=dict)
    calls: dict[str, CallResults] = field(default_factory=dict)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    scenario: Scenario | None = None
    scenario_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def fuzz(self) -> None:
        opts = self.opts
        step(f"fuzz: drawing {opts.messages:,} messages with Hypothesis")
        messages = draw_all(fuzz_message(), opts.messages, opts.seed)
        step(f"fuzz: sending them across {len(EVENT_TOPICS)} event topics")
        self.sent["fuzz"] = asyncio.run(send_raw(self.bootstrap, messages))
        step(f"fuzz: drawing and posting {opts.requests:,} webhook calls")
        calls = draw_all(webhook_call(self.fleet, self.max_body), opts.requests, opts.seed)
        self.calls["fuzz"] = asyncio.run(post_calls(self.worker.base_url, calls, clients=16))
        self.worker.check()
        self.figures["fuzz"] = {"drained": wait_drained(self.bootstrap, self.worker, opts.stall)}

    def kills(self) -> None:
        opts = self.opts
        end = utc_now()
        scenario = Scenario.build(
            opts.seed,
            timedelta(minutes=opts.scenario_minutes),
            end=end,
            communities=KILL_COMMUNITIES,
        )
        self.scenario = scenario
        events = list(scenario.events())
        for event in events:
            self.scenario_ids[_topic_of(event).name].add(event.event_id)
        step(
            f"kills: {len(events):,} scenario events, {len(scenario.labels)} labelled "
            f"incidents, {opts.kills} SIGKILLs"
        )
        rng = random.Random(opts.seed)
        cuts = sorted(rng.sample(range(1, len(events)), min(opts.kills, len(events) - 1)))
        asyncio.run(publish(self.bootstrap, scenario.reference))
        for start, stop in zip([0, *cuts], [*cuts, len(events)], strict=True):
            asyncio.run(publish(self.bootstrap, events[start:stop]))
            if stop == len(events):
                break
            # A random point of the processing: how far the worker got is the fault's point.
            time.sleep(rng.uniform(0.0, 3.0))
            step(f"  kill -9 after {stop:,} events")
            self.worker.kill()
        drained = wait_drained(self.bootstrap, self.worker, opts.stall)
        self.figures["kills"] = {"kills": self.worker.kills, "drained": drained}

    def broker_outage(self) -> None:
        opts = self.opts
        pid = kafka.status(self.broker_settings)["pid"]
        step(f"broker: freezing the broker (pid {pid}) for {opts.outage:.0f}s under webhook calls")
        outcome = asyncio.run(self._calls_through_outage(pid))
        self.figures["broker"] = outcome
        self.worker.check()
        outcome["drained"] = wait_drained(self.bootstrap, self.worker, opts.stall)

    async def _calls_through_outage(self, pid: int) -> dict[str, Any]:
        results = CallResults()
        self.calls["broker"] = results
        phase = {"name": "before"}
        by_phase: dict[str, Counter[int]] = defaultdict(Counter)
        rng = random.Random(self.opts.seed)
        stop = asyncio.Event()

        async def client(session: aiohttp.ClientSession) -> None:
            while not stop.is_set():
                signer = rng.choice([s for s in self.fleet if s.device.device_kind in WEBHOOKS])
                path, topic = WEBHOOKS[signer.device.device_kind][0]
                fields = valid_fields(topic, signer.device.community_id)
                body = orjson.dumps([fields])
                call = Call("valid", path, topic, body, signed(signer, body), (fields["event_id"],))
                status = await post_one(session, self.worker.base_url, call, results)
                by_phase[phase["name"]][status] += 1
                if status != 200:
                    await asyncio.sleep(0.2)  # as a device backs off; keeps the loop from spinning

        timeout = aiohttp.ClientTimeout(total=self.opts.outage + 60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            clients = [asyncio.create_task(client(session)) for _ in range(4)]
            await until_answers(by_phase["before"], 200, 20)
            os.kill(pid, signal.SIGSTOP)
            phase["name"] = "during"
            stopped = time.monotonic()
            await asyncio.sleep(self.opts.outage)  # the outage itself: a fault's length
            os.kill(pid, signal.SIGCONT)
            outage = time.monotonic() - stopped
            phase["name"] = "after"
            resumed = time.monotonic()
            recovered = await until_answers(by_phase["after"], 200, 20, timeout=180)
            recovery = time.monotonic() - resumed
            stop.set()
            await asyncio.gather(*clients)
        return {
            "outage_seconds": round(outage, 1),
            "recovered": recovered,
            "recovery_seconds": round(recovery, 1),
            "answers": {p: dict(sorted(c.items())) for p, c in by_phase.items()},
        }

    def insert_faults(self) -> None:
        """Transient failures (retried) on one table, then rows ClickHouse refuses (to be
        dead-lettered) on another, through the warehouse's test-only fault hook."""
        opts = self.opts
        failures = TRANSIENT_FAILURES
        step(
            f"insert faults: {failures} failing inserts, then refused rows; "
            f"{opts.fault_events:,} events"
        )
        mark = self.worker.log_size()
        sent = self._faulty(f"transient:{VEHICLE_PASSAGES.table}:{failures}", VEHICLE_PASSAGES)
        retried = self.worker.log_since(mark).count(RETRY_LOG_MARK)
        sent += self._faulty(f"reject:{DOOR_ACCESS.table}:{REJECT_MARK}", DOOR_ACCESS)
        self.sent["insert_faults"] = sent
        self.figures["insert_faults"] |= {
            "transient_failures": failures,
            "inserts_retried": retried,
        }

    def _faulty(self, fault: str, topic: Topic) -> list[Sent]:
        self.worker.restart({FAULT_ENV: fault})
        messages = []
        for i in range(self.opts.fault_events // 2):
            fields = valid_fields(topic, COMMUNITIES[i % len(COMMUNITIES)])
            refused = topic is DOOR_ACCESS and i % 50 == 0
            if refused:
                fields["event_id"] = f"{REJECT_MARK}-{fields['event_id']}"
            messages.append(
                (topic, fields["community_id"].encode(), orjson.dumps(fields), not refused)
            )
        sent = asyncio.run(send_raw(self.bootstrap, messages))
        drained = wait_drained(self.bootstrap, self.worker, self.opts.stall)
        self.figures.setdefault("insert_faults", {})[f"drained {fault}"] = drained
        return sent

    def subscribers(self) -> None:
        opts = self.opts
        step(f"subscribers: 1 slow, {opts.idle_subscribers} idle; {opts.probes} alerts")
        self.figures["subscribers"] = asyncio.run(
            watch_alerts(self.bootstrap, self.worker, opts.idle_subscribers, opts.probes)
        )
        self.worker.check()


_sample_rng = random.Random(0)


def valid_fields(topic: Topic, community: str) -> dict:
    """A plain valid event of `topic`, for streams paced by the clock rather than drawn."""
    now = utc_now()
    common = {
        "event_id": f"ok-{uuid.uuid4().hex}",
        "community_id": community,
        "occurred_at": (now - timedelta(seconds=1)).isoformat(),
        "received_at": now.isoformat(),
    }
    plain = {
        VEHICLE_PASSAGES.name: {
            "plate": f"鄂A{_sample_rng.randint(10000, 99999)}",
            "plate_colour": "blue",
            "direction": "in",
            "gate_id": "g1",
            "camera_id": "chaos-cam",
            "confidence": 0.9,
        },
        DOOR_ACCESS.name: {
            "door_id": "d1",
            "door_kind": "unit_door",
            "method": "card",
            "person_id": None,
            "granted": True,
        },
        BRACELET_READINGS.name: {"bracelet_id": "b1", "wearer": "elderly", "battery": 0.8},
        PERIMETER_ALARMS.name: {"fence_zone": "z1", "alarm_kind": "tamper"},
    }
    return common | plain[topic.name]


def _topic_of(event: object) -> Topic:
    return next(t for t in EVENT_TOPICS if isinstance(event, t.record))  # type: ignore[arg-type]


async def publish(bootstrap: str, records: Sequence[Any]) -> None:
    async with Publisher(bootstrap) as publisher:
        for start in range(0, len(records), 5000):
            await publisher.publish_many(records[start : start + 5000])


async def until_answers(
    answers: Counter[int], status: int, count: int, timeout: float = 60.0
) -> bool:
    """Polls a counter the posting clients fill: readiness by checking."""
    deadline = time.monotonic() + timeout
    while answers[status] < count:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


# --- subscribers ----------------------------------------------------------------------------

SUBSCRIPTION = "subscription { alerts { id type subject communityId explanation } }"


async def subscribe(url: str, token: str, sock: socket.socket | None = None) -> Any:
    ws = await websockets.connect(
        url, subprotocols=["graphql-transport-ws"], sock=sock, max_queue=4, open_timeout=60
    )
    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
    await ws.send(orjson.dumps(init).decode())
    ack = orjson.loads(await ws.recv())
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"subscription refused: {ack}")
    message = {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}
    await ws.send(orjson.dumps(message).decode())
    return ws


async def watch_alerts(bootstrap: str, worker: Worker, idle: int, probes: int) -> dict[str, Any]:
    """Watchlist alerts raised one at a time; every idle subscriber's delay for each, while a
    slow one (tiny receive buffer, reading once every 5 s) is subscribed too."""
    url = f"ws://127.0.0.1:{worker.api_port}/graphql"
    token = worker.token()
    host, port = "127.0.0.1", worker.api_port
    slow_sock = socket.socket()
    slow_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    slow_sock.connect((host, port))
    slow = await subscribe(url, token, sock=slow_sock)
    sockets = [await subscribe(url, token) for _ in range(idle)]
    arrivals: dict[str, list[float]] = defaultdict(list)

    async def listen(ws: Any) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                message = orjson.loads(raw)
                if message.get("type") == "next":
                    alert = message["payload"]["data"]["alerts"]
                    arrivals[alert["subject"]].append(time.monotonic())

    async def crawl() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await slow.recv()
                await asyncio.sleep(5)

    listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
    crawler = asyncio.create_task(crawl())
    plates = [f"鄂Z{90000 + i}" for i in range(probes + 1)]
    now = utc_now()
    await publish(
        bootstrap,
        [WatchlistPlate(plate=p, category=WatchlistCategory.WANTED, added_at=now) for p in plates],
    )
    delays: list[float] = []
    missed = 0
    for index, plate in enumerate(plates):
        warmup = index == 0
        published = time.monotonic()
        await publish(bootstrap, [probe_passage(plate)])
        key = normalised(plate)
        deadline = published + (90.0 if warmup else 10.0)
        while len(arrivals[key]) < idle and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if not warmup:
            got = arrivals[key][:idle]
            delays += [t - published for t in got]
            missed += idle - len(got)
    crawler.cancel()
    for task in listeners:
        task.cancel()
    for ws in [slow, *sockets]:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)
    return latency_figures(delays, missed, idle, probes)


def normalised(plate: str) -> str:
    return "".join(ch for ch in plate.upper() if ch.isalnum())


def probe_passage(plate: str) -> VehiclePassage:
    now = utc_now()
    return VehiclePassage(
        event_id=f"probe-{uuid.uuid4().hex}",
        community_id=COMMUNITIES[0],
        occurred_at=now,
        received_at=now,
        plate=plate,
        plate_colour=PlateColour.BLUE,
        direction=Direction.IN,
        gate_id="g1",
        camera_id="chaos-cam",
        confidence=0.95,
    )


def latency_figures(delays: list[float], missed: int, idle: int, probes: int) -> dict[str, Any]:
    ordered = sorted(delays)

    def pct(p: float) -> float | None:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3) if ordered else None

    late = sum(d > ALERT_DEADLINE_S for d in delays)
    return {
        "idle_subscribers": idle,
        "alerts": probes,
        "deliveries": len(delays),
        "missed": missed,
        "later_than_1s": late,
        "p50_s": round(statistics.median(ordered), 3) if ordered else None,
        "p99_s": pct(0.99),
        "max_s": round(ordered[-1], 3) if ordered else None,
    }


# --- the report -----------------------------------------------------------------------------


def incidents_alerted(labels: Sequence[Label], alerts: Sequence[Alert]) -> dict[str, int]:
    """How many labelled incidents got no alert, exactly one, or more than one."""
    counts = Counter(_alerted(label, alerts) for label in labels)
    return {k: counts[k] for k in ("once", "none", "more")}


def incidents_amiss(labels: Sequence[Label], alerts: Sequence[Alert]) -> list[str]:
    """The incidents not alerted exactly once, named: what to look for in the worker's log."""
    return [
        f"{label.alert_type} {label.subject} {label.start:%H:%M:%S}-{label.end:%H:%M:%S}: {verdict}"
        for label in labels
        if (verdict := _alerted(label, alerts)) != "once"
    ]


def _alerted(label: Label, alerts: Sequence[Alert]) -> str:
    ids = {a.alert_id for a in alerts if label.admits(a)}
    return "none" if not ids else "once" if len(ids) == 1 else "more"


def read_alerts(warehouse: Warehouse) -> list[Alert]:
    alerts = []
    for row in warehouse.query("SELECT * FROM alerts FINAL"):
        row = {k: _text(v) if isinstance(v, bytes) else v for k, v in row.items()}
        row["evidence"] = orjson.loads(row["evidence"])
        alerts.append(Alert.model_validate(row))
    return alerts


def assess(chaos: Chaos, data_dir: Path) -> dict[str, Any]:
    """What became of everything sent, read from the worker's chDB once it has stopped."""
    warehouse = open_warehouse(Settings(data_dir=data_dir))
    try:
        outcomes = read_outcomes(warehouse)
        alerts = read_alerts(warehouse) if chaos.scenario else []
    finally:
        warehouse.close()
    report: dict[str, Any] = {"figures": chaos.figures}
    if "fuzz" in chaos.sent:
        calls = chaos.calls["fuzz"]
        report["fuzz"] = outcomes.tally(chaos.sent["fuzz"]) | {
            "webhook_requests": sum(calls.statuses.values()),
            "webhook_answers": dict(sorted(calls.statuses.items())),
            "webhook_acknowledged_events": sum(map(len, calls.acknowledged.values())),
            "webhook_acknowledged_lost": acknowledged_lost(calls, outcomes),
            "webhook_5xx": sum(n for k, n in calls.statuses.items() if k.endswith(" 500")),
        }
    if chaos.scenario is not None:
        expected = sum(map(len, chaos.scenario_ids.values()))
        rows = distinct = 0
        for topic, event_ids in chaos.scenario_ids.items():
            stored = outcomes.event_ids.get(topic, Counter())
            rows += sum(stored[i] for i in event_ids)
            distinct += sum(1 for i in event_ids if stored[i])
        report["kills"] = {
            "events": expected,
            "rows": rows,
            "distinct_events_stored": distinct,
            "lost": expected - distinct,
            "duplicated": rows - distinct,
            "incidents": len(chaos.scenario.labels),
            "incidents_alerted": incidents_alerted(chaos.scenario.labels, alerts),
            "incidents_amiss": incidents_amiss(chaos.scenario.labels, alerts),
        }
    if "broker" in chaos.calls:
        calls = chaos.calls["broker"]
        report["broker"] = {
            "acknowledged_events": sum(map(len, calls.acknowledged.values())),
            "acknowledged_lost": acknowledged_lost(calls, outcomes),
        }
    if "insert_faults" in chaos.sent:
        report["insert_faults"] = outcomes.tally(chaos.sent["insert_faults"])
    report["worker"] = {
        "crashes": len(chaos.worker.crashes),
        "exit_codes": chaos.worker.crashes,
        "failed_starts": len(chaos.worker.failed_starts),
        "kills": chaos.worker.kills,
        "restarts": chaos.worker.restarts,
    }
    return report


def verdicts(report: dict[str, Any]) -> dict[str, bool]:
    """The issue's required outcomes, one by one."""
    figures = {k: f for k, f in report["figures"].items() if "error" not in f}
    checks: dict[str, bool] = {
        f"{name}: ran to the end": "error" not in f for name, f in report["figures"].items()
    }
    checks["no worker crashes"] = report["worker"]["crashes"] == 0
    if (fuzz := report.get("fuzz")) and "fuzz" in figures:
        checks["fuzz: nothing lost"] = fuzz["lost"] == 0 and fuzz["good_lost"] == 0
        checks["fuzz: valid messages stored"] = fuzz["good_dead_lettered"] == 0
        checks["fuzz: every dead letter has a reason"] = fuzz["dead_lettered_without_reason"] == 0
        checks["webhooks: no acknowledged event lost"] = fuzz["webhook_acknowledged_lost"] == 0
        checks["webhooks: no 500"] = fuzz["webhook_5xx"] == 0
    if (kills := report.get("kills")) and "kills" in figures:
        checks["kills: no row lost"] = kills["lost"] == 0
        checks["kills: no row duplicated"] = kills["duplicated"] == 0
        alerted = kills["incidents_alerted"]
        checks["kills: each incident alerted once"] = alerted["none"] == alerted["more"] == 0
    if broker := figures.get("broker"):
        during = broker["answers"].get("during", {})
        checks["broker: 429 during the outage"] = during.get(429, 0) > 0
        checks["broker: webhooks recovered"] = broker["recovered"]
        checks["broker: no acknowledged event lost"] = report["broker"]["acknowledged_lost"] == 0
    if (faults := report.get("insert_faults")) and "insert_faults" in figures:
        checks["insert faults: nothing lost"] = faults["lost"] == 0
        checks["insert faults: refused rows dead-lettered"] = (
            faults["dead_lettered"] == faults["mutated"]
        )
    if subs := figures.get("subscribers"):
        checks["subscribers: every alert within 1 s"] = (
            subs["missed"] == 0 and subs["later_than_1s"] == 0 and subs["deliveries"] > 0
        )
    return checks


def render(report: dict[str, Any]) -> str:
    figures = {k: f for k, f in report["figures"].items() if "error" not in f}
    lines = [f"{k}: stopped by {f['error']}" for k, f in report["figures"].items() if "error" in f]
    if (fuzz := report.get("fuzz")) and "fuzz" in figures:
        lines.append(
            f"fuzz: {fuzz['sent']:,} messages ({fuzz['good']:,} valid, {fuzz['mutated']:,} "
            f"mutated): stored {fuzz['stored']:,}, dead-lettered {fuzz['dead_lettered']:,} "
            f"({fuzz['dead_lettered_without_reason']} without reason), lost {fuzz['lost']:,} "
            f"(valid lost {fuzz['good_lost']:,}); lost by topic {fuzz['lost_by_topic']}"
        )
        lines.append(
            f"webhooks: {fuzz['webhook_requests']:,} requests, "
            f"{fuzz['webhook_acknowledged_events']:,} events acknowledged, "
            f"{fuzz['webhook_acknowledged_lost']:,} of them lost, "
            f"{fuzz['webhook_5xx']} answered 500"
        )
    if (kills := report.get("kills")) and "kills" in figures:
        a = kills["incidents_alerted"]
        lines.append(
            f"kills: {report['worker']['kills']} kill -9 survived; {kills['events']:,} events, "
            f"lost {kills['lost']:,}, duplicated {kills['duplicated']:,}; "
            f"{kills['incidents']} incidents: alerted once {a['once']}, never {a['none']}, "
            f"more than once {a['more']}"
        )
    if broker := figures.get("broker"):
        lines.append(
            f"broker: {broker['outage_seconds']:.0f} s outage; answers {broker['answers']}; "
            f"recovered {broker['recovered']} in {broker['recovery_seconds']} s; "
            f"acknowledged {report['broker']['acknowledged_events']:,}, "
            f"lost {report['broker']['acknowledged_lost']:,}"
        )
    if (faults := report.get("insert_faults")) and "insert_faults" in figures:
        lines.append(
            f"insert faults: {figures['insert_faults']['inserts_retried']} inserts "
            f"retried; {faults['sent']:,} events: stored {faults['stored']:,}, dead-lettered "
            f"{faults['dead_lettered']:,}, lost {faults['lost']:,}"
        )
    if subs := figures.get("subscribers"):
        lines.append(
            f"subscribers: {subs['idle_subscribers']} idle + 1 slow, {subs['alerts']} alerts: "
            f"p50 {subs['p50_s']} s, p99 {subs['p99_s']} s, max {subs['max_s']} s, "
            f"later than 1 s {subs['later_than_1s']}, missed {subs['missed']}"
        )
    w = report["worker"]
    lines.append(
        f"worker: crashes {w['crashes']} {w['exit_codes']}, restarts {w['restarts']}, "
        f"failed starts {w['failed_starts']}"
    )
    lines.append("")
    width = max(map(len, report["verdicts"]))
    for name, ok in report["verdicts"].items():
        lines.append(f"  {name:<{width}}  {'OK' if ok else 'FAILED'}")
    return "\n".join(lines)


# --- running it -----------------------------------------------------------------------------

SCENARIOS: dict[str, Callable[[Chaos], None]] = {
    "kills": Chaos.kills,
    "fuzz": Chaos.fuzz,
    "broker": Chaos.broker_outage,
    "insert_faults": Chaos.insert_faults,
    "subscribers": Chaos.subscribers,
}
"""In the order they run. The kill scenario replays the last minutes of district time, so it
goes first: the fuzz phase's events stand at the present, and after them the worker's
partition clocks would stand past the whole scenario. Its devices, first heard at the
window's start, would then be silent by the clock at once: a wave of DEVICE_OFFLINE at the
start, still open when a labelled outage of the same device came (2 of 20 incidents never
alerted, at hours whose window held device outages)."""


def in_running_order(names: Sequence[str]) -> list[str]:
    return [name for name in SCENARIOS if name in names]


@contextlib.contextmanager
def stack(root: Path) -> Iterator[tuple[Settings, str]]:
    broker_settings = Settings(
        data_dir=root / "broker", kafka_port=free_port(), kafka_controller_port=free_port()
    )
    bootstrap = kafka.up(broker_settings)
    try:
        asyncio.run(create_topics(bootstrap, changelog_topics(WORKER_ID, all_rules())))
        yield broker_settings, bootstrap
    finally:
        kafka.down(broker_settings)


def run(opts: Options, root: Path, scenarios: Sequence[str] = tuple(SCENARIOS)) -> dict[str, Any]:
    """Every scenario in turn on one broker and worker; the report as a dict."""
    began = time.monotonic()
    data_dir = root / "worker"
    data_dir.mkdir(parents=True, exist_ok=True)
    with stack(root) as (broker_settings, bootstrap):
        secret_key = base64.b64encode(secrets.token_bytes(32)).decode()
        box = DeviceSecretBox.from_settings(Settings(device_secret_key=secret_key))
        fleet, records = signers(COMMUNITIES[:3], box)
        asyncio.run(publish(bootstrap, records))
        worker = Worker(bootstrap, data_dir, secret_key)
        chaos = Chaos(
            opts, broker_settings, bootstrap, worker, fleet, Settings().ingest_max_body_bytes
        )
        step("starting the worker")
        worker.start()
        try:
            for name in in_running_order(scenarios):
                mark = time.monotonic()
                try:
                    SCENARIOS[name](chaos)
                except Exception as exc:  # a scenario's failure is a figure, not the end
                    log.exception("scenario %s failed", name)
                    chaos.figures.setdefault(name, {})["error"] = f"{type(exc).__name__}: {exc}"
                chaos.figures.setdefault(name, {})["seconds"] = round(time.monotonic() - mark, 1)
        finally:
            worker.stop()
    report = assess(chaos, data_dir)
    report["options"] = asdict(opts)
    report["seconds"] = round(time.monotonic() - began, 1)
    report["verdicts"] = verdicts(report)
    return report


def save(report: dict[str, Any]) -> Path:
    RESULTS.parent.mkdir(exist_ok=True)
    report = report | {"date": datetime.now(UTC).isoformat(timespec="seconds")}
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    return RESULTS


def parse_options(argv: Sequence[str] | None) -> tuple[Options, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    d = Options()
    parser.add_argument("--messages", type=int, default=d.messages, help="fuzzed Kafka messages")
    parser.add_argument("--requests", type=int, default=d.requests, help="fuzzed webhook calls")
    parser.add_argument("--kills", type=int, default=d.kills, help="SIGKILLs of the worker")
    parser.add_argument("--outage", type=float, default=d.outage, help="broker outage, seconds")
    parser.add_argument("--fault-events", type=int, default=d.fault_events)
    parser.add_argument("--idle-subscribers", type=int, default=d.idle_subscribers)
    parser.add_argument("--probes", type=int, default=d.probes, help="alerts to subscribers")
    parser.add_argument("--scenario-minutes", type=int, default=d.scenario_minutes)
    parser.add_argument("--stall", type=float, default=d.stall, help="seconds = stuck")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument(
        "--only", action="append", choices=list(SCENARIOS), help="run only these scenarios"
    )
    args = vars(parser.parse_args(argv))
    only = args.pop("only") or list(SCENARIOS)
    return Options(**args), only


def main(argv: Sequence[str] | None = None) -> None:
    opts, only = parse_options(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="pingan-chaos-") as tmp:
        report = run(opts, Path(tmp), only)
    path = save(report)
    print(render(report))
    print(f"{report['seconds']:.0f} s; written to {path}")


if __name__ == "__main__":
    main()

"""API benchmark: query latency on a district-sized store, and whether API reads stall the
pipeline, each next to a baseline measured in the same run.

    make bench-api                                  # python -m bench.api
    python -m bench.api --events 20M --captures 2M  # a bigger store
    python -m bench.api --no-stall                  # latency only
    python -m bench.api --stall                     # the stall test only

Store: `pingan load-synthetic` of the given size into .pingan/bench/api-<size>/ (kept, so a
rerun of the same size reuses it; its load rate is reported).

Latency (part 1): the API in this process (`api_context` + `serve`, as the worker hosts it,
with its own Kafka broker for the audit log and the registry) on that store, signed in as a
district_admin. Each query is called `--calls` times with varied arguments over HTTP, and
each call's SQL (the resolver's own query functions, through the same `WarehouseReader`,
limits and read thread) is run directly right before or after it: p50/p95 of both, so the
difference is HTTP, GraphQL, audit and serialisation. Targets: lists and trajectory p95 <
300 ms, face search p95 < 1 s. The rate limit is lifted here: it is not what is measured.

Stall (part 2): a real `pingan worker` in embedded mode on a copy of the store, hosting the
API, with the district at `--rate` events/s and fence alarms (PerimeterAlarm, which raise
PERIMETER_INTRUSION at once) at `--alarms-per-s`, each on a zone of its own, timed from
just before publishing to its alert on an `alerts` subscription. Also sampled every second:
the worker's consumer group lag on the event topics. First with no API load (baseline),
then under `--flood-clients` clients (another process, each with its own token and so its
own rate limit) looping the heaviest queries the limits allow. Target: fence alarm →
subscriber under 1 s, and a lag that does not grow.

Only 127.0.0.1 is contacted; every loop is bounded in time and count. JSON goes to
bench/results/api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import multiprocessing
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from pydantic import SecretStr

from bench.pipeline import (
    cpu_seconds,
    isolate_environment,
    local_broker,
    logged_process,
    machine,
    step,
)
from graphql_api import facility_queries, movement_queries, queries
from graphql_api.access import Caller, Role
from graphql_api.context import ApiContext
from graphql_api.criteria import AlertCriteria, PassageCriteria, TimeWindow
from graphql_api.facility_types import StatsBucket, StatsGrouping
from graphql_api.feed import AlertFeed
from graphql_api.pagination import PageRequest
from graphql_api.server import api_context, serve
from graphql_api.tokens import mint_token
from ingest.simulator import District, SimClock, Simulator
from pingan.platform.consumer_groups import group_offsets
from pingan.platform.provision import create_topics, prepare_warehouse
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings, get_settings
from pingan.platform.stack.kafka import free_port
from pingan.platform.warehouse import Warehouse, open_warehouse
from pingan.synthetic import SYNTHETIC_PARTITION, SyntheticPlan, load_synthetic, parse_count
from schemas.alerts import AlertStatus, AlertType, Severity
from schemas.events import PerimeterAlarm, PerimeterAlarmKind, utc_now
from schemas.topics import EVENT_TOPICS
from streams.rules.catalogue import all_rules

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "api.json"
STORES = REPO / ".pingan" / "bench"
MARKER = "synthetic.json"
FACE_MODELS = REPO.parent / "shared" / "models" / "face"
FACE_PHOTOS = REPO.parent / "shared" / "data" / "faces"
LIST_TARGET_MS = 300.0
FACE_SEARCH_TARGET_MS = 1_000.0
ALARM_TARGET_MS = 1_000.0
PURPOSE = "benchmark: API latency (bench/api.py)"
WORKER_GROUP = "pingan-bench-api"
READY_TIMEOUT = 180.0
FEED_TIMEOUT = 60.0
STRAGGLER_SECONDS = 10.0
"""After the last phase, how long a fence alarm's alert may still arrive."""
TICK_SECONDS = 0.05
LAG_EVERY_SECONDS = 1.0
RETRY_AFTER_CAP = 5.0

ALERTS_LIST = """query($filter: AlertFilter, $first: Int) { alerts(filter: $filter, first: $first) {
  totalCount edges { node { id type severity status communityId subjectKind subject firstSeen
  lastSeen count explanationZh assignedTo evidence { eventId } } } } }"""
PASSAGES_LIST = """query($plate: String, $first: Int, $purpose: String) {
  vehiclePassages(plate: $plate, first: $first, purpose: $purpose) { totalCount edges { node {
  id communityId plate plateColour direction gateId cameraId confidence occurredAt } } } }"""
TRAJECTORY = """query($personId: String, $since: DateTime, $until: DateTime, $purpose: String!) {
  trajectory(personId: $personId, since: $since, until: $until, purpose: $purpose) {
  truncated sightings { kind firstSeen lastSeen dwellSeconds
  place { communityId cameraId doorId doorKind gateId }
  evidence { eventId occurredAt accessMethod granted cropUrl } } } }"""
ALERT_STATS = """query($bucket: StatsBucket!, $since: DateTime!, $until: DateTime,
  $groupBy: StatsGrouping!) { alertStats(bucket: $bucket, since: $since, until: $until,
  groupBy: $groupBy) { bucketStart key count } }"""
FACE_CAPTURES_LIST = """query($first: Int, $purpose: String!) {
  faceCaptures(first: $first, purpose: $purpose) { totalCount edges { node {
  id communityId cameraId occurredAt quality matchedPersonId matchScore cropUrl } } } }"""
SUBSCRIPTION = """subscription { alerts(filter: {types: [PERIMETER_INTRUSION]}) {
  id subject raisedAt } }"""
QUERY_FIELDS = "{ __schema { queryType { fields { name } } } }"
FACE_SEARCH = """query($image: String!, $purpose: String!, $since: DateTime, $until: DateTime,
  $topK: Int) { faceSearch(image: $image, purpose: $purpose, since: $since, until: $until,
  topK: $topK) { minScore photoQuality matches { captureId communityId cameraId occurredAt
  score quality matchedPersonId cropUrl } } }"""


@dataclass(frozen=True)
class Options:
    events: int
    captures: int
    days: float
    communities: int
    seed: int
    calls: int
    warmup: int
    stall: bool
    no_stall: bool
    phase_seconds: float
    settle_seconds: float
    rate: float
    alarms_per_s: float
    flood_clients: int
    flood_max_requests: int

    @property
    def plan(self) -> SyntheticPlan:
        return SyntheticPlan(self.events, self.captures, self.days, self.communities, self.seed)


# -- the store --------------------------------------------------------------------------------


@dataclass
class Store:
    """A data dir holding a synthetic load; `load` describes the run that filled it."""

    path: Path
    reused: bool
    end: datetime
    load: dict[str, Any]


def store_path(opts: Options) -> Path:
    days = f"{opts.days:g}d"
    return STORES / f"api-{opts.events}-{opts.captures}-{days}-{opts.communities}c-s{opts.seed}"


def wanted_marker(opts: Options) -> dict[str, Any]:
    return {
        "events": opts.events,
        "captures": opts.captures,
        "days": opts.days,
        "communities": opts.communities,
        "seed": opts.seed,
    }


def reusable(path: Path, opts: Options) -> dict[str, Any] | None:
    """The store's marker if it was loaded with these options and still holds every row
    (after applying any migration added since)."""
    marker_file = path / MARKER
    if not marker_file.exists():
        return None
    marker = json.loads(marker_file.read_text())
    if {k: marker.get(k) for k in wanted_marker(opts)} != wanted_marker(opts):
        return None
    settings = Settings(data_dir=path)
    warehouse = open_warehouse(settings)
    try:
        prepare_warehouse(warehouse, settings)  # migrations added since it was loaded
        for table, rows in opts.plan.table_rows().items():
            found = warehouse.query(
                f"SELECT count() AS n FROM {table} WHERE kafka_partition = {SYNTHETIC_PARTITION}"
            )[0]["n"]
            if found != rows:
                return None
    finally:
        warehouse.close()
    return marker


def ensure_store(opts: Options) -> Store:
    """Reuse the store of this size if it is complete, else (re)load it."""
    path = store_path(opts)
    marker = reusable(path, opts)
    if marker is not None:
        step(f"reusing the store in {path} (loaded {marker['end']})")
        return Store(path, True, datetime.fromisoformat(marker["end"]), marker["load"])
    shutil.rmtree(path, ignore_errors=True)
    plan = opts.plan
    step(f"loading {plan.events:,} events and {plan.captures:,} captures into {path}")
    settings = Settings(data_dir=path)
    warehouse = open_warehouse(settings)
    try:
        prepare_warehouse(warehouse, settings)
        report = load_synthetic(warehouse, plan)
    finally:
        warehouse.close()
    load = {
        "rows": report.rows,
        "wall_seconds": round(report.wall_seconds, 1),
        "rows_per_second": round(report.rows_per_second),
        "tables": [asdict(t) for t in report.tables],
        "minutes_for_100M_events_10M_captures": round(
            report.seconds_for(100_000_000, 10_000_000) / 60, 1
        ),
    }
    step(f"loaded:\n{report.render()}")
    marker = wanted_marker(opts) | {"end": plan.end.isoformat(), "load": load}
    (path / MARKER).write_text(json.dumps(marker, indent=2))
    return Store(path, False, plan.end, load)


@dataclass(frozen=True)
class Samples:
    """Arguments the queries are varied over, taken from the store itself."""

    end: datetime
    communities: list[str]
    plates: list[str]
    persons: list[str]

    @classmethod
    def read(cls, warehouse: Warehouse, end: datetime, count: int) -> Samples:
        """Frequent plates (riders, taxis: long histories) and arbitrary ones, and people
        who open doors."""
        half = max(1, count // 2)
        frequent = warehouse.query(
            f"SELECT plate FROM vehicle_passages GROUP BY plate ORDER BY count() DESC LIMIT {half}"
        )
        arbitrary = warehouse.query(
            f"SELECT DISTINCT plate FROM vehicle_passages ORDER BY cityHash64(plate) LIMIT {half}"
        )
        persons = warehouse.query(
            "SELECT DISTINCT person_id FROM door_access WHERE person_id IS NOT NULL "
            f"ORDER BY cityHash64(person_id) LIMIT {count}"
        )
        communities = warehouse.query("SELECT community_id FROM communities ORDER BY 1")
        return cls(
            end=end,
            communities=[r["community_id"] for r in communities],
            plates=[r["plate"] for r in (*frequent, *arbitrary)],
            persons=[r["person_id"] for r in persons],
        )


# -- part 1: query latency ----------------------------------------------------------------------


Variables = dict[str, Any]


@dataclass(frozen=True)
class Probe:
    """One query: its GraphQL document, the variables of call i, and the same SQL run
    directly for call i (the baseline)."""

    name: str
    field: str
    document: str
    variables: Callable[[int], Variables]
    baseline: Callable[[int], Awaitable[object]]
    target_ms: float | None


@dataclass
class QueryFigure:
    name: str
    calls: int
    api_p50_ms: float
    api_p95_ms: float
    api_max_ms: float
    sql_p50_ms: float
    sql_p95_ms: float
    api_over_sql_p50: float
    target_p95_ms: float | None
    errors: int
    first_error: str = ""

    @property
    def verdict(self) -> str:
        if self.errors:
            return "ERRORS"
        if self.target_p95_ms is None:
            return "no target"
        return "met" if self.api_p95_ms < self.target_p95_ms else "NOT MET"


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class LatencyProbes:
    """The queries of part 1, each with its baseline on the resolver's own SQL functions."""

    def __init__(self, context: ApiContext, samples: Samples) -> None:
        self._reader = context.reader
        self._known = context.community_ids
        self._admin = Caller(sub="bench", role=Role.DISTRICT_ADMIN, communities=None)
        self._s = samples

    def all(self) -> list[Probe]:
        return [self.alerts(), self.vehicle_passages(), self.trajectory(), self.alert_stats()]

    def _alert_filter(self, i: int) -> dict[str, Any]:
        """Five kinds of desk views in turn: everything, one community, what is open, one
        type this week, the severe ones of the last days."""
        s, types = self._s, list(AlertType)
        match i % 5:
            case 0:
                return {}
            case 1:
                return {"communityIds": [s.communities[i % len(s.communities)]]}
            case 2:
                return {"statuses": [AlertStatus.OPEN.name, AlertStatus.ACKNOWLEDGED.name]}
            case 3:
                since = s.end - timedelta(days=7)
                return {"types": [types[i % len(types)].name], "since": iso(since)}
            case _:
                since = s.end - timedelta(days=1 + i % 30)
                return {
                    "severities": [Severity.CRITICAL.name, Severity.HIGH.name],
                    "since": iso(since),
                }

    def alerts(self) -> Probe:
        async def baseline(i: int) -> object:
            f = self._alert_filter(i)
            criteria = AlertCriteria.checked(
                self._admin,
                self._known,
                community_ids=f.get("communityIds"),
                types=[AlertType[t] for t in f["types"]] if "types" in f else None,
                severities=[Severity[v] for v in f["severities"]] if "severities" in f else None,
                statuses=[AlertStatus[v] for v in f["statuses"]] if "statuses" in f else None,
                since=datetime.fromisoformat(f["since"]) if "since" in f else None,
            )
            request = PageRequest(first=50, after=None)
            await queries.alerts_page(self._reader, criteria, request)
            return await queries.count_alerts(self._reader, criteria)

        return Probe(
            "alerts (first 50, totalCount)",
            "alerts",
            ALERTS_LIST,
            lambda i: {"filter": self._alert_filter(i), "first": 50},
            baseline,
            LIST_TARGET_MS,
        )

    def vehicle_passages(self) -> Probe:
        plates = self._s.plates

        async def baseline(i: int) -> object:
            criteria = PassageCriteria.checked(
                self._admin, self._known, plate=plates[i % len(plates)]
            )
            await queries.passages_page(self._reader, criteria, PageRequest(first=50, after=None))
            return await queries.count_passages(self._reader, criteria)

        return Probe(
            "vehiclePassages by plate (first 50, totalCount)",
            "vehiclePassages",
            PASSAGES_LIST,
            lambda i: {"plate": plates[i % len(plates)], "first": 50, "purpose": PURPOSE},
            baseline,
            LIST_TARGET_MS,
        )

    def _trajectory_window(self, i: int) -> TimeWindow:
        """A case's last 1, 3, 7 or 14 days."""
        days = (1, 3, 7, 14)[i % 4]
        return TimeWindow(since=self._s.end - timedelta(days=days), until=self._s.end)

    def trajectory(self) -> Probe:
        persons = self._s.persons

        async def baseline(i: int) -> object:
            subject = movement_queries.PersonSubject(persons[i % len(persons)])
            window = self._trajectory_window(i)
            events = await movement_queries.trajectory_events(
                self._reader, subject, None, window, 10_001
            )
            faces = [
                e
                for e in events
                if e.kind is movement_queries.SightingKind.DOOR_ACCESS and e.method == "face"
            ]
            cameras = {e.place_id: frozenset({f"{e.place_id}-cam"}) for e in faces}
            return await movement_queries.door_face_crops(
                self._reader, faces, cameras, None, subject.person_id
            )

        def variables(i: int) -> Variables:
            window = self._trajectory_window(i)
            assert window.since is not None and window.until is not None
            return {
                "personId": persons[i % len(persons)],
                "since": iso(window.since),
                "until": iso(window.until),
                "purpose": PURPOSE,
            }

        return Probe(
            "trajectory by person (1-14 days)",
            "trajectory",
            TRAJECTORY,
            variables,
            baseline,
            LIST_TARGET_MS,
        )

    def _stats_arguments(self, i: int) -> tuple[StatsBucket, StatsGrouping, datetime]:
        bucket = StatsBucket.HOUR if i % 2 else StatsBucket.DAY
        grouping = StatsGrouping.COMMUNITY if (i // 2) % 2 else StatsGrouping.TYPE
        return bucket, grouping, self._s.end - timedelta(days=1 + i % 30)

    def alert_stats(self) -> Probe:
        async def baseline(i: int) -> object:
            bucket, grouping, since = self._stats_arguments(i)
            request = facility_queries.StatsRequest.checked(
                self._admin,
                self._known,
                bucket=bucket,
                group_by=grouping,
                since=since,
                until=self._s.end,
                community_ids=None,
            )
            return await facility_queries.alert_stats(self._reader, request)

        def variables(i: int) -> Variables:
            bucket, grouping, since = self._stats_arguments(i)
            return {
                "bucket": bucket.name,
                "groupBy": grouping.name,
                "since": iso(since),
                "until": iso(self._s.end),
            }

        return Probe(
            "alertStats (1-30 days, hour/day)", "alertStats", ALERT_STATS, variables, baseline, None
        )


class Client:
    """GraphQL over HTTP with one bearer token."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        self._http = http
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"}

    async def post(self, document: str, variables: Variables | None = None) -> tuple[int, Any]:
        body = {"query": document, "variables": variables or {}}
        async with self._http.post(self._url, json=body, headers=self._headers) as answer:
            return answer.status, await answer.json(content_type=None)

    async def fields(self) -> set[str]:
        """The Query fields the running schema has: queries still being written are skipped."""
        status, body = await self.post(QUERY_FIELDS)
        if status != 200 or "errors" in body:
            raise RuntimeError(f"introspection failed: {status} {body}")
        return {f["name"] for f in body["data"]["__schema"]["queryType"]["fields"]}


async def timed(call: Callable[[], Awaitable[object]]) -> tuple[float, object]:
    began = time.perf_counter()
    result = await call()
    return (time.perf_counter() - began) * 1000, result


async def measure_probe(client: Client, probe: Probe, calls: int, warmup: int) -> QueryFigure:
    """`calls` pairs of (API call, baseline), alternating which goes first, after `warmup`
    unmeasured pairs (the first reads of a table load its marks)."""
    api: list[float] = []
    sql: list[float] = []
    errors: list[str] = []
    for i in range(-warmup, calls):

        async def through_api(i: int = i) -> object:
            return await client.post(probe.document, probe.variables(i))

        async def directly(i: int = i) -> object:
            return await probe.baseline(i)

        order = (through_api, directly) if i % 2 else (directly, through_api)
        results = [await timed(call) for call in order]
        api_ms, (status, body) = results[order.index(through_api)]  # type: ignore[misc]
        sql_ms = results[order.index(directly)][0]
        if status != 200 or body.get("errors"):
            errors.append(f"{status} {json.dumps(body.get('errors') or body)[:300]}")
        if i >= 0:
            api.append(api_ms)
            sql.append(sql_ms)
    return QueryFigure(
        name=probe.name,
        calls=calls,
        api_p50_ms=percentile(api, 50),
        api_p95_ms=percentile(api, 95),
        api_max_ms=max(api, default=float("nan")),
        sql_p50_ms=percentile(sql, 50),
        sql_p95_ms=percentile(sql, 95),
        api_over_sql_p50=percentile(api, 50) / percentile(sql, 50),
        target_p95_ms=probe.target_ms,
        errors=len(errors),
        first_error=errors[0] if errors else "",
    )


def face_engine_note() -> str:
    if not any(FACE_MODELS.glob("*.onnx")):
        return f"no face model pack in {FACE_MODELS}"
    return ""


@contextlib.asynccontextmanager
async def api_in_process(
    warehouse: Warehouse, bootstrap: str, data_dir: Path
) -> AsyncIterator[tuple[ApiContext, Client]]:
    """The API as the worker hosts it, on a free loopback port, with a district_admin's
    token; the face engine is built when a model pack is present."""
    settings = Settings(
        data_dir=data_dir,
        kafka_bootstrap=bootstrap,
        api_token_secret=SecretStr(secrets.token_urlsafe(32)),
        api_rate_limit_per_minute=1_000_000,
    )
    faces = None
    if not face_engine_note():
        from ingest.vision.faces.service import FaceService
        from pingan.worker import FaceServiceEngine

        faces = FaceServiceEngine(
            FaceService(settings.model_copy(update={"face_model_dir": FACE_MODELS}))
        )
    async with (
        Publisher(bootstrap) as publisher,
        AlertFeed(bootstrap) as feed,
        aiohttp.ClientSession() as http,
    ):
        context = api_context(settings, warehouse, publisher, feed, faces, all_rules())
        runner = await serve(context, settings, "127.0.0.1", 0)
        host, port = runner.addresses[0][:2]
        token = mint_token(settings, Role.DISTRICT_ADMIN, "bench-admin", None, timedelta(hours=2))
        try:
            yield context, Client(http, f"http://{host}:{port}/graphql", token)
        finally:
            await runner.cleanup()


async def latency_part(
    opts: Options, bootstrap: str, store: Store
) -> tuple[list[QueryFigure], list[str]]:
    """Part 1: p50/p95 per query present in the schema, next to its SQL run directly."""
    warehouse = open_warehouse(Settings(data_dir=store.path))
    try:
        samples = Samples.read(warehouse, store.end, opts.calls)
        async with api_in_process(warehouse, bootstrap, store.path) as (context, client):
            present = await client.fields()
            probes = LatencyProbes(context, samples).all()
            face_search, note = await face_search_probe(context, present, samples)
            probes += [face_search] if face_search else []
            figures, notes = [], [note]
            for probe in probes:
                if probe.field not in present:
                    notes.append(f"{probe.field}: not in the schema yet, skipped")
                    continue
                step(f"latency: {probe.name}, {opts.calls} calls + {opts.warmup} warm-up")
                figures.append(await measure_probe(client, probe, opts.calls, opts.warmup))
            return figures, [n for n in notes if n]
    finally:
        await asyncio.to_thread(warehouse.close)


# -- faceSearch ---------------------------------------------------------------------------------


def face_photos() -> list[bytes]:
    return [path.read_bytes() for path in sorted(FACE_PHOTOS.glob("*/*.jpg"))]


def face_search_variables(photo: bytes, since: datetime, until: datetime, top_k: int) -> Variables:
    return {
        "image": base64.b64encode(photo).decode(),
        "purpose": PURPOSE,
        "since": iso(since),
        "until": iso(until),
        "topK": top_k,
    }


async def face_search_probe(
    context: ApiContext, present: set[str], samples: Samples
) -> tuple[Probe | None, str]:
    """faceSearch with the photos of ../shared/data/faces over the store's last 30 days;
    the baseline is the search SQL (`search_faces`, the plan the resolver runs) on each
    photo's embedding, computed once beforehand: the API's time also embeds the photo."""
    if "faceSearch" not in present:
        return None, "faceSearch: not in the schema yet, skipped"
    engine, photos = context.face_engine, face_photos()
    if engine is None or not photos:
        missing = face_engine_note() or f"no photos in {FACE_PHOTOS}"
        return None, f"faceSearch: {missing}, skipped"
    from graphql_api.face_search_queries import FaceSearchCriteria, search_faces, unit

    embeddings = [unit((await engine.photo_face(photo)).embedding) for photo in photos]
    since, until = samples.end - timedelta(days=30), samples.end
    variables = [face_search_variables(photo, since, until, 10) for photo in photos]

    async def baseline(i: int) -> object:
        criteria = FaceSearchCriteria(
            probe=embeddings[i % len(embeddings)],
            community_ids=None,
            occurred=TimeWindow(since=since, until=until),
            top_k=10,
            min_score=engine.match_threshold,
        )
        return await search_faces(context.reader, criteria)

    probe = Probe(
        f"faceSearch ({len(photos)} photos, 30 days, top 10)",
        "faceSearch",
        FACE_SEARCH,
        lambda i: variables[i % len(variables)],
        baseline,
        FACE_SEARCH_TARGET_MS,
    )
    return probe, "faceSearch: the API's time includes embedding the photo, the SQL's does not"


# -- part 2: do reads stall the pipeline? -------------------------------------------------------


@dataclass
class PhaseLabel:
    """Which phase the run is in; tasks tag what they record with it."""

    name: str = "settle"


@dataclass
class StallRecord:
    sent: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Fence zone (the alert's subject) → (phase, monotonic time just before publishing)."""
    received: dict[str, float] = field(default_factory=dict)
    """Fence zone → monotonic time its alert reached the subscriber."""
    lag: list[tuple[str, float, int]] = field(default_factory=list)
    machine: list[tuple[str, float, float, float]] = field(default_factory=list)
    """(phase, monotonic time, the worker's CPU seconds so far, 1-min load average)."""
    events_sent: int = 0


@dataclass
class FloodTally:
    requests: int = 0
    ok: int = 0
    errors: int = 0
    throttled: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    first_error: str = ""

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.errors,
            "throttled": self.throttled,
            "p50_ms": round(percentile(self.latencies_ms, 50), 1),
            "p95_ms": round(percentile(self.latencies_ms, 95), 1),
            "first_error": self.first_error,
        }


@dataclass
class PhaseFigures:
    name: str
    seconds: float
    alarms_sent: int
    alarms_received: int
    alarm_p50_ms: float
    alarm_p95_ms: float
    alarm_max_ms: float
    lag_samples: int
    lag_mean: float
    lag_max: int
    lag_first: int
    lag_last: int
    lag_slope_per_s: float
    """Least-squares growth of the lag over the phase, events per second."""
    worker_cpu_cores: float
    """CPU the worker process used (pipeline and API reads), in cores."""
    load_average: float
    """1-min load average during the phase: everything else on this shared machine too."""
    flood: dict[str, dict[str, Any]] = field(default_factory=dict)


@contextlib.contextmanager
def worker_process(bootstrap: str, data_dir: Path, port: int, secret: str) -> Iterator[Any]:
    """`pingan worker` (embedded chDB, hosting the API) as deployed; stopped on the way out."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        "PINGAN_DATA_DIR": str(data_dir),
        "PINGAN_API_PORT": str(port),
        "PINGAN_WORKER_ID": WORKER_GROUP,
        "PINGAN_API_TOKEN_SECRET": secret,
    }
    command = ["-m", "pingan.cli", "worker"]
    with logged_process(command, env, data_dir / "worker.log", "the worker") as proc:
        yield proc


async def until_ready(proc: Any, port: int) -> None:
    """Ready when /healthz answers: the worker has recovered its tables and serves."""
    deadline = time.monotonic() + READY_TIMEOUT
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    if answer.status == 200:
                        return
            await asyncio.sleep(0.5)
    raise RuntimeError(f"the worker's API did not answer within {READY_TIMEOUT:.0f} s")


async def traffic(
    publisher: Publisher,
    simulator: Simulator,
    rate: float,
    record: StallRecord,
    stop: asyncio.Event,
) -> None:
    """The district at `rate` events/s, as gateways would send it, until `stop`."""
    began = time.monotonic()
    done = 0.0
    while not stop.is_set():
        elapsed = time.monotonic() - began
        count = int(elapsed * rate) - record.events_sent
        if count > 0:
            await publisher.publish_many(simulator.events_between(done, elapsed, count))
            record.events_sent += count
            done = elapsed
        await asyncio.sleep(TICK_SECONDS)


async def fence_alarms(
    publisher: Publisher,
    record: StallRecord,
    phase: PhaseLabel,
    per_second: float,
    communities: Sequence[str],
    limit: int,
) -> None:
    """One PerimeterAlarm every 1/per_second s, each on a zone of its own (so each raises
    an alert of its own), until the drain phase or `limit` alarms."""
    began = time.monotonic()
    for n in range(limit):
        if phase.name == "drain":
            return
        await asyncio.sleep(max(0.0, began + n / per_second - time.monotonic()))
        community = communities[n % len(communities)]
        zone = f"{community}-benchfz{n:05d}"
        now = utc_now()
        alarm = PerimeterAlarm(
            event_id=secrets.token_hex(16),
            community_id=community,
            occurred_at=now,
            received_at=now,
            fence_zone=zone,
            alarm_kind=PerimeterAlarmKind.CROSS,
        )
        record.sent[zone] = (phase.name, time.monotonic())
        await publisher.publish(alarm)


async def subscriber(
    url: str, token: str, record: StallRecord, connected: asyncio.Event, stop: asyncio.Event
) -> None:
    """An officer's phone: the `alerts` subscription over graphql-transport-ws."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            url.replace("http://", "ws://", 1), protocols=["graphql-transport-ws"]
        ) as ws,
    ):
        await ws.send_json(
            {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        )
        ack = await ws.receive_json(timeout=30)
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"subscription refused: {ack}")
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        connected.set()
        while not stop.is_set():
            try:
                message = await ws.receive(timeout=0.5)
            except TimeoutError:
                continue
            at = time.monotonic()
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"the subscription ended: {message.type.name} {message.data}")
            body = json.loads(message.data)
            if body["type"] == "next":
                record.received.setdefault(body["payload"]["data"]["alerts"]["subject"], at)
            elif body["type"] == "ping":
                await ws.send_json({"type": "pong"})
            elif body["type"] in ("error", "complete"):
                raise RuntimeError(f"the subscription ended: {body}")


async def sample_lag(
    bootstrap: str, worker_pid: int, record: StallRecord, phase: PhaseLabel, stop: asyncio.Event
) -> None:
    """Every second: the worker group's uncommitted events on the event topics, the
    worker's CPU time and the machine's load."""
    while not stop.is_set():
        cpu = cpu_seconds({"worker": worker_pid})["worker"]
        record.machine.append((phase.name, time.monotonic(), cpu, os.getloadavg()[0]))
        with contextlib.suppress(Exception):  # the coordinator may still be electing
            committed, end = await group_offsets(bootstrap, WORKER_GROUP, EVENT_TOPICS)
            lag = sum(max(0, offset - committed.get(tp, 0)) for tp, offset in end.items())
            record.lag.append((phase.name, time.monotonic(), lag))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), LAG_EVERY_SECONDS)


FloodRequest = tuple[str, str, Variables]


def flood_requests(samples: Samples, fields: dict[str, Any], days: float) -> list[FloodRequest]:
    """The heaviest calls the limits allow: full 500-row pages with totals, an hourly series
    over the whole store, the busiest plate's history, a face searched over the whole store
    for the 100 best, a month of a person's movements (those the schema has)."""
    until = utc_now()
    since = until - timedelta(days=min(days + 1, 89))
    month = until - timedelta(days=31)
    requests: list[FloodRequest] = [
        ("alerts first 500 + totalCount", ALERTS_LIST, {"filter": {}, "first": 500}),
        (
            "alertStats hourly, whole store, by community",
            ALERT_STATS,
            {"bucket": "HOUR", "groupBy": "COMMUNITY", "since": iso(since), "until": iso(until)},
        ),
        ("vehiclePassages first 500 + totalCount", PASSAGES_LIST, {"first": 500}),
        (
            "vehiclePassages busiest plate, first 500",
            PASSAGES_LIST,
            {"plate": samples.plates[0], "first": 500, "purpose": PURPOSE},
        ),
    ]
    if "faceCaptures" in fields:
        requests.append(
            (
                "faceCaptures first 500 + totalCount",
                FACE_CAPTURES_LIST,
                {"first": 500, "purpose": PURPOSE},
            )
        )
    photos = face_photos()
    if "faceSearch" in fields and photos:
        requests.append(
            (
                "faceSearch top 100, whole store",
                FACE_SEARCH,
                face_search_variables(photos[0], since, until, 100),
            )
        )
    if "trajectory" in fields:
        requests.append(
            (
                "trajectory 31 days",
                TRAJECTORY,
                {
                    "personId": samples.persons[0],
                    "since": iso(month),
                    "until": iso(until),
                    "purpose": PURPOSE,
                },
            )
        )
    return requests


def warm_flood_process() -> int:
    """Spawned before the baseline phase, so the flood starts the moment its phase does."""
    return os.getpid()


def run_flood(
    url: str, tokens: list[str], requests: list[FloodRequest], seconds: float, limit: int
) -> dict[str, dict[str, Any]]:
    """In its own process: `len(tokens)` clients, each looping `requests` until `seconds`
    have passed or it made `limit` requests; a 429 waits its Retry-After."""
    return asyncio.run(_flood(url, tokens, requests, seconds, limit))


async def _flood(
    url: str, tokens: list[str], requests: list[FloodRequest], seconds: float, limit: int
) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + seconds
    tallies = {name: FloodTally() for name, _, _ in requests}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:

        async def client(k: int) -> None:
            caller = Client(http, url, tokens[k])
            for n in range(limit):
                if time.monotonic() >= deadline:
                    return
                name, document, variables = requests[(k + n) % len(requests)]
                tally = tallies[name]
                began = time.perf_counter()
                status, body = await caller.post(document, variables)
                tally.requests += 1
                if status == 429:
                    tally.throttled += 1
                    wait = min(RETRY_AFTER_CAP, max(0.0, deadline - time.monotonic()))
                    await asyncio.sleep(wait)
                elif status != 200 or body.get("errors"):
                    tally.errors += 1
                    tally.first_error = tally.first_error or json.dumps(body)[:300]
                else:
                    tally.ok += 1
                    tally.latencies_ms.append((time.perf_counter() - began) * 1000)

        await asyncio.gather(*(client(k) for k in range(len(tokens))))
    return {name: tally.summary() for name, tally in tallies.items()}


def phase_figures(record: StallRecord, name: str, seconds: float) -> PhaseFigures:
    sent = [(zone, at) for zone, (phase, at) in record.sent.items() if phase == name]
    latencies = [
        (record.received[zone] - at) * 1000 for zone, at in sent if zone in record.received
    ]
    lag = [(at, value) for phase, at, value in record.lag if phase == name]
    cpu = [(at, used, load) for phase, at, used, load in record.machine if phase == name]
    slope = (
        float(np.polyfit([a for a, _ in lag], [v for _, v in lag], 1)[0]) if len(lag) > 2 else 0.0
    )
    return PhaseFigures(
        name=name,
        seconds=seconds,
        alarms_sent=len(sent),
        alarms_received=len(latencies),
        alarm_p50_ms=round(percentile(latencies, 50), 1),
        alarm_p95_ms=round(percentile(latencies, 95), 1),
        alarm_max_ms=round(max(latencies, default=float("nan")), 1),
        lag_samples=len(lag),
        lag_mean=round(float(np.mean([v for _, v in lag])), 1) if lag else float("nan"),
        lag_max=max((v for _, v in lag), default=0),
        lag_first=lag[0][1] if lag else 0,
        lag_last=lag[-1][1] if lag else 0,
        lag_slope_per_s=round(slope, 2),
        worker_cpu_cores=round((cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0]), 2)
        if len(cpu) > 1
        else float("nan"),
        load_average=round(float(np.mean([load for _, _, load in cpu])), 1)
        if cpu
        else float("nan"),
    )


async def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f} s")
        await asyncio.sleep(0.1)


async def stall_part(
    opts: Options, bootstrap: str, store: Store, district: District, tmp: Path
) -> dict[str, Any]:
    """Part 2: fence alarm → subscriber and sink lag, without and then under an API flood."""
    worker_dir = tmp / "worker"
    step(f"copying the store to {worker_dir} for the worker")
    await asyncio.to_thread(copy_store, store.path, worker_dir)
    secret = secrets.token_urlsafe(32)
    settings = Settings(api_token_secret=SecretStr(secret))
    admin = mint_token(settings, Role.DISTRICT_ADMIN, "bench-phone", None, timedelta(hours=2))
    tokens = [
        mint_token(settings, Role.DISTRICT_ADMIN, f"bench-flood-{k}", None, timedelta(hours=2))
        for k in range(opts.flood_clients)
    ]
    port = free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    spawn = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=1, mp_context=spawn) as flood_pool,
        worker_process(bootstrap, worker_dir, port, secret) as proc,
    ):
        step("starting the worker (embedded chDB, API)")
        await until_ready(proc, port)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(flood_pool, warm_flood_process)
        async with aiohttp.ClientSession() as http:
            fields = await Client(http, url, admin).fields()
        warehouse_samples = await asyncio.to_thread(samples_from_copy, store, opts)
        requests = flood_requests(warehouse_samples, fields, opts.days)
        record, phase = StallRecord(), PhaseLabel()
        stop_all = asyncio.Event()
        connected = asyncio.Event()
        simulator = Simulator(district, SimClock(utc_now()), incident_every=60.0)
        communities = [s.community_id for s in district.sites]
        limit = int(
            opts.alarms_per_s * (opts.settle_seconds + 2 * opts.phase_seconds + FEED_TIMEOUT)
        )
        async with Publisher(bootstrap) as publisher:
            tasks = [
                asyncio.create_task(subscriber(url, admin, record, connected, stop_all)),
                asyncio.create_task(sample_lag(bootstrap, proc.pid, record, phase, stop_all)),
            ]
            try:
                await wait_for(connected.is_set, FEED_TIMEOUT, "the subscription did not start")
                tasks += [
                    asyncio.create_task(traffic(publisher, simulator, opts.rate, record, stop_all)),
                    asyncio.create_task(
                        fence_alarms(
                            publisher, record, phase, opts.alarms_per_s, communities, limit
                        )
                    ),
                ]
                step(f"district at {opts.rate:g} events/s, {opts.alarms_per_s:g} fence alarms/s")
                await wait_for(
                    lambda: bool(record.received),
                    FEED_TIMEOUT,
                    "no fence alarm reached the subscriber",
                )
                await asyncio.sleep(opts.settle_seconds)
                phase.name = "baseline"
                step(f"baseline: no API load, {opts.phase_seconds:g} s")
                await asyncio.sleep(opts.phase_seconds)
                phase.name = "flood"
                step(
                    f"flood: {opts.flood_clients} clients looping {len(requests)} heavy queries, "
                    f"{opts.phase_seconds:g} s"
                )
                flood = await loop.run_in_executor(
                    flood_pool,
                    run_flood,
                    url,
                    tokens,
                    requests,
                    opts.phase_seconds,
                    opts.flood_max_requests,
                )
                phase.name = "drain"
                await wait_for_stragglers(record)
                for task in tasks:
                    if task.done():
                        task.result()  # a failed subscriber or sender fails the run
            finally:
                stop_all.set()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        baseline = phase_figures(record, "baseline", opts.phase_seconds)
        flooded = phase_figures(record, "flood", opts.phase_seconds)
        flooded.flood = flood
    return {
        "events_per_s": opts.rate,
        "alarms_per_s": opts.alarms_per_s,
        "flood_clients": opts.flood_clients,
        "phases": [asdict(baseline), asdict(flooded)],
        "alarm_under_1s": flooded.alarm_max_ms < ALARM_TARGET_MS
        and flooded.alarms_received == flooded.alarms_sent,
        "lag_grows": lag_grows(flooded, opts),
        "worker_exit_code": proc.returncode,
    }


def lag_grows(phase: PhaseFigures, opts: Options) -> bool:
    """Growing means the backlog gained more than two seconds of traffic over the phase
    (commits come every few seconds, so the lag saws up and down by about that much)."""
    return phase.lag_slope_per_s * phase.seconds > 2 * opts.rate


async def wait_for_stragglers(record: StallRecord) -> None:
    deadline = time.monotonic() + STRAGGLER_SECONDS
    while time.monotonic() < deadline and any(z not in record.received for z in record.sent):
        await asyncio.sleep(0.2)


def copy_store(store: Path, data_dir: Path) -> None:
    """The worker writes into a copy, so the store stays as loaded for the next run. chDB
    links tables to their data with relative symlinks: they are copied as links."""
    shutil.copytree(store / "clickhouse", data_dir / "clickhouse", symlinks=True)


def samples_from_copy(store: Store, opts: Options) -> Samples:
    """The flood's plate and person, read from the store (the worker holds the copy)."""
    warehouse = open_warehouse(Settings(data_dir=store.path))
    try:
        return Samples.read(warehouse, store.end, 2)
    finally:
        warehouse.close()


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Report:
    options: dict[str, Any]
    store: dict[str, Any]
    queries: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stall: dict[str, Any] | None = None
    machine: dict[str, object] = field(default_factory=dict)
    load_average_at_end: float = 0.0
    wall_seconds: float = 0.0


async def bench(opts: Options, bootstrap: str, tmp: Path) -> Report:
    await create_topics(bootstrap)
    store = await asyncio.to_thread(ensure_store, opts)
    district = District.build(opts.seed, district_communities(opts))
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(district.reference_records())
    report = Report(
        options=asdict(opts),
        store={"path": str(store.path), "reused": store.reused, "end": iso(store.end)}
        | {"load": store.load},
    )
    if not opts.stall:
        figures, report.notes = await latency_part(opts, bootstrap, store)
        report.queries = [asdict(f) | {"verdict": f.verdict} for f in figures]
    if not opts.no_stall:
        report.stall = await stall_part(opts, bootstrap, store, district, tmp)
    return report


def district_communities(opts: Options) -> Any:
    from pingan.platform.district import load_communities

    return load_communities()[: opts.communities]


def render(report: Report) -> str:
    o, s = report.options, report.store
    load = s["load"]
    how = "reused" if s["reused"] else "loaded in this run"
    lines = [
        f"Pingan API benchmark: {o['events']:,} events + {o['captures']:,} face captures over "
        f"{o['days']:g} days, {o['communities']} communities ({how}: {load['rows']:,} rows at "
        f"{load['rows_per_second']:,} rows/s; 100M events + 10M captures would take about "
        f"{load['minutes_for_100M_events_10M_captures']:g} min); "
        f"{report.machine.get('nproc')} cores, load average "
        f"{report.machine['loadavg_at_start'][0]:.1f} at start, "
        f"{report.load_average_at_end:.1f} at end (shared machine: figures are noisy)",
    ]
    if report.queries:
        lines.append(
            f"{'query':48}{'API p50':>9}{'p95':>8}{'SQL p50':>9}{'p95':>8}{'API/SQL':>9}"
            f"{'target':>8}  verdict   (ms, {o['calls']} calls each)"
        )
        for q in report.queries:
            target = f"<{q['target_p95_ms']:g}" if q["target_p95_ms"] else "-"
            lines.append(
                f"{q['name']:48}{q['api_p50_ms']:>9.1f}{q['api_p95_ms']:>8.1f}"
                f"{q['sql_p50_ms']:>9.1f}{q['sql_p95_ms']:>8.1f}{q['api_over_sql_p50']:>9.2f}"
                f"{target:>8}  {q['verdict']}" + (f": {q['first_error']}" if q["errors"] else "")
            )
        lines.append("(SQL = the resolver's own query functions on the warehouse, no HTTP/GraphQL)")
    lines += [f"note: {n}" for n in report.notes]
    if report.stall:
        lines += render_stall(report.stall)
    return "\n".join(lines)


def render_stall(stall: dict[str, Any]) -> list[str]:
    lines = [
        f"stall test: a worker on a copy of the store, district at {stall['events_per_s']:g} "
        f"events/s, {stall['alarms_per_s']:g} fence alarms/s (each its own alert)",
        f"{'phase':10}{'alarms':>10}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
        f"{'lag mean':>10}{'lag max':>9}{'first→last':>14}{'growth/s':>10}"
        f"{'worker CPU':>12}{'load':>6}",
    ]
    for p in stall["phases"]:
        lines.append(
            f"{p['name']:10}{p['alarms_received']:>5}/{p['alarms_sent']:<4}{p['alarm_p50_ms']:>9.0f}"
            f"{p['alarm_p95_ms']:>9.0f}{p['alarm_max_ms']:>9.0f}{p['lag_mean']:>10.0f}"
            f"{p['lag_max']:>9}{p['lag_first']:>7}→{p['lag_last']:<6}{p['lag_slope_per_s']:>10.1f}"
            f"{p['worker_cpu_cores']:>12.2f}{p['load_average']:>6.1f}"
        )
    flood = stall["phases"][1]["flood"]
    lines.append(f"flood ({stall['flood_clients']} clients): requests ok/errors/429, p50/p95 ms")
    for name, f in flood.items():
        lines.append(
            f"  {name:46}{f['requests']:>5} {f['ok']}/{f['errors']}/{f['throttled']}"
            f"  {f['p50_ms']:.0f}/{f['p95_ms']:.0f}"
            + (f"  {f['first_error']}" if f["errors"] else "")
        )
    under = "yes" if stall["alarm_under_1s"] else "NO"
    grows = "YES" if stall["lag_grows"] else "no"
    lines.append(
        f"under the flood: every fence alarm reached the subscriber within 1 s: {under}; "
        f"sink lag grows: {grows}"
    )
    return lines


def save(report: Report) -> Path:
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(asdict(report), indent=2, ensure_ascii=False, default=str) + "\n")
    return RESULTS


def count(text: str) -> int:
    try:
        return parse_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add = parser.add_argument
    add("--events", type=count, default=5_000_000, help="store size: events (5M)")
    add("--captures", type=count, default=1_000_000, help="store size: face captures (1M)")
    add("--days", type=float, default=30.0, help="days of history in the store")
    add("--communities", type=int, default=42)
    add("--seed", type=int, default=1)
    add("--calls", type=int, default=50, help="measured calls per query")
    add("--warmup", type=int, default=3, help="unmeasured calls per query first")
    add("--stall", action="store_true", help="only the stall test")
    add("--no-stall", action="store_true", help="only query latency")
    add("--phase-seconds", type=float, default=30.0, help="stall test: each phase's length")
    add("--settle-seconds", type=float, default=15.0, help="stall test: traffic before baseline")
    add("--rate", type=float, default=200.0, help="stall test: district events/s")
    add("--alarms-per-s", type=float, default=2.0, help="stall test: fence alarms/s")
    add("--flood-clients", type=int, default=4, help="stall test: concurrent API clients")
    add("--flood-max-requests", type=int, default=2_000, help="stall test: per client")
    opts = Options(**vars(parser.parse_args(argv)))
    if opts.stall and opts.no_stall:
        parser.error("--stall and --no-stall exclude each other")
    return opts


def main(argv: Sequence[str] | None = None) -> None:
    opts = parse_options(argv)
    isolate_environment()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # leader elections of new topics
    started, machine_info = time.monotonic(), machine()
    with tempfile.TemporaryDirectory(prefix="pingan-bench-api-") as tmp:
        step("starting a Kafka broker")
        with local_broker(Path(tmp) / "broker") as broker:
            os.environ["KAFKA_BOOTSTRAP"] = broker.bootstrap  # what the in-process API reads
            get_settings.cache_clear()
            report = asyncio.run(bench(opts, broker.bootstrap, Path(tmp)))
            step("stopping the broker")
    report.machine = machine_info
    report.load_average_at_end = os.getloadavg()[0]
    report.wall_seconds = time.monotonic() - started
    path = save(report)
    print(render(report))
    print(f"written to {path}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)

"""The SQL of the district's facilities: live counters, alert statistics, device health and
parking, on the same terms as `queries`: constant text, every client value a `{name:Type}`
parameter, the caller's communities and alert types folded into each WHERE clause.

Devices are known from their telemetry (`device_telemetry`), not from the registry topic
`pingan.reference.devices`: the registry is not in ClickHouse and health has to come from
telemetry anyway. A device that has never reported is not listed, as the DEVICE_OFFLINE rule
tracks a device only from its first telemetry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson
from strawberry.dataloader import DataLoader

from graphql_api.access import Caller
from graphql_api.criteria import TimeWindow
from graphql_api.errors import InvalidArgument
from graphql_api.facility_types import (
    AlertStat,
    Device,
    DeviceStatus,
    ParkingRevenue,
    ParkingTotals,
    PassageStat,
    StatsBucket,
    StatsGrouping,
)
from graphql_api.pagination import EPOCH, Cursor, Page, PageRequest
from graphql_api.queries import TIMESTAMP, Conditions, WarehouseReader
from graphql_api.types import OpenAlertCounts
from schemas.alerts import AlertStatus, AlertType, Severity
from schemas.events import DeviceKind, utc_now
from schemas.parking import ParkingSession, SessionStatus
from schemas.reference import DISTRICT_TZ
from schemas.rule_config import DEVICE_OFFLINE_MINUTES
from schemas.topics import EVENT_TOPICS

T = TypeVar("T")

DISTRICT_ZONE = DISTRICT_TZ.tzname(None)
"""ClickHouse's name of the district's time zone (Asia/Shanghai): days start at its midnight."""
OFFLINE_AFTER = timedelta(minutes=DEVICE_OFFLINE_MINUTES)
"""The DEVICE_OFFLINE rule's default limit, so the API and the rule mostly agree; a community's
own `offline_minutes` override is not applied here."""
HEALTH_LOOKBACK = timedelta(days=30)
"""How far back health reads telemetry, so one query never scans the table's whole history.
A device silent for longer drops out of device listings; its DEVICE_OFFLINE alert stays open."""
OPEN_STATUSES = frozenset({AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED})
EVENT_TABLES = tuple(t.table for t in EVENT_TOPICS if t.table)

MAX_BUCKET_SPAN = {StatsBucket.HOUR: timedelta(days=90), StatsBucket.DAY: timedelta(days=1096)}
"""At most 2,160 hourly or 1,096 daily buckets per series."""
BUCKET_WIDTH = {StatsBucket.HOUR: timedelta(hours=1), StatsBucket.DAY: timedelta(days=1)}
MAX_STAT_POINTS = 50_000
"""(bucket, key) pairs one series answer may hold; more is an error, never a cut."""
BUCKET_START = {StatsBucket.HOUR: "toStartOfHour", StatsBucket.DAY: "toStartOfDay"}
GROUP_SQL = {StatsGrouping.COMMUNITY: "community_id", StatsGrouping.TYPE: "alert_type"}

DEVICES_LISTING = "devices"
PARKING_COLUMNS = (
    "session_id, community_id, plate, plate_colour, status, started_at, entered_at, exited_at, "
    "entry_event_id, exit_event_id, entry_gate_id, exit_gate_id, duration_seconds, fee_fen, "
    "fee_basis, reason, tariff_id, resident, monthly_pass, revision"
)


def health_sql(where: str) -> str:
    """One row per device from one pass over its telemetry: latest kind and controller, last
    heard, the latest record's `online` metric (argMax skips NULLs, hence the tuple)."""
    return (
        "SELECT community_id, device_id, "
        "argMax(device_kind, occurred_at) AS kind, "
        "argMax(controller_id, occurred_at) AS controller_id, "
        "max(occurred_at) AS last_heard, "
        "argMax(tuple(if(mapContains(metrics, 'online'), toNullable(metrics['online']), NULL)), "
        "occurred_at).1 AS online_metric, "
        f"if(last_heard < {{stale_before:{TIMESTAMP}}} OR ifNull(online_metric, 1) = 0, "
        "'offline', 'online') AS status "
        f"FROM device_telemetry {where} GROUP BY community_id, device_id"
    )


def district_midnight(now: datetime) -> datetime:
    return now.astimezone(DISTRICT_TZ).replace(hour=0, minute=0, second=0, microsecond=0)


# -- Community counters: one query per field for a whole list of communities ------------


async def open_alert_counts(
    reader: WarehouseReader,
    community_ids: frozenset[str] | None,
    types: frozenset[AlertType] | None,
) -> dict[str, OpenAlertCounts]:
    """FINAL: an alert counts in its current state only."""
    conditions = Conditions()
    conditions.one_of("community_id", community_ids)
    conditions.one_of("alert_type", types)
    conditions.one_of("status", OPEN_STATUSES)
    rows = await reader.rows(
        "SELECT community_id, severity, count() AS n FROM alerts FINAL "
        f"{conditions.where} GROUP BY community_id, severity",
        conditions.params,
    )
    counts: dict[str, OpenAlertCounts] = {}
    for row in rows:
        tally = counts.setdefault(row["community_id"], OpenAlertCounts())
        setattr(tally, Severity(row["severity"]).value, int(row["n"]))
    return counts


async def events_since(
    reader: WarehouseReader, community_ids: frozenset[str] | None, since: datetime
) -> dict[str, int]:
    """Every event table in one UNION ALL; FINAL so a device's retried event counts once."""
    conditions = Conditions()
    conditions.one_of("community_id", community_ids)
    conditions.within("occurred_at", TimeWindow(since=since))
    per_table = " UNION ALL ".join(
        f"SELECT community_id, count() AS n FROM {table} FINAL {conditions.where} "
        "GROUP BY community_id"
        for table in EVENT_TABLES
    )
    rows = await reader.rows(
        f"SELECT community_id, sum(n) AS n FROM ({per_table}) GROUP BY community_id",
        conditions.params,
    )
    return {row["community_id"]: int(row["n"]) for row in rows}


async def offline_devices(
    reader: WarehouseReader, community_ids: frozenset[str] | None, now: datetime
) -> dict[str, int]:
    conditions, params = _health_conditions(community_ids, None, now)
    rows = await reader.rows(
        "SELECT community_id, countIf(status = 'offline') AS n "
        f"FROM ({health_sql(conditions.where)}) GROUP BY community_id",
        params,
    )
    return {row["community_id"]: int(row["n"]) for row in rows}


class FacilityCounters:
    """A Community's live counters as DataLoaders, one per field: a list of communities
    costs one query per counter asked for. Uncached, like `alert_history`, so a long-lived
    websocket context never answers from an old count."""

    def __init__(
        self,
        reader: WarehouseReader,
        caller: Callable[[], Caller],
        known: Collection[str],
    ) -> None:
        self._reader = reader
        self._caller = caller
        self._known = known
        self.open_alerts = DataLoader(self._open_alerts, cache=False)
        self.events_today = DataLoader(self._events_today, cache=False)
        self.devices_offline = DataLoader(self._devices_offline, cache=False)

    def _scope(self, community_ids: list[str]) -> frozenset[str] | None:
        return self._caller().scope(set(community_ids), self._known)

    async def _open_alerts(self, community_ids: list[str]) -> list[OpenAlertCounts]:
        types = self._caller().visible_types(None)
        counts = await open_alert_counts(self._reader, self._scope(community_ids), types)
        return [counts.get(c) or OpenAlertCounts() for c in community_ids]

    async def _events_today(self, community_ids: list[str]) -> list[int]:
        since = district_midnight(utc_now())
        counts = await events_since(self._reader, self._scope(community_ids), since)
        return [counts.get(c, 0) for c in community_ids]

    async def _devices_offline(self, community_ids: list[str]) -> list[int]:
        counts = await offline_devices(self._reader, self._scope(community_ids), utc_now())
        return [counts.get(c, 0) for c in community_ids]


# -- alertStats ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsRequest:
    """A validated alertStats call: a bounded series within what the caller may see."""

    bucket: StatsBucket
    group_by: StatsGrouping
    window: TimeWindow
    community_ids: frozenset[str] | None
    types: frozenset[AlertType] | None

    @classmethod
    def checked(
        cls,
        caller: Caller,
        known: Collection[str],
        *,
        bucket: StatsBucket,
        group_by: StatsGrouping,
        since: datetime,
        until: datetime | None,
        community_ids: list[str] | None,
    ) -> StatsRequest:
        return cls(
            bucket=bucket,
            group_by=group_by,
            window=series_window(bucket, since, until),
            community_ids=caller.scope(community_ids, known),
            types=caller.visible_types(None),
        )


def series_window(bucket: StatsBucket, since: datetime, until: datetime | None) -> TimeWindow:
    """A closed window of at most MAX_BUCKET_SPAN, so no series is a scan of all history."""
    end = until or utc_now()
    window = TimeWindow.checked(since, end)
    span, limit = end - since, MAX_BUCKET_SPAN[bucket]
    if span > limit:
        raise InvalidArgument(
            f"bucket {bucket.name} covers at most {limit.days} days "
            f"({limit // BUCKET_WIDTH[bucket]:,} buckets); since..until spans "
            f"{span / timedelta(days=1):.1f} days: shorten it"
            + (" or use bucket DAY" if bucket is StatsBucket.HOUR else "")
        )
    return window


def bucket_sql(bucket: StatsBucket, column: str) -> str:
    """The bucket's start in district time, as a UTC timestamp."""
    return f"toDateTime64({BUCKET_START[bucket]}({column}, '{DISTRICT_ZONE}'), 3, 'UTC')"


async def series_rows(
    reader: WarehouseReader, sql: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every point of a series or an error: a cut series would read as a quiet day."""
    rows = await reader.rows(
        f"{sql} LIMIT {{limit:UInt32}}", params | {"limit": MAX_STAT_POINTS + 1}
    )
    if len(rows) > MAX_STAT_POINTS:
        raise InvalidArgument(
            f"the series has more than {MAX_STAT_POINTS:,} points: shorten since..until, "
            "name fewer communityIds or use bucket DAY"
        )
    return rows


async def alert_stats(reader: WarehouseReader, request: StatsRequest) -> list[AlertStat]:
    """Alerts by first_seen, current versions only (FINAL), empty buckets left out."""
    conditions = Conditions()
    conditions.one_of("community_id", request.community_ids)
    conditions.one_of("alert_type", request.types)
    conditions.within("first_seen", request.window)
    rows = await series_rows(
        reader,
        f"SELECT {bucket_sql(request.bucket, 'first_seen')} AS bucket_start, "
        f"{GROUP_SQL[request.group_by]} AS key, count() AS n "
        f"FROM alerts FINAL {conditions.where} GROUP BY bucket_start, key "
        "ORDER BY bucket_start, key",
        conditions.params,
    )
    return [
        AlertStat(bucket_start=row["bucket_start"], key=str(row["key"]), count=int(row["n"]))
        for row in rows
    ]


# -- passageStats and parkingRevenue -------------------------------------------------------


@dataclass(frozen=True)
class SeriesRequest:
    """A validated per-community series: a bounded window within the caller's communities."""

    bucket: StatsBucket
    window: TimeWindow
    community_ids: frozenset[str] | None

    @classmethod
    def checked(
        cls,
        caller: Caller,
        known: Collection[str],
        *,
        bucket: StatsBucket,
        since: datetime,
        until: datetime | None,
        community_ids: list[str] | None,
    ) -> SeriesRequest:
        return cls(
            bucket=bucket,
            window=series_window(bucket, since, until),
            community_ids=caller.scope(community_ids, known),
        )


async def passage_stats(reader: WarehouseReader, request: SeriesRequest) -> list[PassageStat]:
    """FINAL so a camera's retried passage counts once; no plate leaves the query."""
    conditions = Conditions()
    conditions.one_of("community_id", request.community_ids)
    conditions.within("occurred_at", request.window)
    rows = await series_rows(
        reader,
        f"SELECT {bucket_sql(request.bucket, 'occurred_at')} AS bucket_start, community_id, "
        "countIf(direction = 'in') AS entries, countIf(direction = 'out') AS exits "
        f"FROM vehicle_passages FINAL {conditions.where} GROUP BY bucket_start, community_id "
        "ORDER BY bucket_start, community_id",
        conditions.params,
    )
    return [
        PassageStat(
            bucket_start=row["bucket_start"],
            community_id=row["community_id"],
            entries=int(row["entries"]),
            exits=int(row["exits"]),
        )
        for row in rows
    ]


async def parking_revenue(reader: WarehouseReader, request: SeriesRequest) -> list[ParkingRevenue]:
    """A fee is earned when the stay ends, so stays count by exited_at; latest revisions only
    (FINAL, retired ones left out). A stay starts before it ends: bounding started_at by the
    window's end lets the primary key skip later parts."""
    conditions = Conditions(clauses=["is_deleted = 0", "fee_fen IS NOT NULL"])
    conditions.one_of("community_id", request.community_ids)
    conditions.within("exited_at", request.window)
    conditions.clauses.append(f"started_at < {{until:{TIMESTAMP}}}")
    rows = await series_rows(
        reader,
        f"SELECT {bucket_sql(request.bucket, 'assumeNotNull(exited_at)')} AS bucket_start, "
        "community_id, count() AS sessions, sum(fee_fen) AS fee_total "
        f"FROM parking_sessions FINAL {conditions.where} GROUP BY bucket_start, community_id "
        "ORDER BY bucket_start, community_id",
        conditions.params,
    )
    return [
        ParkingRevenue(
            bucket_start=row["bucket_start"],
            community_id=row["community_id"],
            sessions=int(row["sessions"]),
            fee_fen=int(row["fee_total"]),
        )
        for row in rows
    ]


# -- devices ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceCriteria:
    community_ids: frozenset[str] | None
    status: DeviceStatus | None
    kind: DeviceKind | None


def device_cursor(device: Device) -> Cursor:
    """Devices are listed by (community, id), not by time: the cursor's key carries both."""
    return Cursor(EPOCH, orjson.dumps([str(device.community_id), str(device.id)]).decode())


def _after_device(cursor: Cursor | None) -> tuple[str, str] | None:
    if cursor is None:
        return None
    try:
        position = orjson.loads(cursor.key)
    except orjson.JSONDecodeError:
        position = None
    match position:
        case [str(community_id), str(device_id)] if cursor.at == EPOCH:
            return community_id, device_id
        case _:
            raise InvalidArgument("malformed cursor: pass an endCursor returned by devices")


def _health_conditions(
    community_ids: frozenset[str] | None, kind: DeviceKind | None, now: datetime
) -> tuple[Conditions, dict[str, Any]]:
    """The inner WHERE (before grouping) and every parameter of health_sql."""
    conditions = Conditions()
    conditions.one_of("community_id", community_ids)
    if kind is not None:
        conditions.equals("device_kind", kind.value)
    conditions.within("occurred_at", TimeWindow(since=now - HEALTH_LOOKBACK))
    return conditions, conditions.params | {"stale_before": now - OFFLINE_AFTER}


def _device_selection(
    criteria: DeviceCriteria, now: datetime, after: tuple[str, str] | None
) -> tuple[str, dict[str, Any]]:
    inner, params = _health_conditions(criteria.community_ids, criteria.kind, now)
    outer = Conditions()
    if criteria.status is not None:
        outer.equals("status", criteria.status.value)
    if after is not None:
        outer.clauses.append(
            "(community_id, device_id) > ({after_community:String}, {after_device:String})"
        )
        outer.params |= {"after_community": after[0], "after_device": after[1]}
    sql = f"SELECT * FROM ({health_sql(inner.where)}) {outer.where}"
    return sql, params | outer.params


async def devices_page(
    reader: WarehouseReader, criteria: DeviceCriteria, request: PageRequest
) -> Page[Device]:
    sql, params = _device_selection(criteria, utc_now(), _after_device(request.after))
    rows = await reader.rows(
        f"{sql} ORDER BY community_id, device_id LIMIT {{limit:UInt32}}",
        params | {"limit": request.limit},
    )
    return Page.from_rows([_device(row) for row in rows], request)


async def count_devices(reader: WarehouseReader, criteria: DeviceCriteria) -> int:
    sql, params = _device_selection(criteria, utc_now(), None)
    rows = await reader.rows(f"SELECT count() AS n FROM ({sql})", params)
    return int(rows[0]["n"])


def _device(row: dict[str, Any]) -> Device:
    online = row["online_metric"]
    return Device(
        id=row["device_id"],
        kind=DeviceKind(row["kind"]),
        community_id=row["community_id"],
        controller_id=row["controller_id"] or None,
        last_heard=row["last_heard"],
        online_metric=None if online is None else float(online),
        status=DeviceStatus(row["status"]),
    )


# -- parking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParkingCriteria:
    community_ids: frozenset[str] | None
    plate: str | None
    status: SessionStatus | None
    started: TimeWindow


def _parking_conditions(criteria: ParkingCriteria) -> Conditions:
    """FINAL keeps each session's latest revision; a retired one (is_deleted) is left out."""
    conditions = Conditions(clauses=["is_deleted = 0"])
    conditions.one_of("community_id", criteria.community_ids)
    if criteria.plate is not None:
        conditions.equals("plate", criteria.plate)
    if criteria.status is not None:
        conditions.equals("status", criteria.status.value)
    conditions.within("started_at", criteria.started)
    return conditions


async def parking_page(
    reader: WarehouseReader, criteria: ParkingCriteria, request: PageRequest
) -> Page[ParkingSession]:
    """Newest started first; started_at never changes across a session's revisions."""
    conditions = _parking_conditions(criteria)
    conditions.older_than("started_at", "session_id", request.after)
    rows = await reader.rows(
        f"SELECT {PARKING_COLUMNS} FROM parking_sessions FINAL {conditions.where} "
        "ORDER BY started_at DESC, session_id DESC LIMIT {limit:UInt32}",
        conditions.params | {"limit": request.limit},
    )
    return Page.from_rows([ParkingSession.model_validate(row) for row in rows], request)


async def parking_totals(reader: WarehouseReader, criteria: ParkingCriteria) -> ParkingTotals:
    conditions = _parking_conditions(criteria)
    rows = await reader.rows(
        "SELECT count() AS n, sum(fee_fen) AS fee_fen "
        f"FROM parking_sessions FINAL {conditions.where}",
        conditions.params,
    )
    return ParkingTotals(count=int(rows[0]["n"]), fee_fen=int(rows[0]["fee_fen"] or 0))


def once(make: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """The first call starts `make`; every call awaits that same result (totalCount and
    totalFee share one query)."""
    started: list[asyncio.Future[T]] = []

    async def get() -> T:
        if not started:
            started.append(asyncio.ensure_future(make()))
        return await started[0]

    return get

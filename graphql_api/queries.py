"""The API's SQL, kept apart from the schema so resolvers stay thin.

Only constant text from this module becomes SQL; every value a client supplies travels
as a server-side `{name:Type}` parameter. Timestamps are passed as text because chDB
does not parse Python datetimes and clickhouse-driver would drop their milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from graphql_api.criteria import AlertCriteria, PassageCriteria, TimeWindow
from graphql_api.errors import QueryFailed
from graphql_api.limits import ReadLimits
from graphql_api.pagination import Cursor, Page, PageRequest
from graphql_api.types import AlertStep
from pingan.platform.warehouse import Warehouse, WarehouseError
from schemas.alerts import Alert
from schemas.events import VehiclePassage

log = logging.getLogger(__name__)

TIMESTAMP = "DateTime64(3, 'UTC')"

ALERT_COLUMNS = (
    "alert_id, alert_type, severity, status, community_id, subject_kind, subject, first_seen, "
    "last_seen, count, explanation, explanation_zh, evidence, raised_at, updated_at, "
    "source_received_at, resolved_at, note"
)
PASSAGE_COLUMNS = (
    "event_id, community_id, occurred_at, received_at, schema_version, plate, plate_colour, "
    "direction, gate_id, camera_id, confidence, snapshot_ref"
)
EVENT_KEY = "community_id, occurred_at, event_id"
"""The event tables' ORDER BY: what ReplacingMergeTree (and FINAL) collapses versions by."""
NEWEST_VERSION_FIRST = "_block_number DESC, _block_offset DESC"
"""Later writes first: a part's block number grows with every insert and a merge keeps its
parts' lowest, so among one key's stored versions the last one written sorts first (within
one insert ClickHouse has already kept only the last)."""
LATEST_VERSION = f"LIMIT 1 BY {EVENT_KEY}"
"""After `ORDER BY …, NEWEST_VERSION_FIRST`: each event once, in the version FINAL keeps.

FINAL never reads a projection, so lookups ordered by a projection (plate, person: migration
0015) read without it and keep the latest version this way. Filters are on the looked-up
column and on key columns, which all versions of an event share, so this is FINAL's answer
unless a later version of an event changed the looked-up value itself (a re-matched face,
a corrected plate): then the earlier version still answers for the old value until
ClickHouse merges the two parts."""
LATEST_KEYS = f"uniqExact({EVENT_KEY})"
"""How many events, each counted once however many versions are stored."""


@dataclass
class Conditions:
    """A WHERE clause assembled from constant fragments plus its parameters."""

    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def equals(self, column: str, value: str) -> None:
        self.clauses.append(f"{column} = {{{column}:String}}")
        self.params[column] = value

    def one_of(self, column: str, values: Iterable[str] | None) -> None:
        """`column IN (...)` with one numbered parameter per value; both backends accept it.
        An empty choice matches nothing (a caller narrowed to no visible value)."""
        if values is None:
            return
        chosen = sorted(values)
        if not chosen:
            self.clauses.append("0")
            return
        names = [f"{column}_{i}" for i in range(len(chosen))]
        self.params.update(zip(names, chosen, strict=True))
        self.clauses.append(f"{column} IN ({', '.join(f'{{{n}:String}}' for n in names)})")

    def within(self, column: str, window: TimeWindow) -> None:
        if window.since is not None:
            self.clauses.append(f"{column} >= {{since:{TIMESTAMP}}}")
            self.params["since"] = window.since
        if window.until is not None:
            self.clauses.append(f"{column} < {{until:{TIMESTAMP}}}")
            self.params["until"] = window.until

    def older_than(self, at_column: str, key_column: str, cursor: Cursor | None) -> None:
        """Rows after the cursor in (at DESC, key DESC) order."""
        if cursor is None:
            return
        self.clauses.append(
            f"({at_column}, {key_column}) < ({{after_at:{TIMESTAMP}}}, {{after_key:String}})"
        )
        self.params["after_at"] = cursor.at
        self.params["after_key"] = cursor.key

    @property
    def where(self) -> str:
        return f"WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


class WarehouseReader:
    """The API's only way into the warehouse: every read carries ClickHouse's own time and
    memory limits, runs behind the pipeline's writes, and fails as QueryFailed (the
    server's message goes to the log, never to the client)."""

    def __init__(self, warehouse: Warehouse, limits: ReadLimits) -> None:
        self._warehouse = warehouse
        self._settings = limits.settings_clause

    async def rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            return await self._warehouse.aread(sql + self._settings, params)
        except WarehouseError as exc:
            log.error("warehouse query failed: %s", exc)
            raise QueryFailed from None


def alert_conditions(criteria: AlertCriteria) -> Conditions:
    conditions = Conditions()
    conditions.one_of("community_id", criteria.community_ids)
    conditions.one_of("alert_type", criteria.types)
    conditions.one_of("severity", criteria.severities)
    conditions.one_of("status", criteria.statuses)
    conditions.one_of("subject_kind", criteria.subject_kinds)
    conditions.within("first_seen", criteria.first_seen)
    return conditions


async def alerts_page(
    reader: WarehouseReader, criteria: AlertCriteria, request: PageRequest
) -> Page[Alert]:
    """Current alert states, newest first. FINAL collapses superseded versions."""
    conditions = alert_conditions(criteria)
    conditions.older_than("first_seen", "alert_id", request.after)
    rows = await reader.rows(
        f"SELECT {ALERT_COLUMNS} FROM alerts FINAL {conditions.where} "
        "ORDER BY first_seen DESC, alert_id DESC LIMIT {limit:UInt32}",
        conditions.params | {"limit": request.limit},
    )
    return Page.from_rows([alert_from_row(row) for row in rows], request)


async def count_alerts(reader: WarehouseReader, criteria: AlertCriteria) -> int:
    conditions = alert_conditions(criteria)
    rows = await reader.rows(
        f"SELECT count() AS n FROM alerts FINAL {conditions.where}", conditions.params
    )
    return int(rows[0]["n"])


async def alert_by_id(
    reader: WarehouseReader, alert_id: str, criteria: AlertCriteria
) -> Alert | None:
    """The alert, if it exists within `criteria` (the caller's communities and types)."""
    conditions = alert_conditions(criteria)
    conditions.equals("alert_id", alert_id)
    rows = await reader.rows(
        f"SELECT {ALERT_COLUMNS} FROM alerts FINAL {conditions.where} LIMIT 1",
        conditions.params,
    )
    return alert_from_row(rows[0]) if rows else None


def passage_conditions(criteria: PassageCriteria) -> Conditions:
    conditions = Conditions()
    if criteria.plate is not None:
        conditions.equals("plate", criteria.plate)
    conditions.one_of("community_id", criteria.community_ids)
    conditions.within("occurred_at", criteria.occurred)
    return conditions


@dataclass(frozen=True)
class EventListing:
    """A newest-first listing of one event table, each event once in its latest version.

    A lookup of one subject (a plate, a person) reads the projection ordered by it, which
    FINAL would ignore, and keeps the latest versions itself (`LATEST_VERSION`); any other
    listing reads with FINAL."""

    table: str
    columns: str

    async def page(
        self,
        reader: WarehouseReader,
        conditions: Conditions,
        request: PageRequest,
        *,
        by_subject: bool,
    ) -> list[dict[str, Any]]:
        conditions.older_than("occurred_at", "event_id", request.after)
        order = "ORDER BY occurred_at DESC, event_id DESC"
        if by_subject:
            source = f"{self.table} {conditions.where} {order}, {NEWEST_VERSION_FIRST}"
            source += f" {LATEST_VERSION}"
        else:
            source = f"{self.table} FINAL {conditions.where} {order}"
        return await reader.rows(
            f"SELECT {self.columns} FROM {source} LIMIT {{limit:UInt32}}",
            conditions.params | {"limit": request.limit},
        )

    async def count(
        self, reader: WarehouseReader, conditions: Conditions, *, by_subject: bool
    ) -> int:
        if by_subject:
            sql = f"SELECT {LATEST_KEYS} AS n FROM {self.table} {conditions.where}"
        else:
            sql = f"SELECT count() AS n FROM {self.table} FINAL {conditions.where}"
        rows = await reader.rows(sql, conditions.params)
        return int(rows[0]["n"])


PASSAGES = EventListing("vehicle_passages", PASSAGE_COLUMNS)


async def passages_page(
    reader: WarehouseReader, criteria: PassageCriteria, request: PageRequest
) -> Page[VehiclePassage]:
    """Passages newest first, each device retry of an event collapsed into its latest."""
    rows = await PASSAGES.page(
        reader, passage_conditions(criteria), request, by_subject=criteria.plate is not None
    )
    return Page.from_rows([VehiclePassage.model_validate(row) for row in rows], request)


async def count_passages(reader: WarehouseReader, criteria: PassageCriteria) -> int:
    conditions = passage_conditions(criteria)
    return await PASSAGES.count(reader, conditions, by_subject=criteria.plate is not None)


def alert_from_row(row: dict[str, Any]) -> Alert:
    """The alerts table stores evidence as a JSON string; the record wants a list."""
    return Alert.model_validate(row | {"evidence": orjson.loads(row["evidence"])})


async def alert_histories(reader: WarehouseReader, alert_ids: list[str]) -> list[list[AlertStep]]:
    """Every alert's steps in one query, in the order of `alert_ids` (a DataLoader batch)."""
    conditions = Conditions()
    conditions.one_of("alert_id", alert_ids)
    rows = await reader.rows(
        "SELECT alert_id, action, actor, actor_role, at, note, assigned_to "
        f"FROM alert_actions {conditions.where} ORDER BY at, action_id",
        conditions.params,
    )
    steps: dict[str, list[AlertStep]] = {alert_id: [] for alert_id in alert_ids}
    for row in rows:
        alert_id = row.pop("alert_id")
        steps[alert_id].append(AlertStep(**row))
    return [steps[alert_id] for alert_id in alert_ids]

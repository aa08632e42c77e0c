"""ClickHouse access: embedded chDB by default, a server through clickhouse-driver.

Both speak the same SQL, with server-side `{name:Type}` parameters, so no caller ever
builds SQL text from data. Inserts take Arrow tables: that is the fast path for chDB
(the `Python()` table function reads Arrow in place) and converts cheaply to columns
for clickhouse-driver.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc

from pingan.platform.settings import Settings
from pingan.platform.warehouse_faults import InjectedFault, WarehouseFault
from schemas.event_time import Retention
from schemas.topics import BIOMETRIC_TOPICS, EVENT_TOPICS

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "clickhouse"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MONTHLY = re.compile(r"toYYYYMM\((\w+)\)")
_CREATED_TTL = re.compile(
    r"^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s.*?\bENGINE\s*=.*?\sTTL\s+(.+?)"
    r"(?:\s+SETTINGS\s.*)?$",
    re.S | re.I,
)
_ALTERED_TTL = re.compile(r"^ALTER\s+TABLE\s+(\w+)\s+MODIFY\s+TTL\s+(.+)$", re.S | re.I)
_ENGINE_TTL = re.compile(r"\sTTL\s(.+?)(?:\sSETTINGS\s.*)?$", re.S)

log = logging.getLogger(__name__)


PERMANENT_ERROR_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
        395,  # FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
        407,  # DECIMAL_OVERFLOW
    }
)
"""ClickHouse error codes that say the rows themselves are wrong: retrying the same rows
fails the same way, so the sink dead-letters them. Every other code (connection lost,
TIMEOUT_EXCEEDED 159, MEMORY_LIMIT_EXCEEDED 241, TOO_MANY_PARTS 252, NOT_ENOUGH_SPACE 243,
TABLE_IS_READ_ONLY 242, an unknown one) is taken as transient: retried, and alerted on if
it lasts, since dead-lettering good rows for a server-side fault would lose them."""

_ERROR_CODE = re.compile(r"Code: (\d+)")


class WarehouseError(RuntimeError):
    """A ClickHouse failure, with the server's message and without a Python traceback."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code

    @property
    def permanent(self) -> bool:
        """True when the rows, not the server, are at fault (see PERMANENT_ERROR_CODES)."""
        return self.code in PERMANENT_ERROR_CODES


class DataDirectoryBusy(WarehouseError):
    """Another process holds the embedded chDB data directory (chDB allows one)."""


class Warehouse(ABC):
    """Blocking calls run on one dedicated thread so the event loop never waits on SQL."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")
        self._read_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-read")
        self._arrow_schemas: dict[str, pa.Schema] = {}
        self._monthly: dict[str, str | None] = {}
        self.fault: WarehouseFault | None = None
        """Tests only (`PINGAN_TEST_WAREHOUSE_FAULT`): see pingan.platform.warehouse_faults."""

    @abstractmethod
    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    @abstractmethod
    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table: ...

    @abstractmethod
    def _insert(self, table: str, rows: pa.Table) -> None: ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.query_arrow(sql, params).to_pylist()

    def insert(self, table: str, rows: pa.Table) -> None:
        """One insert per table partition, each a single part, so each is all or nothing.

        ClickHouse writes an insert spanning two months as two parts, and a crash can land
        between them; split here, a crash leaves whole partitions, which the sink's replay
        (it skips only the offsets it finds stored) completes.
        """
        if not _IDENTIFIER.match(table):
            raise WarehouseError(f"not a table name: {table!r}")
        if not rows.num_rows:
            return
        parts = self._partitions(table, rows)
        for part in parts:
            if self.fault is not None:
                try:
                    self.fault.before_insert(table, part)
                except InjectedFault as exc:
                    raise WarehouseError(str(exc), exc.code) from None
            self._insert(table, part)
            if self.fault is not None:
                self.fault.after_part(table, len(parts))

    def _partitions(self, table: str, rows: pa.Table) -> list[pa.Table]:
        """`rows` split by the table's `toYYYYMM(column)` partition; whole if it has another
        key (or none) or the rows fall in one month."""
        if table not in self._monthly:
            found = self.query(
                "SELECT partition_key FROM system.tables "
                "WHERE database = currentDatabase() AND name = {table:String}",
                {"table": table},
            )
            key = _MONTHLY.fullmatch(found[0]["partition_key"]) if found else None
            self._monthly[table] = key.group(1) if key else None
        column = self._monthly[table]
        if column is None or column not in rows.column_names:
            return [rows]
        times = rows.column(column)
        months = pc.add(pc.multiply(pc.year(times), 100), pc.month(times))
        distinct = pc.unique(months).to_pylist()
        if len(distinct) <= 1:
            return [rows]
        return [rows.filter(pc.equal(months, month)) for month in sorted(distinct)]

    def arrow_schema(self, table: str) -> pa.Schema:
        """The Arrow schema matching a table's columns, read once from ClickHouse itself."""
        if table not in self._arrow_schemas:
            columns = self.query(
                "SELECT name, type FROM system.columns "
                "WHERE database = currentDatabase() AND table = {table:String} ORDER BY position",
                {"table": table},
            )
            if not columns:
                raise WarehouseError(f"table {table} does not exist; run migrations first")
            self._arrow_schemas[table] = pa.schema(
                [pa.field(c["name"], arrow_type(c["type"])) for c in columns]
            )
        return self._arrow_schemas[table]

    async def run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def aquery(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        return await self.run(self.query, sql, params)

    async def ainsert(self, table: str, rows: pa.Table) -> None:
        await self.run(self.insert, table, rows)

    async def aread(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """A read on behalf of an API client, on its own thread: it never queues ahead of
        the pipeline's inserts (see `_read`)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_executor, self._read, sql, params)

    @abstractmethod
    def _read(self, sql: str, params: Mapping[str, Any] | None) -> list[dict[str, Any]]: ...

    def close(self) -> None:
        self._read_executor.shutdown(wait=True)
        self._executor.shutdown(wait=True)


class EmbeddedWarehouse(Warehouse):
    """chDB in this process. A lock file makes a second opener fail fast with a clear message.

    One chDB session must not run two queries at once (it deadlocks), so each handle's calls
    are serialised, whichever thread makes them: the pipeline's on one handle, the API's
    reads on another.
    """

    def __init__(self, path: Path, database: str) -> None:
        super().__init__()
        from chdb import session as chdb_session

        path.mkdir(parents=True, exist_ok=True)
        self._lock = _hold_lock(path.with_name(path.name + ".lock"))
        self._session = chdb_session.Session(str(path))
        self._session_lock = threading.Lock()
        self._session.query(f"CREATE DATABASE IF NOT EXISTS {_checked(database)}")
        self._session.query(f"USE {_checked(database)}")
        self._read_session = chdb_session.Session(str(path))
        self._read_lock = threading.Lock()
        self._read_session.query(f"USE {_checked(database)}")

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._call(sql, "CSV", params)

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        return self._call(sql, "ArrowTable", params)

    def query_formatted(self, sql: str, fmt: str) -> bytes:
        """An analyst's query in any ClickHouse output format, byte for byte as ClickHouse
        writes it (text that is not valid UTF-8 included), as `pingan sql --format` promises."""
        return self._call(sql, fmt, None).bytes()

    def _insert(self, table: str, rows: pa.Table) -> None:
        columns = ", ".join(f"`{name}`" for name in rows.column_names)
        self._call(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM Python(rows)", "CSV", None, rows
        )

    def _call(self, sql: str, fmt: str, params: Mapping[str, Any] | None, rows: Any = None) -> Any:
        with self._session_lock:
            return _query_session(self._session, sql, fmt, params, rows)

    def _read(self, sql: str, params: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """On a second handle to the same engine: chDB 4 runs queries of different handles
        in parallel, so an API read never holds up the pipeline's inserts."""
        with self._read_lock:
            return _query_session(self._read_session, sql, "ArrowTable", params, None).to_pylist()

    def close(self) -> None:
        super().close()
        self._read_session.close()
        self._session.close()
        os.close(self._lock)


def _query_session(
    session: Any, sql: str, fmt: str, params: Mapping[str, Any] | None, rows: Any
) -> Any:
    """`rows` is in scope for chDB's `Python(rows)` table function."""
    try:
        return session.query(sql, fmt, params=query_parameters(params))
    except Exception as exc:
        raise WarehouseError(_clickhouse_message(exc), _error_code(exc)) from None


class ServerWarehouse(Warehouse):
    """A ClickHouse server over the native protocol (clickhouse-driver)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._client = _connect(url)
        self._read_client = _connect(url)

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._execute(sql, params)

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        rows, types = self._execute(sql, params, with_column_types=True)
        names = [name for name, _ in types]
        return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})

    def _insert(self, table: str, rows: pa.Table) -> None:
        columns = ", ".join(f"`{name}`" for name in rows.column_names)
        data = [rows.column(name).to_pylist() for name in rows.column_names]
        self._execute(f"INSERT INTO {table} ({columns}) VALUES", data, columnar=True)

    def _execute(self, sql: str, params: Any, **kwargs: Any) -> Any:
        return _execute(self._client, sql, params, **kwargs)

    def _read(self, sql: str, params: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """API reads have their own connection: the server runs them beside the inserts."""
        rows, types = _execute(self._read_client, sql, params, with_column_types=True)
        names = [name for name, _ in types]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def close(self) -> None:
        super().close()
        self._client.disconnect()
        self._read_client.disconnect()


def _connect(url: str) -> Any:
    from clickhouse_driver import Client

    parsed = urlparse(url)
    return Client(
        host=parsed.hostname or "localhost",
        port=parsed.port or 9000,
        user=parsed.username or "default",
        password=parsed.password or "",
        database=(parsed.path or "/default").lstrip("/") or "default",
        settings={"server_side_params": True},
    )


def _execute(client: Any, sql: str, params: Any, **kwargs: Any) -> Any:
    try:
        if not kwargs.get("columnar"):
            params = query_parameters(params)
        return client.execute(sql, params, **kwargs)
    except Exception as exc:
        raise WarehouseError(_clickhouse_message(exc), _error_code(exc)) from None


def open_warehouse(settings: Settings) -> Warehouse:
    warehouse: Warehouse
    if settings.clickhouse_url:
        warehouse = ServerWarehouse(settings.clickhouse_url)
    else:
        warehouse = EmbeddedWarehouse(settings.chdb_path, settings.clickhouse_database)
    if settings.test_warehouse_fault:
        warehouse.fault = WarehouseFault.parse(settings.test_warehouse_fault)
    return warehouse


def migrate(warehouse: Warehouse, settings: Settings) -> list[str]:
    """Apply the versioned DDL files not yet recorded, then bring every table's TTL to the
    settings (`sync_retention`); returns the versions applied."""
    warehouse.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = {row["version"] for row in warehouse.query("SELECT version FROM schema_migrations")}
    applied = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.stem in done:
            continue
        for statement in _statements(path.read_text(encoding="utf-8"), settings):
            warehouse.command(statement)
        warehouse.command(
            "INSERT INTO schema_migrations (version) VALUES ({version:String})",
            {"version": path.stem},
        )
        applied.append(path.stem)
    sync_retention(warehouse, settings)
    return applied


def sync_retention(warehouse: Warehouse, settings: Settings) -> list[str]:
    """Give existing tables the TTLs the settings ask for now; returns the tables changed.

    A migration runs once, so the TTL it wrote keeps the settings of that day: without this,
    shortening PINGAN_BIOMETRIC_TTL_DAYS would leave faces stored for the old period. The
    change also rewrites the TTL of parts already stored (`materialize_ttl_after_modify`,
    on by default), so rows past the new TTL go at the next merge, not only new ones.
    """
    current = {
        row["name"]: _engine_ttl(row["engine_full"])
        for row in warehouse.query(
            "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()"
        )
    }
    changed = []
    for table, ttl in sorted(declared_retention(settings).items()):
        if table not in current or _same_ttl(warehouse, table, current[table], ttl):
            continue
        warehouse.command(f"ALTER TABLE {_checked(table)} MODIFY TTL {ttl}")
        log.info("retention of %s changed from %s to %s", table, current[table] or "none", ttl)
        changed.append(table)
    return changed


def declared_retention(settings: Settings) -> dict[str, str]:
    """Each table's TTL as the migrations, read in order, leave it under these settings."""
    ttls: dict[str, str] = {}
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        for statement in _statements(path.read_text(encoding="utf-8"), settings):
            found = _CREATED_TTL.match(statement) or _ALTERED_TTL.match(statement)
            if found:
                ttls[found[1]] = found[2].strip()
    return ttls


_EVENT_TTL = re.compile(r"^toDateTime\(occurred_at\)\s*\+\s*INTERVAL\s+(\d+)\s+DAY\b", re.I)


def event_retention(settings: Settings) -> Retention:
    """How long each event table keeps rows under these settings, read from its TTL."""
    days = {}
    for table, ttl in declared_retention(settings).items():
        found = _EVENT_TTL.match(ttl)
        if found:
            days[table] = int(found[1])
    return Retention(
        {
            topic.record: timedelta(days=days[topic.table])
            for topic in EVENT_TOPICS
            if topic.record is not None and topic.table in days
        }
    )


def _engine_ttl(engine_full: str | bytes) -> str | None:
    text = engine_full.decode() if isinstance(engine_full, bytes) else engine_full
    found = _ENGINE_TTL.search(text)
    return found[1] if found else None


def _same_ttl(warehouse: Warehouse, table: str, current: str | None, wanted: str) -> bool:
    """Compared as ClickHouse formats them: it stores `INTERVAL 90 DAY` as `toIntervalDay(90)`.

    On one line, because a query parameter's value ends at a line break."""
    if current is None:
        return False
    (row,) = warehouse.query(
        "SELECT formatQuerySingleLine({current:String}) = formatQuerySingleLine({wanted:String})"
        " AS same",
        {
            "current": " ".join(f"ALTER TABLE {table} MODIFY TTL {current}".split()),
            "wanted": " ".join(f"ALTER TABLE {table} MODIFY TTL {wanted}".split()),
        },
    )
    return bool(row["same"])


def _statements(text: str, settings: Settings) -> list[str]:
    text = Template(text).substitute(
        biometric_ttl_days=int(settings.biometric_ttl_days),
        movement_ttl_days=int(settings.movement_ttl_days),
        audit_ttl_days=int(settings.audit_ttl_days),
        biometric_topics=", ".join(f"'{topic.name}'" for topic in BIOMETRIC_TOPICS),
    )
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def query_parameters(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Datetimes as UTC text with milliseconds: chDB rejects datetime objects, and
    clickhouse-driver would drop the milliseconds."""
    if not params:
        return None
    return {
        name: value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        if isinstance(value, datetime)
        else value
        for name, value in params.items()
    }


def arrow_type(clickhouse_type: str) -> pa.DataType:
    """Arrow type for inserting into a column; String is binary: raw bytes need not be UTF-8."""
    t = clickhouse_type.strip()
    for wrapper in ("LowCardinality", "Nullable"):
        if t.startswith(wrapper + "("):
            return arrow_type(t[len(wrapper) + 1 : -1])
    if t.startswith("DateTime64"):
        return pa.timestamp("ms", tz="UTC")
    if t.startswith("DateTime"):
        return pa.timestamp("s", tz="UTC")
    if t.startswith("Array("):
        return pa.list_(arrow_type(t[6:-1]))
    if t.startswith("Map("):
        key, value = _split_top_level(t[4:-1])
        return pa.map_(arrow_type(key), arrow_type(value))
    simple = {
        "String": pa.binary(),
        "Bool": pa.bool_(),
        "UInt8": pa.uint8(),
        "UInt16": pa.uint16(),
        "UInt32": pa.uint32(),
        "UInt64": pa.uint64(),
        "Int8": pa.int8(),
        "Int16": pa.int16(),
        "Int32": pa.int32(),
        "Int64": pa.int64(),
        "Float32": pa.float32(),
        "Float64": pa.float64(),
        "Date": pa.date32(),
    }
    if t not in simple:
        raise WarehouseError(f"no Arrow mapping for ClickHouse type {clickhouse_type}")
    return simple[t]


def _split_top_level(args: str) -> tuple[str, str]:
    depth = 0
    for i, ch in enumerate(args):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            return args[:i].strip(), args[i + 1 :].strip()
    raise WarehouseError(f"cannot parse type arguments {args!r}")


def _checked(identifier: str) -> str:
    if not _IDENTIFIER.match(identifier):
        raise WarehouseError(f"not an identifier: {identifier!r}")
    return identifier


def _hold_lock(lock_path: Path) -> int:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise DataDirectoryBusy(
            f"the embedded ClickHouse data directory {lock_path.with_suffix('')} is in use by "
            f"pid {holder} (a running worker). Query through the GraphQL API instead, "
            "or stop the worker and retry."
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _clickhouse_message(exc: Exception) -> str:
    """The first line of ClickHouse's message: enough for an analyst, no stack trace."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first.split(". Stack trace")[0]


def _error_code(exc: Exception) -> int | None:
    """clickhouse-driver's errors carry `code`; chDB's say "Code: N." in their text."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    found = _ERROR_CODE.search(str(exc))
    return int(found.group(1)) if found else None

"""ClickHouse's HTTP interface for analysts, served by the worker that holds embedded chDB.

chDB lets one process open a data directory, so while the platform runs no ClickHouse client
could attach to it. The worker therefore answers the HTTP protocol that clickhouse-connect,
DBeaver (JDBC) and Grafana's ClickHouse data source speak, on the API's thread and loop:
GET/POST with the query in the `query` parameter and/or the body, `database`,
`default_format`, `param_<name>` values for `{name:Type}` placeholders, settings as
parameters, and answers in any output format with ClickHouse's headers and error texts.

Every query runs in a chDB session of its own, opened read-only (`readonly=1`) with this
endpoint's limits as its settings, so neither the query nor the client can lift them; the
session is a few milliseconds. `graphql_api.sql_policy` decides, from ClickHouse's own
parse of the query, what the caller may read. Each query is audited before its answer
leaves. With a ClickHouse server (CLICKHOUSE_URL) analysts use the server itself.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import re
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from multidict import MultiDict, MultiMapping

from graphql_api.access import Caller, Permission, Role, Unauthenticated
from graphql_api.audit import PURPOSE_MAX_LENGTH, AuditTrail, AuditUnavailable
from graphql_api.limits import API_NICE, RateLimiter
from graphql_api.native_blocks import at_revision, client_revision
from graphql_api.sql_policy import (
    SELECT_KINDS,
    ClickHouseError,
    Reads,
    SqlPolicy,
    Statement,
    session_settings,
)
from graphql_api.tokens import TokenVerifier
from pingan.platform.settings import Settings
from pingan.platform.web import start_site

log = logging.getLogger(__name__)

SERVER_NAME = "pingan"
TRANSPORT_PARAMETERS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "user",
        "password",
        "quota_key",
        "buffer_size",
        "wait_end_of_query",
        "enable_http_compression",
        "http_zlib_compression_level",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "cancel_http_readonly_queries_on_client_close",
        "client_protocol_version",
        "add_http_cors_header",
        "purpose",
        "log_comment",
        "role",
        "readonly",
    }
)
"""HTTP parameters about the exchange rather than the query; answered statelessly."""
NATIVE_COMPRESSION = frozenset({"compress", "decompress"})
PYTHON_FORMATS = frozenset({"dataframe", "arrowtable", "debug"})
"""chDB's names for Python objects, not ClickHouse output formats."""
CONCURRENT_QUERIES = 2
"""Analysts' queries run at once; more wait their turn, so the pipeline keeps its cores."""
MAX_QUERY_PARAMETERS = 100
VIEW_DEPTH = 4
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_QUERY_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
_TEXT_FORMATS = ("TabSeparated", "TSV", "CSV", "Pretty", "Vertical", "Markdown", "Values", "Raw")


@dataclass(frozen=True)
class SqlRequest:
    """One HTTP request, read and bounded, before any SQL runs."""

    sql: str
    database: str
    default_format: str
    query_id: str
    purpose: str
    parameters: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    protocol_revision: int = 0
    """`client_protocol_version`: the revision of the Native blocks the client decodes."""


@dataclass(frozen=True)
class Answer:
    body: bytes
    output_format: str
    read_rows: int
    read_bytes: int
    elapsed_ns: int


@dataclass(frozen=True)
class ServerFacts:
    """What clients ask of every server, read once from chDB."""

    version: str
    timezone: str
    known_settings: frozenset[str]


class SqlGateway:
    def __init__(self, settings: Settings, audit: AuditTrail, verifier: TokenVerifier) -> None:
        self._settings = settings
        self._audit = audit
        self._verifier = verifier
        self._limiter = RateLimiter(settings.sql_rate_limit_per_minute)
        self._executor = ThreadPoolExecutor(
            max_workers=CONCURRENT_QUERIES, thread_name_prefix="sql-gateway"
        )
        self._facts: ServerFacts | None = None
        self._limits: dict[str, int | float] = {
            "max_execution_time": settings.sql_timeout_seconds,
            "max_result_rows": settings.sql_max_result_rows,
            "max_result_bytes": settings.sql_max_result_mb * 1024 * 1024,
            "max_memory_usage": settings.sql_max_memory_mb * 1024 * 1024,
            "max_threads": settings.api_query_max_threads,
        }

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._facts = await loop.run_in_executor(self._executor, self._read_facts)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=self._max_query_bytes + 1)
        app.router.add_get("/ping", ping)
        app.router.add_route("*", "/", self.handle)
        return app

    @property
    def _max_query_bytes(self) -> int:
        return self._settings.sql_max_query_kb * 1024

    @property
    def facts(self) -> ServerFacts:
        assert self._facts is not None, "start() the gateway first"
        return self._facts

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Every failure is answered as ClickHouse would, never with a traceback."""
        try:
            return await self._handle(request)
        except ClickHouseError as exc:
            return self._error(exc)
        except AuditUnavailable as exc:
            return self._error(ClickHouseError(1002, "UNKNOWN_EXCEPTION", str(exc), 503))
        except Exception:
            log.exception("the SQL endpoint failed on a request")
            return self._error(
                ClickHouseError(1002, "UNKNOWN_EXCEPTION", "internal error; it has been logged")
            )

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            raise ClickHouseError(
                1, "UNSUPPORTED_METHOD", f"HTTP method {request.method} is not supported", 405
            )
        fields = await _fields(request)
        body = await _body(request, self._max_query_bytes)
        if request.method == "GET" and "query" not in fields and not body:
            return web.Response(text="Ok.\n")
        caller = self._caller(request, fields)
        wait = self._limiter.allow(caller.sub)
        if wait:
            raise ClickHouseError(
                201, "QUOTA_EXCEEDED", f"{caller.sub}: too many queries; retry in {wait:.0f} s"
            )
        sql_request = read_request(request, fields, body, self._max_query_bytes)
        policy = SqlPolicy(caller, self._settings.clickhouse_database)
        try:
            answer = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._answer, sql_request, policy
            )
        except ClickHouseError as exc:
            await self._record(caller, request, sql_request, f"failed: {exc.name}")
            raise
        await self._record(caller, request, sql_request, "answered")
        return self._response(request, sql_request, answer)

    def _caller(self, request: web.Request, fields: MultiMapping[str]) -> Caller:
        authorization = request.headers.get("Authorization", "")
        try:
            if authorization.lower().startswith("bearer "):
                caller = self._verifier.caller(authorization)
            else:
                caller = self._analyst(*_credentials(request, fields))
        except Unauthenticated as exc:
            raise ClickHouseError(516, "AUTHENTICATION_FAILED", str(exc)) from None
        if not caller.may(Permission.QUERY_SQL):
            raise ClickHouseError(
                497,
                "ACCESS_DENIED",
                f"{caller.sub}: the role {caller.role.value!r} may not query SQL "
                f"(needs {Permission.QUERY_SQL.value!r}: analyst or district_admin)",
            )
        return caller

    def _analyst(self, user: str, password: str) -> Caller:
        configured = self._settings.sql_user
        secret = self._settings.sql_password
        if not user and not password:
            raise Unauthenticated(
                "sign in: send Authorization: Bearer <token> (clickhouse-connect: access_token)"
            )
        if configured is None or secret is None:
            raise Unauthenticated(
                "this endpoint takes API tokens only: send Authorization: Bearer <token> "
                "(JDBC, DBeaver: the driver property bearer_token)"
            )
        expected = secret.get_secret_value().encode()
        if user != configured or not hmac.compare_digest(password.encode(), expected):
            raise Unauthenticated(f"{user}: Authentication failed: password is incorrect")
        return Caller(sub=user, role=Role.ANALYST, communities=None)

    def _read_facts(self) -> ServerFacts:
        session = self._session({})
        try:
            version, timezone = _text(session.query("SELECT version(), timezone()", "TSV")).split()
            names = _text(session.query("SELECT name FROM system.settings", "TSV")).split()
        finally:
            session.close()
        return ServerFacts(version, timezone, frozenset(names))

    def _session(self, settings: Mapping[str, str], database: str | None = None) -> Any:
        """A read-only chDB session on the worker's data directory with these settings."""
        from chdb import session as chdb_session

        startup = {
            "readonly": "1",
            "database": database or self._settings.clickhouse_database,
            "enable_http_compression": "0",
            "os_thread_priority": str(API_NICE),
            **settings,
        }
        args = "&".join(f"{name}={value}" for name, value in startup.items())
        return chdb_session.Session(f"{self._settings.chdb_path}?{args}")

    def _answer(self, request: SqlRequest, policy: SqlPolicy) -> Answer:
        settings = session_settings(request.settings, self._limits, self.facts.known_settings)
        database = request.database or self._settings.clickhouse_database
        if not _NAME.match(database):
            raise ClickHouseError(
                81, "UNKNOWN_DATABASE", f"Database {database[:64]} does not exist"
            )
        filters = policy.analysis_filters()
        sessions = []
        try:
            execution = self._opened(sessions, settings, database)
            analysis = (
                self._opened(sessions, {**settings, "additional_table_filters": filters}, database)
                if filters
                else execution
            )
            return _run(analysis, execution, request, policy)
        finally:
            for session in sessions:
                session.close()

    def _opened(self, opened: list[Any], settings: Mapping[str, str], database: str) -> Any:
        try:
            session = self._session(settings, database)
        except Exception as exc:
            raise ClickHouseError.from_chdb(str(exc)) from None
        opened.append(session)
        return session

    async def _record(
        self, caller: Caller, http: web.Request, request: SqlRequest, outcome: str
    ) -> None:
        await self._audit.record(
            caller,
            "sql",
            arguments={
                "sql": request.sql,
                "database": request.database,
                "parameters": request.parameters,
                "query_id": request.query_id,
                "outcome": outcome,
            },
            client_address=http.remote or "",
            purpose=request.purpose,
        )

    def _response(self, http: web.Request, request: SqlRequest, answer: Answer) -> web.Response:
        summary = {
            "read_rows": str(answer.read_rows),
            "read_bytes": str(answer.read_bytes),
            "written_rows": "0",
            "written_bytes": "0",
            "total_rows_to_read": str(answer.read_rows),
            "result_rows": "0",
            "result_bytes": str(len(answer.body)),
            "elapsed_ns": str(answer.elapsed_ns),
        }
        response = web.Response(
            body=answer.body,
            headers={
                **self._headers(request.query_id),
                "Content-Type": _content_type(answer.output_format),
                "X-ClickHouse-Format": answer.output_format,
                "X-ClickHouse-Summary": orjson.dumps(summary).decode(),
            },
        )
        if http.query.get("enable_http_compression") == "1":
            response.enable_compression()
        return response

    def _headers(self, query_id: str = "") -> dict[str, str]:
        headers = {"X-ClickHouse-Server-Display-Name": SERVER_NAME}
        if self._facts is not None:
            headers["X-ClickHouse-Timezone"] = self._facts.timezone
        if query_id:
            headers["X-ClickHouse-Query-Id"] = query_id
        return headers

    def _error(self, exc: ClickHouseError) -> web.Response:
        version = self._facts.version if self._facts else "unknown"
        headers = {**self._headers(), "X-ClickHouse-Exception-Code": str(exc.code)}
        if exc.http_status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="pingan", Basic realm="pingan"'
        return web.Response(
            status=exc.http_status,
            text=exc.body(version),
            content_type="text/plain",
            charset="utf-8",
            headers=headers,
        )


async def ping(request: web.Request) -> web.Response:
    return web.Response(text="Ok.\n")


async def _fields(request: web.Request) -> MultiMapping[str]:
    """URL parameters, and a url-encoded form's fields (some clients post those)."""
    if request.content_type == "application/x-www-form-urlencoded":
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise ClickHouseError(
                62, "SYNTAX_ERROR", "Max query size exceeded: the form is too large", 413
            ) from None
        fields = MultiDict(request.query)
        fields.extend((name, str(value)) for name, value in form.items())
        return fields
    if request.content_type.startswith("multipart/"):
        raise ClickHouseError(
            1, "UNSUPPORTED_METHOD", "multipart requests (external tables) are not supported", 400
        )
    return request.query


async def _body(request: web.Request, limit: int) -> bytes:
    if request.content_type == "application/x-www-form-urlencoded":
        return b""
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise ClickHouseError(
            62, "SYNTAX_ERROR", f"Max query size exceeded: the query is over {limit} bytes", 413
        )
    return body


def _credentials(request: web.Request, fields: MultiMapping[str]) -> tuple[str, str]:
    """Basic auth, then ClickHouse's X-ClickHouse-User/Key headers, then user/password."""
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("the Basic credentials are not valid base64") from None
        user, _, password = decoded.partition(":")
        return user, password
    if "X-ClickHouse-User" in request.headers:
        return request.headers["X-ClickHouse-User"], request.headers.get("X-ClickHouse-Key", "")
    return fields.get("user", ""), fields.get("password", "")


def read_request(
    http: web.Request, fields: MultiMapping[str], body: bytes, limit: int
) -> SqlRequest:
    """The query is the `query` parameter followed by the body, as ClickHouse joins them."""
    if any(fields.get(name) == "1" for name in NATIVE_COMPRESSION):
        raise ClickHouseError(
            1,
            "UNSUPPORTED_METHOD",
            "ClickHouse's native compression (compress=1, decompress=1) is not supported "
            "here; JDBC: add compress=0 to the URL",
            400,
        )
    try:
        text = "\n".join(part for part in (fields.get("query", ""), body.decode()) if part)
    except UnicodeDecodeError:
        raise ClickHouseError(62, "SYNTAX_ERROR", "the query is not UTF-8") from None
    if not text.strip():
        raise ClickHouseError(62, "SYNTAX_ERROR", "Empty query")
    if len(text.encode()) > limit:
        raise ClickHouseError(
            62, "SYNTAX_ERROR", f"Max query size exceeded: the query is over {limit} bytes", 413
        )
    parameters = {k[6:]: v for k, v in fields.items() if k.startswith("param_")}
    if len(parameters) > MAX_QUERY_PARAMETERS:
        raise ClickHouseError(36, "BAD_ARGUMENTS", f"more than {MAX_QUERY_PARAMETERS} parameters")
    settings = {
        k: v
        for k, v in fields.items()
        if k not in TRANSPORT_PARAMETERS | NATIVE_COMPRESSION and not k.startswith("param_")
    }
    return SqlRequest(
        sql=text,
        database=fields.get("database") or http.headers.get("X-ClickHouse-Database") or "",
        default_format=_format(
            fields.get("default_format") or http.headers.get("X-ClickHouse-Format") or "TSV"
        ),
        query_id=_query_id(fields.get("query_id")),
        purpose=_purpose(fields.get("purpose") or fields.get("log_comment") or ""),
        parameters=parameters,
        settings=settings,
        protocol_revision=client_revision(fields.get("client_protocol_version")),
    )


def _format(name: str) -> str:
    if not _NAME.match(name) or name.lower() in PYTHON_FORMATS:
        raise ClickHouseError(73, "UNKNOWN_FORMAT", f"Unknown output format {name[:64]}")
    return name


def _query_id(given: str | None) -> str:
    if not given:
        return str(uuid.uuid4())
    if not _QUERY_ID.match(given):
        raise ClickHouseError(36, "BAD_ARGUMENTS", "query_id: letters, digits and _.:- up to 100")
    return given


def _purpose(text: str) -> str:
    if len(text) > PURPOSE_MAX_LENGTH:
        raise ClickHouseError(
            36, "BAD_ARGUMENTS", f"purpose is longer than {PURPOSE_MAX_LENGTH} characters"
        )
    return text.strip()


def _run(session: Any, execution: Any, request: SqlRequest, policy: SqlPolicy) -> Answer:
    """Checked in `session` (see `SqlPolicy.analysis_filters`), answered from `execution`.
    Canonical text first: what ClickHouse checked is exactly what runs, one statement."""
    canonical = _query(
        session, "SELECT formatQuerySingleLine({q:String})", "RawBLOB", {"q": escaped(request.sql)}
    )
    statement = _statement(session, canonical, request.parameters)
    policy.check_statement(statement)
    output_format = request.default_format
    if statement.output_format is not None:
        output_format = _format(statement.output_format)
        canonical = _without_format(session, canonical, statement.output_format, request.parameters)
    if statement.kind in SELECT_KINDS:
        _check_reads(session, policy, canonical, request.parameters, VIEW_DEPTH)
    result = _query_result(execution, canonical, output_format, request.parameters)
    body = bytes(result.bytes())
    if output_format.lower() == "native":
        body = at_revision(body, request.protocol_revision)
    return Answer(
        body=body,
        output_format=output_format,
        read_rows=int(result.rows_read()),
        read_bytes=int(result.bytes_read()),
        elapsed_ns=int(result.elapsed() * 1e9),
    )


def _statement(session: Any, canonical: str, parameters: Mapping[str, str]) -> Statement:
    ast = _query(session, f"EXPLAIN AST {canonical}", "TSVRaw", parameters)
    return Statement.from_ast(ast, canonical)


def _without_format(
    session: Any, canonical: str, output_format: str, parameters: Mapping[str, str]
) -> str:
    """The canonical text ends with its FORMAT clause; EXPLAIN must not answer in it, so it
    goes, and ClickHouse confirms that it went."""
    suffix = f" FORMAT {output_format}"
    if canonical.endswith(suffix):
        stripped = canonical[: -len(suffix)]
        if _statement(session, stripped, parameters).output_format:
            stripped = ""
        if stripped:
            return stripped
    raise ClickHouseError(
        62, "SYNTAX_ERROR", "put FORMAT last (settings go in URL parameters here)", 400
    )


def _check_reads(
    session: Any, policy: SqlPolicy, query: str, parameters: Mapping[str, str], depth: int
) -> None:
    """Tables and columns from the resolved query tree; views are followed to what they read."""
    tree = _query(session, f"EXPLAIN QUERY TREE {query}", "TSVRaw", parameters)
    if not tree.startswith("QUERY id: 0"):
        raise ClickHouseError(1002, "UNKNOWN_EXCEPTION", "the query could not be analysed")
    reads = Reads.from_query_tree(tree)
    policy.check_reads(reads)
    if reads.tables:
        for view_query in _view_queries(session, reads.tables):
            if depth == 0:
                raise ClickHouseError(36, "BAD_ARGUMENTS", "views nest too deeply to be checked")
            _check_reads(session, policy, view_query, {}, depth - 1)


def _view_queries(session: Any, tables: frozenset[str]) -> list[str]:
    rows = _query(
        session,
        "SELECT as_select FROM system.tables WHERE engine IN ('View', 'MaterializedView') "
        "AND concat(database, '.', name) IN {tables:Array(String)}",
        "JSONEachRow",
        {"tables": "[" + ",".join(_quoted(t) for t in sorted(tables)) + "]"},
    )
    return [orjson.loads(line)["as_select"] for line in rows.splitlines() if line.strip()]


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def escaped(text: str) -> str:
    """A query parameter's value is read as escaped text, like HTTP's `param_` values."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _query(session: Any, sql: str, fmt: str, parameters: Mapping[str, str] | None = None) -> str:
    return _text(_query_result(session, sql, fmt, parameters))


def _query_result(
    session: Any, sql: str, fmt: str, parameters: Mapping[str, str] | None = None
) -> Any:
    try:
        return session.query(sql, fmt, params=dict(parameters) if parameters else None)
    except Exception as exc:
        raise ClickHouseError.from_chdb(str(exc)) from None


def _text(result: Any) -> str:
    return bytes(result.bytes()).decode(errors="replace").rstrip("\n")


def _content_type(output_format: str) -> str:
    if output_format.startswith("JSON"):
        return "application/json; charset=UTF-8"
    if output_format.startswith(_TEXT_FORMATS):
        return "text/plain; charset=UTF-8"
    return "application/octet-stream"


async def start_sql_gateway(
    settings: Settings, audit: AuditTrail
) -> tuple[SqlGateway, web.AppRunner] | None:
    """On PINGAN_SQL_HOST:PINGAN_SQL_PORT; None when switched off or the port is taken (the
    platform runs on without it, as a local ClickHouse server may hold 8123)."""
    if not settings.sql_port or not settings.embedded_clickhouse:
        return None
    gateway = SqlGateway(settings, audit, TokenVerifier.from_settings(settings))
    await gateway.start()
    try:
        runner = await start_site(gateway.web_app(), settings.sql_host, settings.sql_port)
    except OSError as exc:
        log.warning(
            "SQL endpoint not started: %s:%d: %s (set PINGAN_SQL_PORT)",
            settings.sql_host,
            settings.sql_port,
            exc.strerror,
        )
        gateway.close()
        return None
    log.info("SQL endpoint (ClickHouse HTTP) at http://%s:%d", settings.sql_host, settings.sql_port)
    return gateway, runner

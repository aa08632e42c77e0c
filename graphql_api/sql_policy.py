"""What the analysts' SQL endpoint lets through, decided on ClickHouse's own reading of a query.

ClickHouse parses the query, not us: `formatQuery` proves it is one statement and gives its
canonical text, `EXPLAIN AST` names its kind, its functions and an `INTO OUTFILE`, and
`EXPLAIN QUERY TREE` resolves every table and column it touches, through `*`, aliases,
subqueries (scalar ones too, which a query plan has already folded away) and joins. This
module only reads those outputs; running them is the gateway's (`graphql_api.sql_gateway`).

The chDB session itself is read-only (`readonly=1`: no writes, no `SET`, no table functions
that reach files or the network). What readonly leaves open is closed here: the `file()`
function, `INTO OUTFILE`, chDB's `Python()` table function, several statements at once, and
biometric data for roles without `read:biometrics`. While ClickHouse resolves such a
caller's query, the tables they may not read look empty (`SqlPolicy.analysis_filters`), as
resolving already runs its scalar subqueries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from graphql_api.access import Caller, Permission

SELECT_KINDS = frozenset({"SelectWithUnionQuery", "SelectIntersectExceptQuery"})
SCHEMA_KINDS = frozenset(
    {"ShowTables", "ShowColumns", "DescribeQuery", "ExistsTableQuery", "ShowCreateTableQuery"}
)
"""Statements that show only the schema: databases, tables, columns and their DDL."""
SHOW_KINDS = SCHEMA_KINDS - {"DescribeQuery"}

TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "generate_series",
        "generateSeries",
        "generateRandom",
        "values",
        "null",
    }
)
"""Table functions that make rows from their arguments alone and that readonly allows; every
other one (file, url, s3, remote, mysql, merge, Python, …) reaches outside the query or
around this policy; `view()` too, as ClickHouse leaves its query unresolved in the query
tree."""

OUTSIDE_FUNCTIONS = frozenset({"file", "catboostevaluate"})
"""Ordinary functions that read files of the host (lower case: ClickHouse ignores the case
of these names)."""

BIOMETRIC_TABLES = frozenset(
    {"face_search_vectors", "face_search_vectors_mv", "biometric_searches"}
)
"""Face vectors, and who was searched for and found by face."""
BIOMETRIC_COLUMNS: Mapping[str, frozenset[str]] = {
    "face_captures": frozenset({"embedding", "matched_person_id", "match_score", "crop_ref"}),
}
"""A face capture's time, place, camera and quality are for counting; its face vector, the
face crop and whom it was matched to are biometric."""
AUDIT_TABLES = frozenset({"audit_log"})
QUERY_TEXT_TABLES = frozenset(
    {
        "processes",
        "query_log",
        "query_thread_log",
        "query_views_log",
        "text_log",
        "session_log",
        "stack_trace",
    }
)
"""system tables that hold other callers' queries and their parameters."""

CLIENT_SETTING_PREFIXES = ("output_format_", "format_", "date_time_output_format")
CLIENT_SETTINGS = frozenset(
    {"extremes", "join_use_nulls", "session_timezone", "result_overflow_mode", "totals_mode"}
)
"""Settings that change only how an answer looks, which clients set per query."""
INSERT_SETTINGS = frozenset({"async_insert", "wait_for_async_insert"})
"""Settings that only govern inserts, which never run here. ClickHouse JDBC (DBeaver's driver)
sends `async_insert=0` with every statement, so they are accepted and not applied."""
MAX_SETTING_VALUE_LENGTH = 100
_SETTING_VALUE = re.compile(r"^[A-Za-z0-9_.:/+\-]*$")
"""Values go to chDB's connection string: no `&`, `?`, `=` or spaces."""


class ClickHouseError(Exception):
    """An answer in ClickHouse's own shape, so every client shows its message."""

    HTTP_STATUS: Mapping[int, int] = {
        516: 401,
        192: 401,
        193: 401,
        194: 401,
        497: 403,
        164: 403,
        60: 404,
        81: 404,
        201: 429,
        202: 503,
    }
    BAD_REQUEST = frozenset({6, 26, 27, 32, 36, 41, 42, 43, 46, 47, 62, 72, 73, 115, 456, 457})

    def __init__(self, code: int, name: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.name = name
        self.message = message
        self._status = status

    @classmethod
    def from_chdb(cls, text: str) -> ClickHouseError:
        """chDB's message already reads `Code: N. DB::Exception: …`; keep its first line."""
        line = (text.strip().splitlines() or ["unknown error"])[0].split(". Stack trace")[0]
        match = re.match(r"^Code: (\d+)\. DB::Exception: (.*?)(?: \(([A-Z_]+)\))?\.?$", line)
        if match is None:
            return cls(1000, "POCO_EXCEPTION", line)
        message = re.sub(r"^Code: \d+\. DB::Exception: ", "", match.group(2)).rstrip(". ")
        message = re.sub(r"\.? \([A-Z_]+\)(?: \(version [^)]*\))?$", "", message)
        name = match.group(3) or "UNKNOWN_EXCEPTION"
        return cls(int(match.group(1)), name, message.rstrip(". "))

    @property
    def http_status(self) -> int:
        if self._status is not None:
            return self._status
        if self.code in self.BAD_REQUEST:
            return 400
        return self.HTTP_STATUS.get(self.code, 500)

    def body(self, version: str) -> str:
        return (
            f"Code: {self.code}. DB::Exception: {self.message}. ({self.name}) (version {version})\n"
        )


def access_denied(message: str) -> ClickHouseError:
    return ClickHouseError(497, "ACCESS_DENIED", message)


@dataclass(frozen=True)
class AstNode:
    name: str
    depth: int
    parent: str | None


@dataclass(frozen=True)
class Statement:
    """`EXPLAIN AST` of one statement, as far as the policy needs it."""

    kind: str
    output_format: str | None
    writes_file: bool
    table_functions: frozenset[str]
    functions: frozenset[str]
    has_subquery: bool = False

    @classmethod
    def from_ast(cls, text: str, canonical: str = "") -> Statement:
        """`canonical` is the statement as `formatQuery` wrote it: SHOW's AST omits its
        WHERE and LIMIT, so there a parenthesis (a subquery needs one) counts as one."""
        nodes = _ast_nodes(text)
        if not nodes:
            raise ClickHouseError(62, "SYNTAX_ERROR", "Empty query")
        top = [n for n in nodes if n.depth == 1]
        kind = nodes[0].name.split()[0]
        identifiers = [n.name.split()[1] for n in top if n.name.startswith("Identifier ")]
        functions = [n for n in nodes if n.name.startswith("Function ")]
        return cls(
            kind=kind,
            output_format=_output_format(kind, identifiers, canonical),
            writes_file=any(n.name.startswith("Literal ") for n in top),
            table_functions=frozenset(
                _function_name(n) for n in functions if n.parent == "TableExpression"
            ),
            functions=frozenset(_function_name(n) for n in functions),
            has_subquery=any(n.name.split()[0] in SELECT_KINDS for n in nodes[1:])
            or (nodes[0].name.split()[0] in SHOW_KINDS and "(" in canonical),
        )


def _output_format(kind: str, identifiers: list[str], canonical: str) -> str | None:
    """A SELECT's only top-level identifier is its FORMAT; DESCRIBE, EXISTS and SHOW CREATE
    also list their table there, so theirs is the last one, when the text ends with it."""
    if kind in SELECT_KINDS:
        return identifiers[0] if identifiers else None
    if identifiers and canonical.endswith(f" FORMAT {identifiers[-1]}"):
        return identifiers[-1]
    return None


def _ast_nodes(text: str) -> list[AstNode]:
    """One node a line, one space of indent a level; each node's parent's first word."""
    nodes: list[AstNode] = []
    stack: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip(" "))
        name = line.strip()
        del stack[depth:]
        nodes.append(AstNode(name, depth, stack[-1].split()[0] if stack else None))
        stack.append(name)
    return nodes


def _function_name(node: AstNode) -> str:
    return node.name.split()[1]


@dataclass(frozen=True)
class Reads:
    """The tables (`db.name`) a query touches and, for each, the columns it names."""

    tables: frozenset[str]
    columns: Mapping[str, frozenset[str]] = field(default_factory=dict)
    table_functions: frozenset[str] = frozenset()
    unresolved: bool = False
    """Names ClickHouse left unresolved: what they read is unknown, so nothing is answered."""

    @classmethod
    def from_query_tree(cls, text: str) -> Reads:
        tables: dict[str, str] = {}
        columns: list[tuple[str, str]] = []
        table_functions = set()
        unresolved = False
        for line in text.splitlines():
            stripped = line.strip()
            if match := _TABLE_NODE.match(stripped):
                tables[match.group(1)] = match.group(2)
            elif match := _COLUMN_NODE.match(stripped):
                columns.append((match.group(2), match.group(1)))
            elif match := _TABLE_FUNCTION_NODE.match(stripped):
                table_functions.add(match.group(1))
            elif stripped.startswith("IDENTIFIER id: "):
                unresolved = True
        by_table: dict[str, set[str]] = {}
        for source, column in columns:
            if source in tables:
                by_table.setdefault(tables[source], set()).add(column)
        return cls(
            tables=frozenset(tables.values()),
            columns={t: frozenset(c) for t, c in by_table.items()},
            table_functions=frozenset(table_functions),
            unresolved=unresolved,
        )


_TABLE_NODE = re.compile(r"^TABLE id: (\d+),(?: alias: [^,]*,)? table_name: (\S+)$")
_COLUMN_NODE = re.compile(
    r"^COLUMN id: \d+,(?: alias: [^,]*,)? column_name: (.+?), result_type: .*, source_id: (\d+)$"
)
_TABLE_FUNCTION_NODE = re.compile(r"^TABLE_FUNCTION id: \d+,.*table_function_name: (\w+)")


@dataclass(frozen=True)
class SqlPolicy:
    """What one caller may read, from their role's permissions."""

    caller: Caller
    database: str

    def check_statement(self, statement: Statement) -> None:
        if statement.kind not in SELECT_KINDS | SCHEMA_KINDS:
            raise ClickHouseError(
                164,
                "READONLY",
                f"{self.caller.sub}: Cannot execute query in readonly mode: only SELECT, SHOW, "
                "DESCRIBE and EXISTS are answered here",
            )
        if statement.kind in SCHEMA_KINDS and statement.has_subquery:
            raise access_denied("SHOW and DESCRIBE take tables here, not queries")
        if statement.writes_file:
            raise access_denied("INTO OUTFILE is not allowed: the answer is the HTTP response")
        self.check_table_functions(statement.table_functions)
        outside = sorted(f for f in statement.functions if f.lower() in OUTSIDE_FUNCTIONS)
        if outside:
            raise access_denied(f"the function {outside[0]}() reads files of the host")

    def check_table_functions(self, names: Iterable[str]) -> None:
        refused = sorted(set(names) - TABLE_FUNCTIONS)
        if refused:
            raise access_denied(
                f"the table function {refused[0]}() is not allowed here (allowed: "
                f"{', '.join(sorted(TABLE_FUNCTIONS))})"
            )

    def check_reads(self, reads: Reads) -> None:
        self.check_table_functions(reads.table_functions)
        if reads.unresolved:
            raise access_denied("ClickHouse could not resolve every name of this query")
        for table in sorted(reads.tables):
            database, _, name = table.rpartition(".")
            self._check_table(database, name, reads.columns.get(table, frozenset()))

    def _check_table(self, database: str, name: str, columns: frozenset[str]) -> None:
        biometric = not self.caller.may(Permission.READ_BIOMETRICS)
        if database == self.database:
            if biometric and name in BIOMETRIC_TABLES:
                raise self._refusal(f"{name} holds biometric data", Permission.READ_BIOMETRICS)
            named = {column.split(".")[0] for column in columns}
            hidden = sorted(named & BIOMETRIC_COLUMNS.get(name, frozenset()))
            if biometric and hidden:
                raise self._refusal(
                    f"{name}.{hidden[0]} is biometric data", Permission.READ_BIOMETRICS
                )
            if name in AUDIT_TABLES and not self.caller.may(Permission.READ_AUDIT):
                raise self._refusal(f"{name} is the audit log", Permission.READ_AUDIT)
        elif (
            database == "system"
            and name in QUERY_TEXT_TABLES
            and not self.caller.may(Permission.READ_AUDIT)
        ):
            raise self._refusal(f"system.{name} holds others' queries", Permission.READ_AUDIT)

    def analysis_filters(self) -> str | None:
        """`additional_table_filters` under which ClickHouse resolves this caller's query:
        the tables they may not read look empty. Resolving runs scalar subqueries before this
        policy has seen what they read, and their values, or errors quoting them ("cannot
        parse '[0.12,…]' as UInt8"), would otherwise reach the caller."""
        hidden = []
        if not self.caller.may(Permission.READ_BIOMETRICS):
            names = sorted(BIOMETRIC_TABLES | set(BIOMETRIC_COLUMNS))
            hidden += [f"{self.database}.{name}" for name in names]
        if not self.caller.may(Permission.READ_AUDIT):
            hidden += [f"{self.database}.{name}" for name in sorted(AUDIT_TABLES)]
            hidden += [f"system.{name}" for name in sorted(QUERY_TEXT_TABLES)]
        if not hidden:
            return None
        return "{" + ",".join(f"'{name}':'0'" for name in hidden) + "}"

    def _refusal(self, what: str, permission: Permission) -> ClickHouseError:
        return access_denied(
            f"{self.caller.sub}: Not enough privileges: {what}, which needs the permission "
            f"{permission.value!r}; the role {self.caller.role.value!r} does not have it"
        )


def session_settings(
    requested: Mapping[str, str], limits: Mapping[str, int | float], known: frozenset[str]
) -> dict[str, str]:
    """The settings one query runs with: ours, lowered where the client asks for less, plus
    the client's presentation settings; insert settings are moot. Anything else is refused as
    ClickHouse refuses a readonly user."""
    chosen = {name: _number(value) for name, value in limits.items()}
    for name, value in requested.items():
        if name not in known:
            raise ClickHouseError(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
        if len(value) > MAX_SETTING_VALUE_LENGTH or not _SETTING_VALUE.match(value):
            raise ClickHouseError(
                36,
                "BAD_ARGUMENTS",
                f"the value of setting '{name}' has characters not allowed here",
            )
        if name in limits:
            chosen[name] = _lowered(name, value, limits[name])
        elif name in CLIENT_SETTINGS or name.startswith(CLIENT_SETTING_PREFIXES):
            chosen[name] = value
        elif name not in INSERT_SETTINGS:
            raise ClickHouseError(
                164, "READONLY", f"Cannot modify '{name}' setting in readonly mode"
            )
    return chosen


def _lowered(name: str, value: str, limit: int | float) -> str:
    try:
        asked = float(value)
    except ValueError:
        asked = math.nan
    if math.isnan(asked):
        raise ClickHouseError(
            27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED", f"setting '{name}' needs a number"
        )
    return _number(limit if asked <= 0 or asked > limit else asked)


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) and not value.is_integer() else str(int(value))

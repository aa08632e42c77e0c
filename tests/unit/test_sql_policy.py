"""The SQL endpoint's policy, on ClickHouse's EXPLAIN outputs as chDB prints them."""

from __future__ import annotations

import pytest

from graphql_api.access import Caller, Role
from graphql_api.sql_gateway import escaped
from graphql_api.sql_policy import (
    ClickHouseError,
    Reads,
    SqlPolicy,
    Statement,
    session_settings,
)

SELECT_AST = """SelectWithUnionQuery (children 2)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 2)
    Function file (children 1)
     ExpressionList (children 1)
      Literal '/etc/hostname'
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      Function numbers (alias n) (children 1)
       ExpressionList (children 1)
        Literal UInt64_2
 Identifier JSON"""

OUTFILE_AST = """SelectWithUnionQuery (children 2)
 ExpressionList (children 1)
  SelectQuery (children 1)
   ExpressionList (children 1)
    Literal UInt64_1
 Literal '/tmp/x'"""

QUERY_TREE = """QUERY id: 0
  PROJECTION COLUMNS
    _subquery_1 Nullable(Float32)
    id String
  PROJECTION
    LIST id: 1, nodes: 2
      CONSTANT id: 2, constant_value: Float64_1, constant_value_type: Nullable(Float32)
        EXPRESSION
          QUERY id: 3, is_subquery: 1
            PROJECTION
              LIST id: 4, nodes: 1
                FUNCTION id: 5, function_name: max, function_type: aggregate, result_type: Float32
                  ARGUMENTS
                    LIST id: 6, nodes: 1
                     COLUMN id: 9, column_name: embedding, result_type: Array(Int8), source_id: 10
            JOIN TREE
              TABLE id: 10, table_name: pingan.face_captures
      COLUMN id: 11, alias: c, column_name: community_id, result_type: String, source_id: 12
  JOIN TREE
    CROSS JOIN id: 13
      TABLE EXPRESSION
        TABLE id: 12, alias: __table1, table_name: pingan.alerts
      TABLE EXPRESSION
        TABLE_FUNCTION id: 14, alias: __table2, table_function_name: numbers"""


def caller(role: Role) -> Caller:
    return Caller(sub="li.ming", role=role, communities=None)


def test_the_ast_gives_kind_format_functions_and_outfile() -> None:
    statement = Statement.from_ast(SELECT_AST)
    assert statement.kind == "SelectWithUnionQuery"
    assert statement.output_format == "JSON"
    assert statement.table_functions == {"numbers"}
    assert statement.functions == {"file", "numbers"}
    assert not statement.writes_file
    assert Statement.from_ast(OUTFILE_AST).writes_file
    assert Statement.from_ast("ShowTables (children 1)\n Identifier system").output_format is None
    exists = "ExistsTableQuery  t (children 2)\n Identifier t\n Identifier Native"
    assert Statement.from_ast(exists, "EXISTS TABLE t FORMAT Native").output_format == "Native"
    assert Statement.from_ast(exists.rsplit("\n", 1)[0], "EXISTS TABLE t").output_format is None


def test_statements_that_are_not_reads_or_reach_files_are_refused() -> None:
    policy = SqlPolicy(caller(Role.DISTRICT_ADMIN), "pingan")
    with pytest.raises(ClickHouseError, match="reads files of the host"):
        policy.check_statement(Statement.from_ast(SELECT_AST))
    with pytest.raises(ClickHouseError, match="INTO OUTFILE"):
        policy.check_statement(Statement.from_ast(OUTFILE_AST))
    with pytest.raises(ClickHouseError, match="readonly") as refused:
        policy.check_statement(Statement.from_ast("ShowProcesslistQuery"))
    assert refused.value.http_status == 403
    with pytest.raises(ClickHouseError, match=r"Python\(\) is not allowed"):
        policy.check_table_functions(["Python"])
    policy.check_statement(Statement.from_ast("DescribeQuery (children 1)"))
    describe_query = "DescribeQuery (children 1)\n TableExpression\n  Subquery\n"
    with pytest.raises(ClickHouseError, match="not queries"):
        policy.check_statement(Statement.from_ast(describe_query + "   SelectWithUnionQuery"))
    policy.check_statement(Statement.from_ast("ShowColumns", "SHOW COLUMNS FROM alerts"))
    with pytest.raises(ClickHouseError, match="not queries"):
        policy.check_statement(
            Statement.from_ast("ShowColumns", "SHOW COLUMNS FROM alerts WHERE name = (SELECT 1)")
        )


def test_the_query_tree_resolves_tables_and_columns_of_subqueries() -> None:
    reads = Reads.from_query_tree(QUERY_TREE)
    assert reads.tables == {"pingan.face_captures", "pingan.alerts"}
    assert reads.columns["pingan.face_captures"] == {"embedding"}
    assert reads.columns["pingan.alerts"] == {"community_id"}
    assert reads.table_functions == {"numbers"}


VIEW_FUNCTION_TREE = """QUERY id: 0
  JOIN TREE
    TABLE_FUNCTION id: 3, alias: __table1, table_function_name: view
      ARGUMENTS
        LIST id: 4, nodes: 1
          QUERY id: 5
            JOIN TREE
              IDENTIFIER id: 8, identifier: face_captures"""


def test_a_query_tree_with_unresolved_names_is_refused() -> None:
    reads = Reads.from_query_tree(VIEW_FUNCTION_TREE)
    assert reads.unresolved
    with pytest.raises(ClickHouseError, match=r"view\(\) is not allowed"):
        SqlPolicy(caller(Role.DISTRICT_ADMIN), "pingan").check_reads(reads)
    with pytest.raises(ClickHouseError, match="could not resolve"):
        SqlPolicy(caller(Role.DISTRICT_ADMIN), "pingan").check_reads(
            Reads(frozenset(), unresolved=True)
        )


def test_analysts_never_read_biometric_data_and_admins_may() -> None:
    analyst = SqlPolicy(caller(Role.ANALYST), "pingan")
    with pytest.raises(ClickHouseError, match=r"face_captures.embedding is biometric") as refused:
        analyst.check_reads(Reads.from_query_tree(QUERY_TREE))
    assert refused.value.code == 497
    counting = Reads(frozenset({"pingan.face_captures"}), {"pingan.face_captures": frozenset()})
    analyst.check_reads(counting)
    for table in ("face_search_vectors", "biometric_searches", "audit_log"):
        with pytest.raises(ClickHouseError, match="Not enough privileges"):
            analyst.check_reads(Reads(frozenset({f"pingan.{table}"})))
    subcolumn = {"pingan.face_captures": frozenset({"matched_person_id.null"})}
    with pytest.raises(ClickHouseError, match="matched_person_id"):
        analyst.check_reads(Reads(frozenset(subcolumn), subcolumn))
    with pytest.raises(ClickHouseError, match="others' queries"):
        analyst.check_reads(Reads(frozenset({"system.query_log"})))
    analyst.check_reads(Reads(frozenset({"system.tables", "other.face_search_vectors"})))
    SqlPolicy(caller(Role.DISTRICT_ADMIN), "pingan").check_reads(Reads.from_query_tree(QUERY_TREE))


LIMITS = {"max_execution_time": 30.0, "max_result_rows": 1000, "max_threads": 2}
KNOWN = frozenset(LIMITS) | {"output_format_json_quote_64bit_integers", "readonly", "allow_ddl"}


def test_clients_may_lower_limits_and_shape_output_but_nothing_else() -> None:
    assert session_settings({}, LIMITS, KNOWN) == {
        "max_execution_time": "30",
        "max_result_rows": "1000",
        "max_threads": "2",
    }
    chosen = session_settings(
        {
            "max_execution_time": "1.5",
            "max_result_rows": "0",
            "max_threads": "64",
            "output_format_json_quote_64bit_integers": "0",
        },
        LIMITS,
        KNOWN,
    )
    assert chosen == {
        "max_execution_time": "1.5",
        "max_result_rows": "1000",
        "max_threads": "2",
        "output_format_json_quote_64bit_integers": "0",
    }
    for name, code in (("allow_ddl", 164), ("readonly", 164), ("no_such_setting", 115)):
        with pytest.raises(ClickHouseError) as refused:
            session_settings({name: "1"}, LIMITS, KNOWN)
        assert refused.value.code == code
    with pytest.raises(ClickHouseError, match="characters not allowed"):
        session_settings({"max_threads": "1&readonly=0"}, LIMITS, KNOWN)
    for value in ("nan", "many"):
        with pytest.raises(ClickHouseError, match="needs a number"):
            session_settings({"max_threads": value}, LIMITS, KNOWN)


def test_insert_settings_that_jdbc_sends_are_accepted_and_not_applied() -> None:
    known = KNOWN | {"async_insert", "wait_for_async_insert"}
    asked = {"async_insert": "0", "wait_for_async_insert": "1"}
    assert session_settings(asked, LIMITS, known) == session_settings({}, LIMITS, known)


def test_tables_a_role_may_not_read_look_empty_while_its_query_is_checked() -> None:
    filters = SqlPolicy(caller(Role.ANALYST), "pingan").analysis_filters()
    assert filters is not None
    for table in ("face_captures", "face_search_vectors", "biometric_searches", "audit_log"):
        assert f"'pingan.{table}':'0'" in filters
    assert "'system.query_log':'0'" in filters
    assert SqlPolicy(caller(Role.DISTRICT_ADMIN), "pingan").analysis_filters() is None


def test_chdb_errors_read_like_clickhouse_and_keep_one_line() -> None:
    error = ClickHouseError.from_chdb(
        "Code: 164. DB::Exception: Code: 164. DB::Exception: Cannot modify 'max_threads' "
        "setting in readonly mode. (READONLY) (version 26.9.2.1). (READONLY)\nStack trace: …"
    )
    assert (error.code, error.name, error.http_status) == (164, "READONLY", 403)
    assert error.body("26.9") == (
        "Code: 164. DB::Exception: Cannot modify 'max_threads' setting in readonly mode. "
        "(READONLY) (version 26.9)\n"
    )
    timeout = ClickHouseError.from_chdb(
        "Code: 159. DB::Exception: Timeout exceeded: elapsed 1000.1 ms. (TIMEOUT_EXCEEDED)"
    )
    assert (timeout.code, timeout.http_status) == (159, 500)
    assert ClickHouseError.from_chdb("Code: 62. DB::Exception: Syntax error").http_status == 400
    assert ClickHouseError.from_chdb("segfault").code == 1000


def test_query_text_is_escaped_as_a_parameter_value() -> None:
    assert escaped("a\\b\nc\td") == "a\\\\b\\nc\\td"

"""The analysts' SQL endpoint of a running worker, through real ClickHouse clients."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta

import clickhouse_connect
import httpx
import orjson
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from graphql_api.access import Role
from graphql_api.tokens import mint_token
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.stack.kafka import free_port
from schemas.events import BoundingBox, FaceCapture, utc_now
from tests.conftest import REPO, WorkerProcess, eventually

pytestmark = pytest.mark.integration

ANALYST_USER = "grafana"
ANALYST_PASSWORD = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One worker for the module: each test only reads."""
    process = WorkerProcess(kafka_bootstrap, tmp_path_factory.mktemp("sql"), free_port())
    process.env |= {"PINGAN_SQL_USER": ANALYST_USER, "PINGAN_SQL_PASSWORD": ANALYST_PASSWORD}
    process.start()
    eventually(lambda: _ping(process), timeout=60)
    yield process
    process.stop()


def _ping(worker: WorkerProcess) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{worker.sql_port}/ping", timeout=2).text == "Ok.\n"
    except httpx.HTTPError:
        return False


def _token(worker: WorkerProcess, role: Role) -> str:
    settings = Settings(api_token_secret=worker.env["PINGAN_API_TOKEN_SECRET"])
    communities = None if role.district_wide else ["c01"]
    return mint_token(settings, role, f"test-{role.value}", communities, timedelta(hours=1))


def _client(worker: WorkerProcess, role: Role = Role.ANALYST) -> Client:
    return clickhouse_connect.get_client(
        host="127.0.0.1",
        port=worker.sql_port,
        access_token=_token(worker, role),
        database="pingan",
    )


def test_a_query_answers_with_the_warehouse_tables(worker: WorkerProcess) -> None:
    client = _client(worker)
    tables = client.query("SELECT name FROM system.tables WHERE database = currentDatabase()")
    assert {"alerts", "face_captures", "vehicle_passages"} <= {r[0] for r in tables.result_rows}
    assert client.query("SELECT sum(number) FROM numbers(10)").result_rows == [(45,)]
    assert client.server_version


def test_native_blocks_follow_the_clients_protocol_version(worker: WorkerProcess) -> None:
    """Grafana's data source (clickhouse-go v2) asks for revision 54460: block info, and a
    custom-serialization byte after each column's type; clickhouse-connect for 54405."""
    grafana = httpx.post(
        f"http://127.0.0.1:{worker.sql_port}/",
        params={
            "client_protocol_version": "54460",
            "database": "pingan",
            "default_format": "Native",
            "max_execution_time": "9",
        },
        content="SELECT toUInt8(7) AS n, 'x' AS s",
        headers={"Authorization": f"Bearer {_token(worker, Role.ANALYST)}"},
        timeout=10,
    )
    assert grafana.status_code == 200, grafana.text
    assert grafana.content == (
        b"\x01\x00\x02\xff\xff\xff\xff\x00\x02\x01\x01n\x05UInt8\x00\x07\x01s\x06String\x00\x01x"
    )
    client = _client(worker)
    assert client.protocol_version == 54405
    result = client.query(
        "SELECT number AS n, toLowCardinality(toString(number % 3)) AS c, [n, NULL] AS a "
        "FROM numbers(100000) ORDER BY n"
    )
    assert len(result.result_rows) == 100_000
    assert result.result_rows[99_999] == (99_999, "0", [99_999, None])
    with pytest.raises(DatabaseError, match="CAST it to String"):
        client.query("""SELECT '{"a": 1}'::JSON AS payload""")


def test_parameters_are_bound_by_the_server(worker: WorkerProcess) -> None:
    result = _client(worker).query(
        "SELECT {plate:String} AS plate, {n:UInt32} + 1 AS next",
        parameters={"plate": "鄂A·12345 'x'", "n": 41},
    )
    assert result.result_rows == [("鄂A·12345 'x'", 42)]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO alerts (alert_id) VALUES ('forged')",
        "ALTER TABLE alerts DELETE WHERE 1",
        "DROP TABLE alerts",
    ],
)
def test_writes_are_refused(worker: WorkerProcess, statement: str) -> None:
    client = _client(worker, Role.DISTRICT_ADMIN)
    with pytest.raises(DatabaseError, match="readonly"):
        client.command(statement)
    assert client.command("EXISTS TABLE alerts") == 1


def test_a_query_over_its_time_limit_is_stopped(worker: WorkerProcess) -> None:
    response = httpx.post(
        f"http://127.0.0.1:{worker.sql_port}/",
        params={"max_execution_time": "1"},
        content="SELECT sum(sipHash64(number)) FROM numbers_mt(1000000000000)",
        headers={"Authorization": f"Bearer {_token(worker, Role.ANALYST)}"},
        timeout=60,
    )
    assert response.status_code == 500
    assert response.text.startswith("Code: 159. DB::Exception: Timeout exceeded")
    assert response.headers["X-ClickHouse-Exception-Code"] == "159"


def test_an_analyst_cannot_read_biometric_data(worker: WorkerProcess) -> None:
    asyncio.run(_publish(worker, _capture()))
    admin = _client(worker, Role.DISTRICT_ADMIN)
    eventually(lambda: admin.query("SELECT count() FROM face_search_vectors").result_rows == [(1,)])
    analyst = _client(worker)
    assert analyst.query("SELECT count() FROM face_captures").result_rows == [(1,)]
    for query in [
        "SELECT embedding FROM face_captures",
        "SELECT * FROM face_captures",
        "SELECT count() FROM face_captures WHERE embedding[1] > 0",
        "SELECT (SELECT max(embedding[1]) FROM face_captures)",
        "SELECT (SELECT toUInt8(toString(embedding)) FROM face_captures)",
        "SELECT camera_id FROM face_captures WHERE matched_person_id.null = 0",
        "SELECT count() FROM face_search_vectors",
        "SELECT * FROM face_search_vectors_mv",
        "SELECT * FROM view(SELECT embedding FROM face_captures)",
        "SELECT count() FROM audit_log",
    ]:
        with pytest.raises(DatabaseError, match="ACCESS_DENIED") as refused:
            analyst.query(query)
        assert "0.0625" not in str(refused.value), query
    by_camera = analyst.query("SELECT camera_id, count() FROM face_captures GROUP BY camera_id")
    assert by_camera.result_rows == [("cam-sql-1", 1)]


def _capture() -> FaceCapture:
    now = utc_now()
    return FaceCapture(
        event_id=f"sql-{uuid.uuid4().hex}",
        community_id="c01",
        occurred_at=now,
        received_at=now,
        camera_id="cam-sql-1",
        embedding=[0.0625] * 128,
        quality=0.9,
        bbox=BoundingBox(x=1, y=2, width=30, height=40),
        matched_person_id="P-sql",
        match_score=0.8,
    )


async def _publish(worker: WorkerProcess, capture: FaceCapture) -> None:
    async with Publisher(worker.env["KAFKA_BOOTSTRAP"]) as publisher:
        await publisher.publish(capture)


def test_table_functions_that_reach_files_are_refused(worker: WorkerProcess) -> None:
    admin = _client(worker, Role.DISTRICT_ADMIN)
    for query in [
        "SELECT * FROM file('/etc/hostname', 'LineAsString')",
        "SELECT file('/etc/hostname')",
        "SELECT 1 INTO OUTFILE '/tmp/pingan-sql-gateway-test'",
        "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
    ]:
        with pytest.raises(DatabaseError):
            admin.query(query)
    with pytest.raises(DatabaseError, match="Multi-statements"):
        admin.query("SELECT 1; SELECT file('/etc/hostname')")


def test_no_token_is_401_and_other_roles_are_403(worker: WorkerProcess) -> None:
    url = f"http://127.0.0.1:{worker.sql_port}/"
    anonymous = httpx.post(url, content="SELECT 1", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.text.startswith("Code: 516. DB::Exception: sign in")
    manager = httpx.post(
        url,
        content="SELECT 1",
        headers={"Authorization": f"Bearer {_token(worker, Role.PROPERTY_MANAGER)}"},
        timeout=10,
    )
    assert manager.status_code == 403
    assert "Traceback" not in anonymous.text + manager.text


def test_formats_and_headers_pass_through(worker: WorkerProcess) -> None:
    response = httpx.get(
        f"http://127.0.0.1:{worker.sql_port}/",
        params={"query": "SELECT number AS n FROM numbers(3) FORMAT JSONEachRow"},
        headers={"Authorization": f"Bearer {_token(worker, Role.ANALYST)}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert [orjson.loads(line) for line in response.text.splitlines()] == [
        {"n": 0},
        {"n": 1},
        {"n": 2},
    ]
    assert response.headers["X-ClickHouse-Format"] == "JSONEachRow"
    assert response.headers["X-ClickHouse-Timezone"]
    assert response.headers["X-ClickHouse-Query-Id"]
    assert "read_rows" in orjson.loads(response.headers["X-ClickHouse-Summary"])
    arrow = _client(worker).query_arrow("SELECT toString(number) AS s FROM numbers(2)")
    assert arrow.column("s").to_pylist() == ["0", "1"]


def test_pingan_sql_goes_through_the_running_worker(worker: WorkerProcess) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pingan.cli",
            "sql",
            "--format",
            "JSONEachRow",
            "SELECT number AS n, 'x' AS s FROM numbers(2)",
        ],
        cwd=REPO,
        env=worker.env,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    rows = [orjson.loads(line) for line in result.stdout.decode().splitlines()]
    assert rows == [{"n": 0, "s": "x"}, {"n": 1, "s": "x"}]


def test_the_configured_analyst_signs_in_as_clickhouse_clients_do(worker: WorkerProcess) -> None:
    client = clickhouse_connect.get_client(
        host="127.0.0.1",
        port=worker.sql_port,
        username=ANALYST_USER,
        password=ANALYST_PASSWORD,
    )
    assert client.query("SELECT currentDatabase()").result_rows == [("pingan",)]
    url = f"http://127.0.0.1:{worker.sql_port}/"
    headers = {"X-ClickHouse-User": ANALYST_USER, "X-ClickHouse-Key": ANALYST_PASSWORD}
    assert httpx.post(url, content="SELECT 1", headers=headers, timeout=10).text == "1\n"
    wrong = httpx.post(url, content="SELECT 1", auth=(ANALYST_USER, "guess"), timeout=10)
    assert wrong.status_code == 401
    assert wrong.text.startswith("Code: 516. DB::Exception: grafana: Authentication failed")


def test_every_query_is_audited_with_its_purpose(worker: WorkerProcess) -> None:
    answered = httpx.post(
        f"http://127.0.0.1:{worker.sql_port}/",
        params={"log_comment": "case 2026-114"},
        content="SELECT 'audit-marker' AS marker",
        headers={"Authorization": f"Bearer {_token(worker, Role.ANALYST)}"},
        timeout=10,
    )
    assert answered.text == "audit-marker\n"
    analyst = _client(worker)
    with pytest.raises(DatabaseError):
        analyst.query("SELECT embedding, 'audit-marker' FROM face_captures")
    admin = _client(worker, Role.DISTRICT_ADMIN)

    def audited() -> list[tuple[str, str]]:
        rows = admin.query(
            "SELECT purpose, JSONExtractString(arguments, 'outcome') FROM audit_log "
            "WHERE operation = 'sql' AND actor = 'test-analyst' "
            "AND arguments LIKE '%audit-marker%'"
        ).result_rows
        return sorted(rows) if len(rows) >= 2 else []

    assert eventually(audited, timeout=60) == [
        ("", "failed: ACCESS_DENIED"),
        ("case 2026-114", "answered"),
    ]


def test_schema_statements_and_views_answer(worker: WorkerProcess) -> None:
    analyst = _client(worker)
    assert "alerts" in analyst.command("SHOW TABLES")
    described = analyst.query("DESCRIBE TABLE face_captures").result_rows
    assert "embedding" in {row[0] for row in described}
    current = analyst.query("SELECT count() FROM parking_sessions_current")
    assert current.result_rows == [(0,)]
    with pytest.raises(DatabaseError, match="readonly"):
        analyst.query("EXPLAIN SELECT 1")
    for query in [
        "DESCRIBE (SELECT embedding FROM face_captures)",
        "SHOW TABLES LIMIT (SELECT toUInt8(length(embedding)) FROM face_captures)",
    ]:
        with pytest.raises(DatabaseError, match="not queries"):
            analyst.query(query)


def test_protocol_edges(worker: WorkerProcess) -> None:
    url = f"http://127.0.0.1:{worker.sql_port}/"
    headers = {"Authorization": f"Bearer {_token(worker, Role.ANALYST)}"}
    assert httpx.get(url, timeout=10).text == "Ok.\n"
    form = httpx.post(url, data={"query": "SELECT 7"}, headers=headers, timeout=10)
    assert form.text == "7\n"
    gzipped = httpx.post(
        url,
        params={"enable_http_compression": "1", "default_format": "CSV"},
        content="SELECT 'x', 1",
        headers={**headers, "Accept-Encoding": "gzip"},
        timeout=10,
    )
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert gzipped.text == '"x",1\n'
    lz4_only = httpx.post(
        url,
        params={"enable_http_compression": "1"},
        content="SELECT 2",
        headers={**headers, "Accept-Encoding": "lz4"},
        timeout=10,
    )
    assert (lz4_only.text, lz4_only.headers.get("Content-Encoding")) == ("2\n", None)
    huge = httpx.post(url, content="SELECT '" + "x" * 300_000 + "'", headers=headers, timeout=10)
    assert huge.status_code == 413
    assert huge.text.startswith("Code: 62. DB::Exception: Max query size exceeded")
    unknown = httpx.post(url, params={"no_such_setting": "1"}, content="SELECT 1", headers=headers)
    assert unknown.status_code == 400
    assert "UNKNOWN_SETTING" in unknown.text


def test_jdbc_requests_as_dbeaver_sends_them(worker: WorkerProcess) -> None:
    """ClickHouse JDBC 0.9 (DBeaver's driver), as captured on the wire: it adds
    `async_insert=0` to every statement, reads, and asks for RowBinaryWithNamesAndTypes."""
    url = f"http://127.0.0.1:{worker.sql_port}/"

    def jdbc(sql: str, *, on_connect: bool = False) -> httpx.Response:
        query_id = str(uuid.uuid4())
        params = (
            {"wait_end_of_query": "1"}
            if on_connect
            else {"query_id": query_id, "async_insert": "0", "wait_end_of_query": "0"}
        )
        return httpx.post(
            url,
            params=params,
            content=sql,
            headers={
                "Content-Type": "text/plain",
                "X-ClickHouse-Format": "RowBinaryWithNamesAndTypes",
                "X-ClickHouse-Query-Id": query_id,
                "X-ClickHouse-Database": "pingan",
                "User-Agent": "jdbc-v2/0.9.9 clickhouse-java-v2/0.9.9 Apache-HttpClient/5.4.4",
            },
            auth=(ANALYST_USER, ANALYST_PASSWORD),
            timeout=10,
        )

    version = jdbc("SELECT version() as server_version", on_connect=True)
    assert version.status_code == 200, version.text
    assert _row_binary_strings(version.content)[0] == ["server_version"]
    schemas = jdbc(
        "SELECT name AS TABLE_SCHEM, '' AS TABLE_CATALOG FROM system.databases ORDER BY name"
    )
    assert schemas.status_code == 200, schemas.text
    names, rows = _row_binary_strings(schemas.content)
    assert names == ["TABLE_SCHEM", "TABLE_CATALOG"]
    assert ["pingan", ""] in rows
    by_type = jdbc("SELECT alert_type FROM alerts FINAL GROUP BY alert_type")
    assert by_type.status_code == 200, by_type.text
    refused = jdbc("INSERT INTO communities (community_id) VALUES ('jdbc')")
    assert refused.status_code == 403
    assert refused.text.startswith("Code: 164. DB::Exception: grafana: Cannot execute query in")


def _row_binary_strings(body: bytes) -> tuple[list[str], list[list[str]]]:
    """Column names and rows of a RowBinaryWithNamesAndTypes answer whose columns are
    String or LowCardinality(String)."""
    position = 0

    def varint() -> int:
        nonlocal position
        value = shift = 0
        while True:
            byte = body[position]
            position += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    def string() -> str:
        nonlocal position
        length = varint()
        position += length
        return body[position - length : position].decode()

    width = varint()
    names = [string() for _ in range(width)]
    types = [string() for _ in range(width)]
    assert all(t in ("String", "LowCardinality(String)") for t in types), types
    rows = []
    while position < len(body):
        rows.append([string() for _ in range(width)])
    return names, rows

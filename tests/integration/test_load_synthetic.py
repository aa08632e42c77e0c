"""`pingan load-synthetic` into a real chDB: row counts, the shapes benchmarks rely on, the
API reading the rows back, and the refusal while another process holds the data directory.

No Kafka: the load never touches it, and the alerts query publishes nothing."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from graphql_api.access import Role
from graphql_api.feed import AlertFeed
from graphql_api.server import api_context, serve
from graphql_api.tokens import mint_token
from pingan.cli import main
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings, get_settings
from pingan.platform.warehouse import Warehouse, open_warehouse
from pingan.synthetic import SYNTHETIC_PARTITION, SyntheticPlan

pytestmark = pytest.mark.integration

PLAN = SyntheticPlan(events=20_000, captures=2_000, days=3, communities=6, seed=7)
UNREACHABLE_BROKER = "127.0.0.1:9"
"""The API's publisher and alert feed are never started: the alerts query needs neither."""


def load(data_dir: Path, *args: str) -> Any:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(
            main,
            ["load-synthetic", *args],
            env={"PINGAN_DATA_DIR": str(data_dir), "CLICKHOUSE_URL": None},
        )
    finally:
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("synthetic")
    result = load(
        directory,
        *("--events", "20k", "--captures", "2k", "--days", "3"),
        *("--communities", "6", "--seed", "7"),
    )
    assert result.exit_code == 0, result.output
    assert "rows/s" in result.output
    return directory


@pytest.fixture(scope="module")
def warehouse(data_dir: Path) -> Iterator[Warehouse]:
    opened = open_warehouse(Settings(data_dir=data_dir))
    yield opened
    opened.close()


def one(warehouse: Warehouse, sql: str) -> dict[str, Any]:
    return warehouse.query(sql)[0]


def test_every_table_holds_the_planned_rows(warehouse: Warehouse) -> None:
    for table, rows in PLAN.table_rows().items():
        found = one(
            warehouse,
            f"SELECT count() AS n FROM {table} FINAL WHERE kafka_partition = {SYNTHETIC_PARTITION}",
        )
        assert found["n"] == rows, table
    alerts = one(warehouse, "SELECT count() AS n, uniqExact(alert_id) AS ids FROM alerts FINAL")
    assert alerts == {"n": PLAN.alerts, "ids": PLAN.alerts}


def test_captures_are_128_d_unit_vectors(warehouse: Warehouse) -> None:
    shape = one(
        warehouse,
        "SELECT min(length(embedding)) AS shortest, max(length(embedding)) AS longest, "
        "min(L2Norm(embedding)) AS least, max(L2Norm(embedding)) AS most, "
        "countIf(matched_person_id IS NOT NULL) AS matched, "
        "countIf(crop_ref IS NOT NULL) AS crops FROM face_captures",
    )
    assert shape["shortest"] == shape["longest"] == 128
    assert 0.999 < shape["least"] <= shape["most"] < 1.001
    assert 0 < shape["matched"] < PLAN.captures
    assert shape["crops"] == 0


def test_plates_repeat_across_gates_and_communities(warehouse: Warehouse) -> None:
    plates = one(
        warehouse,
        "SELECT countIf(communities > 1) AS roaming, countIf(gates > 1) AS regulars FROM "
        "(SELECT plate, uniqExact(community_id) AS communities, uniqExact(gate_id) AS gates "
        "FROM vehicle_passages GROUP BY plate)",
    )
    assert plates["roaming"] > 0
    assert plates["regulars"] > plates["roaming"]


def test_events_fall_within_the_days_before_the_load(warehouse: Warehouse) -> None:
    span = one(
        warehouse,
        "SELECT dateDiff('second', min(occurred_at), max(occurred_at)) AS seconds FROM door_access",
    )
    assert timedelta(days=2.9) < timedelta(seconds=span["seconds"]) <= timedelta(days=3)


async def test_the_alerts_query_returns_them(warehouse: Warehouse, data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, api_token_secret=SecretStr(secrets.token_urlsafe(32)))
    context = api_context(
        settings, warehouse, Publisher(UNREACHABLE_BROKER), AlertFeed(UNREACHABLE_BROKER)
    )
    runner = await serve(context, settings, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    token = mint_token(settings, Role.DISTRICT_ADMIN, "test-admin", None, timedelta(minutes=5))
    query = "{ alerts(first: 5) { totalCount edges { node { id type communityId subject } } } }"
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://{host}:{port}/graphql",
                json={"query": query},
                headers={"Authorization": f"Bearer {token}"},
            ) as answer,
        ):
            body = await answer.json()
    finally:
        await runner.cleanup()
    assert "errors" not in body, body
    alerts = body["data"]["alerts"]
    assert alerts["totalCount"] == PLAN.alerts
    assert len(alerts["edges"]) == 5
    assert {edge["node"]["communityId"] for edge in alerts["edges"]} <= {
        f"c{n:02d}" for n in range(1, 7)
    }


def test_refuses_while_another_process_holds_the_data_directory(
    warehouse: Warehouse, data_dir: Path
) -> None:
    result = load(data_dir, "--events", "10", "--captures", "0")
    assert result.exit_code == 2
    assert "in use" in result.output


def test_counts_take_suffixes(tmp_path: Path) -> None:
    result = load(tmp_path, "--events", "ten", "--captures", "0")
    assert result.exit_code == 2
    assert "'ten' is not a count" in result.output

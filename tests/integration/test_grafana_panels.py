"""Every Grafana panel's SQL, its macros expanded as the ClickHouse data source plugin expands
them, runs on chDB holding a simulated week and returns the columns its file promises, with
rows; the dashboard JSON is what the panels' SQL files make, and names the provisioned data
source."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from pingan.platform.warehouse import EmbeddedWarehouse
from tests.integration.analyst_district import analyst_district

pytestmark = pytest.mark.integration

GRAFANA = Path(__file__).resolve().parents[2] / "dashboards" / "grafana"
GRAFANA_PANEL_TYPES = {"timeseries", "table", "barchart", "piechart", "stat", "bargauge"}
MAX_DATA_POINTS = 1_000
"""Grafana's default for a panel about as wide as half a screen: sets $__timeInterval."""


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = _generator()


@dataclass(frozen=True)
class QueryRange:
    """What Grafana sends the plugin with a query: the time range and the interval."""

    start: datetime
    end: datetime

    @property
    def interval_seconds(self) -> int:
        """Grafana's interval for the range at MAX_DATA_POINTS, at least 1 s (as the plugin)."""
        return max(1, math.floor((self.end - self.start).total_seconds() / MAX_DATA_POINTS))


def _date_time(at: datetime) -> str:
    return f"toDateTime({int(at.timestamp())})"


def _date_time_ms(at: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(at.timestamp() * 1000)})"


def _date(at: datetime) -> str:
    return f"toDate('{at.astimezone(UTC):%Y-%m-%d}')"


MACROS: dict[str, Callable[[QueryRange, list[str]], str]] = {
    "fromTime": lambda r, _: _date_time(r.start),
    "toTime": lambda r, _: _date_time(r.end),
    "fromTime_ms": lambda r, _: _date_time_ms(r.start),
    "toTime_ms": lambda r, _: _date_time_ms(r.end),
    "timeFilter": lambda r, a: f"{a[0]} >= {_date_time(r.start)} AND {a[0]} <= {_date_time(r.end)}",
    "timeFilter_ms": lambda r, a: (
        f"{a[0]} >= {_date_time_ms(r.start)} AND {a[0]} <= {_date_time_ms(r.end)}"
    ),
    "dateFilter": lambda r, a: f"{a[0]} >= {_date(r.start)} AND {a[0]} <= {_date(r.end)}",
    "timeInterval": lambda r, a: (
        f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {r.interval_seconds} second)"
    ),
    "timeInterval_ms": lambda r, a: (
        f"toStartOfInterval(toDateTime64({a[0]}, 3), INTERVAL {r.interval_seconds * 1000} "
        "millisecond)"
    ),
    "interval_s": lambda r, _: str(r.interval_seconds),
}
"""grafana-clickhouse-datasource v4's macros (pkg/macros/macros.go), as it expands them."""
MACRO = re.compile(r"\$__(\w+)(?:\(([^()]*)\))?")


def expand_macros(sql: str, query_range: QueryRange) -> str:
    def expand(match: re.Match[str]) -> str:
        name, arguments = match[1], match[2]
        if name not in MACROS:
            raise ValueError(f"the ClickHouse data source has no macro $__{name}")
        args = [a.strip() for a in arguments.split(",")] if arguments else []
        return MACROS[name](query_range, args)

    expanded = MACRO.sub(expand, sql)
    assert "$" not in expanded, f"a Grafana variable is left in:\n{expanded}"
    return expanded


def _dashboard_range(slug: str, now: datetime) -> QueryRange:
    """The dashboard's default time range (`now-24h` … `now`), as a user first sees it."""
    span = generate.dashboard_json(slug)["time"]
    hours = re.fullmatch(r"now-(\d+)h", span["from"])
    assert hours and span["to"] == "now", span
    return QueryRange(now - timedelta(hours=int(hours[1])), now)


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedWarehouse]:
    with analyst_district(tmp_path_factory.mktemp("grafana")) as warehouse:
        yield warehouse


PANELS = generate.panels()


@pytest.mark.parametrize("panel", PANELS, ids=[f"{p.dashboard}/{p.name}" for p in PANELS])
def test_panel_query_returns_its_columns_and_rows(
    panel: generate.Panel, district: EmbeddedWarehouse
) -> None:
    sql = expand_macros(panel.sql, _dashboard_range(panel.dashboard, datetime.now(UTC)))
    result = district.query_arrow(sql)
    assert tuple(result.column_names) == panel.columns, panel.path
    assert result.num_rows >= 1, f"{panel.path} returned no rows on a simulated week"


def test_every_dashboard_has_panels_and_every_panel_folder_a_dashboard() -> None:
    folders = {p.name for p in (GRAFANA / "panels").iterdir() if p.is_dir()}
    assert folders == set(generate.DASHBOARDS)
    for slug in generate.DASHBOARDS:
        assert generate.panels(slug), f"dashboard {slug} has no panels"


def test_time_series_panels_return_time_first() -> None:
    for panel in PANELS:
        if panel.type == "timeseries":
            assert panel.columns[0] == "time", panel.path
            assert "$__timeInterval(" in panel.sql, panel.path
        assert "$__timeFilter" in panel.sql or "$__dateFilter" in panel.sql, (
            f"{panel.path} reads every row ever stored: filter on the dashboard's time range"
        )


def test_dashboard_json_is_generated_from_the_panel_files() -> None:
    for slug in generate.DASHBOARDS:
        stored = (GRAFANA / "dashboards" / f"{slug}.json").read_text(encoding="utf-8")
        assert stored == generate.rendered(slug), (
            f"dashboards/grafana/dashboards/{slug}.json is out of date: "
            "run python dashboards/grafana/generate.py"
        )
    extra = {p.stem for p in (GRAFANA / "dashboards").glob("*.json")} - set(generate.DASHBOARDS)
    assert not extra, f"dashboards without panel files: {extra}"


def test_dashboards_reference_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml").read_text()
    )
    assert provisioned["apiVersion"] == 1
    [source] = provisioned["datasources"]
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"]["protocol"] == "http"
    assert source["jsonData"]["defaultDatabase"] == "pingan"
    assert "password" in source["secureJsonData"], "the password belongs in secureJsonData"
    assert "password" not in source["jsonData"]
    expected = {"type": source["type"], "uid": source["uid"]}
    uids = set()
    for path in sorted((GRAFANA / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        uids.add(dashboard["uid"])
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in dashboard["panels"]:
            assert panel["type"] in GRAFANA_PANEL_TYPES, (path.name, panel["type"])
            assert panel["datasource"] == expected, (path.name, panel["title"])
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, (path.name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"] == expected, (path.name, panel["title"])
                assert target["editorType"] == "sql" and target["rawSql"].strip()
    assert len(uids) == len(generate.DASHBOARDS), "dashboard uids repeat"


def test_dashboard_provider_reads_where_compose_mounts_the_dashboards() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "pingan.yaml").read_text())
    assert provider["apiVersion"] == 1
    [entry] = provider["providers"]
    assert entry["type"] == "file" and entry["allowUiUpdates"] is False
    compose = yaml.safe_load((GRAFANA.parents[1] / "docker-compose.yml").read_text())
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["grafana"]["volumes"])
    assert mounts["./dashboards/grafana/dashboards"] == entry["options"]["path"]
    assert mounts["./dashboards/grafana/provisioning"] == "/etc/grafana/provisioning"


def test_macro_expansion_matches_the_plugin() -> None:
    """The plugin's own expansions (pkg/macros/macros_test.go), on a fixed range."""
    start = datetime(2026, 12, 6, 0, 0, tzinfo=UTC)
    query_range = QueryRange(start, start + timedelta(hours=1))
    assert expand_macros("$__timeFilter(occurred_at)", query_range) == (
        "occurred_at >= toDateTime(1796515200) AND occurred_at <= toDateTime(1796518800)"
    )
    assert expand_macros("$__timeInterval(occurred_at)", query_range) == (
        "toStartOfInterval(toDateTime(occurred_at), INTERVAL 3 second)"
    )
    assert expand_macros("$__fromTime_ms", query_range) == (
        "fromUnixTimestamp64Milli(1796515200000)"
    )
    with pytest.raises(ValueError, match=r"no macro \$__timeFIlter"):
        expand_macros("$__timeFIlter(at)", query_range)

"""Grafana dashboards built from their panels' SQL files.

Each panel is one file, `panels/<dashboard>/<order>-<name>.sql`: a few `-- key: value` header
lines (title, type, columns, description, and optionally unit and width), then the query with
the ClickHouse data source's macros (`$__timeFilter(col)`, `$__timeInterval(col)`, ...). The
SQL files are the one source of truth: this script writes `dashboards/<dashboard>.json` from
them, and tests/integration/test_grafana_panels.py runs every file's query against chDB and
checks that the JSON is what this script makes of the files.

    python dashboards/grafana/generate.py          # rewrite the dashboard JSON
    python dashboards/grafana/generate.py --check  # exit 1 if a JSON is out of date
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
PANELS = HERE / "panels"
DASHBOARDS_DIR = HERE / "dashboards"
DATASOURCES = HERE / "provisioning" / "datasources" / "clickhouse.yaml"

DASHBOARDS: dict[str, tuple[str, str]] = {
    "alerts": (
        "Alerts per community and type",
        "New alerts over time by type and by community, and the officers' open queue.",
    ),
    "device-health": (
        "Device health",
        "Devices reporting, outages, devices silent or offline, charging sheds' temperature.",
    ),
    "parking-revenue": (
        "Parking revenue",
        "Fees of the parking sessions paired from vehicle passages, per community.",
    ),
    "face-captures": (
        "Face-capture volume",
        "Counts of face captures and of face searches only: no face, crop or embedding.",
    ),
    "dead-letters": (
        "Dead letters",
        "Messages no consumer could accept, by source topic and by reason.",
    ),
    "pipeline-lag": (
        "Pipeline lag",
        "Delays from the tables' own timestamps: device to intake, event to alert, and how "
        "far behind now the newest stored rows are.",
    ),
}
"""Dashboard folder name → title and description, in the order Grafana lists them."""

TABLE_PANELS = {"table", "barchart", "piechart"}
"""Panel types fed a table (format 1); time series panels get format 0 (long → wide)."""
ROW_HEIGHT = 9
GRID_WIDTH = 24
HEADER_KEYS = {"title", "type", "columns", "description", "unit", "width"}


@dataclass(frozen=True)
class Panel:
    dashboard: str
    name: str
    title: str
    type: str
    columns: tuple[str, ...]
    """The result's column names, in order: the test holds the query to them."""
    description: str
    unit: str
    width: int
    sql: str

    @property
    def path(self) -> Path:
        return PANELS / self.dashboard / f"{self.name}.sql"


def datasource() -> dict[str, str]:
    """The provisioned ClickHouse data source, named by the uid in its provisioning file."""
    source = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"][0]
    return {"type": source["type"], "uid": source["uid"]}


def read_panel(path: Path) -> Panel:
    header: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and lines[0].startswith("-- ") and ":" in lines[0]:
        key, _, value = lines.pop(0)[3:].partition(":")
        if key.strip() not in HEADER_KEYS:
            raise ValueError(f"{path}: unknown header {key.strip()!r}")
        header[key.strip()] = value.strip()
    missing = {"title", "type", "columns", "description"} - set(header)
    if missing:
        raise ValueError(f"{path}: missing header lines {sorted(missing)}")
    return Panel(
        dashboard=path.parent.name,
        name=path.stem,
        title=header["title"],
        type=header["type"],
        columns=tuple(c.strip() for c in header["columns"].split(",")),
        description=header["description"],
        unit=header.get("unit", ""),
        width=int(header.get("width", GRID_WIDTH // 2)),
        sql="\n".join(lines).strip(),
    )


def panels(dashboard: str | None = None) -> list[Panel]:
    names = [dashboard] if dashboard else list(DASHBOARDS)
    return [read_panel(p) for name in names for p in sorted((PANELS / name).glob("*.sql"))]


def dashboard_json(slug: str) -> dict[str, Any]:
    title, description = DASHBOARDS[slug]
    source = datasource()
    layout = _layout(panels(slug))
    return {
        "uid": f"pingan-{slug}",
        "title": f"Pingan · {title}",
        "description": description,
        "tags": ["pingan"],
        "timezone": "Asia/Shanghai",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "schemaVersion": 39,
        "version": 1,
        "annotations": {"list": []},
        "templating": {"list": []},
        "panels": [
            _panel_json(number, panel, grid, source)
            for number, (panel, grid) in enumerate(layout, start=1)
        ],
    }


def _layout(items: list[Panel]) -> list[tuple[Panel, dict[str, int]]]:
    """Left to right, a new row when a panel does not fit the 24-column grid."""
    placed = []
    x = y = 0
    for panel in items:
        if x + panel.width > GRID_WIDTH:
            x, y = 0, y + ROW_HEIGHT
        placed.append((panel, {"x": x, "y": y, "w": panel.width, "h": ROW_HEIGHT}))
        x += panel.width
    return placed


def _panel_json(
    number: int, panel: Panel, grid: dict[str, int], source: dict[str, str]
) -> dict[str, Any]:
    table = panel.type in TABLE_PANELS
    options: dict[str, Any] = {}
    if panel.type == "piechart":
        options = {"reduceOptions": {"values": True, "calcs": [], "fields": ""}}
    defaults: dict[str, Any] = {"unit": panel.unit} if panel.unit else {}
    return {
        "id": number,
        "type": panel.type,
        "title": panel.title,
        "description": panel.description,
        "datasource": source,
        "gridPos": grid,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            {
                "refId": "A",
                "datasource": source,
                "editorType": "sql",
                "queryType": "table" if table else "timeSeries",
                "format": 1 if table else 0,
                "rawSql": panel.sql,
            }
        ],
    }


def rendered(slug: str) -> str:
    return json.dumps(dashboard_json(slug), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    DASHBOARDS_DIR.mkdir(exist_ok=True)
    for slug in DASHBOARDS:
        target = DASHBOARDS_DIR / f"{slug}.json"
        text = rendered(slug)
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        if check:
            stale.append(target.name)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(HERE.parent.parent)}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python dashboards/grafana/generate.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

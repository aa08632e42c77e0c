"""`pingan evaluate` end to end: its own broker, a worker process, chDB, a labelled scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, time, timedelta

import pytest

from schemas.alerts import RULE_ALERT_TYPES
from schemas.events import utc_now
from schemas.reference import DISTRICT_TZ
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def latest_evening() -> datetime:
    """18:00 in the district, today or yesterday: six hours before it are daytime, when most
    short incident types happen (at 04:00 the six hours before hold 5 types, at 18:00 13)."""
    now = utc_now().astimezone(DISTRICT_TZ)
    evening = datetime.combine(now.date(), time(18, 0), DISTRICT_TZ)
    return evening if evening <= now else evening - timedelta(days=1)


def test_six_hour_scenario_meets_the_targets_for_every_type_it_holds() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pingan.cli",
            "evaluate",
            "--seed",
            "3",
            "--duration",
            "21600",
            "--end",
            latest_evening().isoformat(),
            "--communities",
            "3",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    rules = report["rules"]
    assert set(rules) == {str(t) for t in RULE_ALERT_TYPES}
    labelled = {name: r for name, r in rules.items() if r["tp"] + r["fn"] > 0}
    assert len(labelled) >= 10, "a six-hour scenario holds most short incident types"
    for name, r in rules.items():
        assert r["recall"] >= 0.95, f"{name}: {r}"
        assert r["precision"] >= 0.9, f"{name}: {r}"
    assert report["meets_targets"] is True

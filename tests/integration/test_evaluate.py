"""`pingan evaluate` end to end: its own broker, a worker process, chDB, a labelled scenario."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from schemas.alerts import AlertType
from tests.conftest import REPO

pytestmark = pytest.mark.integration


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
    assert set(rules) == {str(t) for t in AlertType}
    labelled = {name: r for name, r in rules.items() if r["tp"] + r["fn"] > 0}
    assert len(labelled) >= 10, "a six-hour scenario holds most short incident types"
    for name, r in rules.items():
        assert r["recall"] >= 0.95, f"{name}: {r}"
        assert r["precision"] >= 0.9, f"{name}: {r}"
    assert report["meets_targets"] is True

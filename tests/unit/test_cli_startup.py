"""`pingan --help` and `--version` answer at once: they load neither models nor Kafka."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

from pingan.cli import SUBCOMMANDS

# Seconds of imports between them (OpenCV, onnxruntime and insightface load the vision stack).
HEAVY_MODULES = {"cv2", "insightface", "onnxruntime", "faust", "chdb"}


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pingan.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _imported(importtime_report: str) -> set[str]:
    """Top-level package names from `-X importtime` lines: `import time: self | cum | name`."""
    names = set()
    for line in importtime_report.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name.split(".")[0])
    return names


def test_help_lists_every_command_without_heavy_imports() -> None:
    done = _run_cli("--help")
    imported = _imported(done.stderr)
    assert "click" in imported, "the -X importtime report was not read"
    assert not imported & HEAVY_MODULES
    for name in ("run", "worker", "token", "sql", *SUBCOMMANDS):
        assert f"  {name} " in done.stdout


def test_version_prints_the_installed_version() -> None:
    done = _run_cli("--version")
    assert done.stdout.strip() == f"pingan, version {version('pingan')}"
    assert not _imported(done.stderr) & HEAVY_MODULES


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_listed_help_is_the_commands_own(name: str) -> None:
    """The line `--help` shows without importing a group is the group's own docstring's."""
    lazy = SUBCOMMANDS[name]
    assert lazy.load().get_short_help_str(limit=1000) == lazy.short_help


def test_a_rules_worker_refuses_to_serve_the_api_and_says_where_it_lives() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pingan.cli", "worker", "--role", "rules", "--api"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "serve the API from the sink (--role sink)" in done.stderr


def test_worker_roles_are_a_closed_choice() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pingan.cli", "worker", "--role", "everything"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "'all', 'rules', 'sink'" in done.stderr

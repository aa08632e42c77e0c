"""Runs a small Faust app written by a test, until it prints what the test waits for."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def first_line_matching(app_dir: Path, module: str, pattern: str) -> re.Match[str]:
    """`faust -A MODULE worker` in `app_dir` until a line of its output matches `pattern`;
    the app is stopped either way."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "faust", "-A", module, "worker", "-l", "warn"],
        cwd=app_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert worker.stdout is not None
        lines = []
        for line in worker.stdout:
            lines.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(
            f"the Faust app {module} ended without printing {pattern!r}:\n" + "".join(lines[-30:])
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)

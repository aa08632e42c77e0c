"""`pingan sql` with no worker running: it opens the embedded chDB itself and passes any
ClickHouse output format through, byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _pingan_sql(data_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PINGAN_DATA_DIR": str(data_dir)}
    env.pop("CLICKHOUSE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pingan.cli", "sql", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=120,
    )


def test_any_output_format_passes_through(tmp_path: Path) -> None:
    answer = _pingan_sql(
        tmp_path, "SELECT number AS n, toString(number) AS s FROM numbers(3)", "--format", "JSON"
    )
    assert answer.returncode == 0, answer.stderr.decode()
    body = json.loads(answer.stdout)
    assert body["data"] == [{"n": 0, "s": "0"}, {"n": 1, "s": "1"}, {"n": 2, "s": "2"}]
    csv = _pingan_sql(tmp_path, "SELECT 1 AS a, 'x' AS b", "--format", "CSVWithNames")
    assert csv.stdout == b'"a","b"\n1,"x"\n'


def test_text_cut_through_a_character_is_printed_not_a_traceback(tmp_path: Path) -> None:
    """substring() counts bytes: half of 汉 is not UTF-8, and ClickHouse prints it as is."""
    answer = _pingan_sql(tmp_path, "SELECT substring('汉南', 1, 2) AS half", "--format", "TSV")
    assert answer.returncode == 0, answer.stderr.decode()
    assert answer.stdout == "汉".encode()[:2] + b"\n"
    assert b"Traceback" not in answer.stderr


def test_a_bad_query_is_one_clear_line(tmp_path: Path) -> None:
    answer = _pingan_sql(tmp_path, "SELECT no_such_column")
    assert answer.returncode == 1
    assert b"query failed" in answer.stderr and b"Traceback" not in answer.stderr

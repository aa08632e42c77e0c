"""`pingan run` on a real broker: a few lines and a status line on the terminal, the logs in
a file whose path it prints, and the console's address with a district_admin's token."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from graphql_api.access import Role
from graphql_api.tokens import TokenVerifier
from pingan.platform.settings import Settings
from pingan.platform.stack.kafka import free_port
from tests.conftest import REPO, WorkerProcess

pytestmark = pytest.mark.integration

STATUS = re.compile(
    r"^\d\d:\d\d:\d\d events [\d,]+/s · alerts [\d,]+ new, [\d,]+ updated · lag (…|[\d,]+) · "
    r"http://127\.0\.0\.1:(\d+)/ · Ctrl-C stops$"
)
FAUST_LINE = re.compile(r"\[\^-*\w+\]: (Starting|Stopping)")


@pytest.fixture(scope="module")
def finished_run(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], WorkerProcess]:
    """One short run into a pipe: there the status comes as a line every ten seconds."""
    # Not started: only its environment, a test worker's own data dir, ports, group and secret.
    run = WorkerProcess(kafka_bootstrap, tmp_path_factory.mktemp("run"), free_port())
    done = subprocess.run(
        [sys.executable, "-m", "pingan.cli", "run", "--duration", "25", "--communities", "6"],
        cwd=REPO,
        env=run.env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done, run


def test_faust_logs_go_to_the_printed_file_not_the_terminal(
    finished_run: tuple[subprocess.CompletedProcess[str], WorkerProcess],
) -> None:
    done, run = finished_run
    assert not FAUST_LINE.search(done.stdout + done.stderr)
    logs = re.findall(r"^Full logs: (.+)$", done.stdout, re.MULTILINE)
    assert len(logs) == 1
    log_path = Path(logs[0])
    assert log_path.parent == run.data_dir / "logs"
    assert FAUST_LINE.search(log_path.read_text())


def test_status_lines_then_the_summary(
    finished_run: tuple[subprocess.CompletedProcess[str], WorkerProcess],
) -> None:
    done, run = finished_run
    statuses = [STATUS.match(line) for line in done.stdout.splitlines()]
    shown = [match for match in statuses if match]
    assert shown, done.stdout
    assert {int(match[2]) for match in shown} == {run.api_port}
    assert done.stdout.index(shown[-1][0]) < done.stdout.index("Pingan run summary")


def test_console_address_signs_in_a_district_admin(
    finished_run: tuple[subprocess.CompletedProcess[str], WorkerProcess],
) -> None:
    done, run = finished_run
    match = re.search(
        r"^Police console .*: http://127\.0\.0\.1:(\d+)/#token=(\S+)$", done.stdout, re.M
    )
    assert match, done.stdout
    assert int(match[1]) == run.api_port
    secret = SecretStr(run.env["PINGAN_API_TOKEN_SECRET"])
    caller = TokenVerifier.from_settings(Settings(api_token_secret=secret)).caller(
        f"Bearer {match[2]}"
    )
    assert caller.role is Role.DISTRICT_ADMIN


def test_a_worker_that_cannot_start_says_why_on_the_terminal(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run = WorkerProcess(kafka_bootstrap, tmp_path, free_port())
    with socket.create_server(("127.0.0.1", run.api_port)):
        done = subprocess.run(
            [sys.executable, "-m", "pingan.cli", "run", "--duration", "60", "--communities", "2"],
            cwd=REPO,
            env=run.env,
            capture_output=True,
            text=True,
            timeout=280,
            check=False,
        )
    assert done.returncode == 1
    assert "The worker stopped on an error: " in done.stderr
    assert "address already in use" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "Pingan run summary" not in done.stdout

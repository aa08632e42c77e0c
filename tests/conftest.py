"""Fixtures on real parts: a local Kafka broker per test module, workers as real processes."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from graphql_api.access import Role
from graphql_api.tokens import mint_token
from pingan.cli import main
from pingan.platform.consumer_groups import group_lag
from pingan.platform.provision import create_topics
from pingan.platform.settings import Settings, get_settings
from pingan.platform.stack import kafka
from pingan.platform.stack.kafka import free_port
from schemas.topics import Topic

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh broker per module, so topics hold only that module's messages."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("kafka"),
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
    )
    bootstrap = kafka.up(settings)
    asyncio.run(create_topics(bootstrap))
    yield bootstrap
    kafka.down(settings)


CATCH_UP_AFTER_SIGKILL_S = 200.0
"""How long a worker restarted after SIGKILL may take to catch up: it first waits out the dead
member's Kafka session (60 s) before the group hands it the partitions, then replays; with
the rest of the suite on two cores that has taken more than two minutes. Below the 300 s
test timeout, so a stall fails with this wait's message."""


class WorkerProcess:
    """`pingan worker` in its own process, as in production; killable for crash tests."""

    def __init__(self, bootstrap: str, data_dir: Path, api_port: int) -> None:
        self.data_dir = data_dir
        self.api_port = api_port
        self.log_path = data_dir / "worker.log"
        self.sql_port = free_port()
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP": bootstrap,
            "PINGAN_DATA_DIR": str(data_dir),
            "PINGAN_API_PORT": str(api_port),
            "PINGAN_SQL_PORT": str(self.sql_port),
            "PINGAN_WORKER_ID": f"pingan-test-{data_dir.name}",
            "PINGAN_SINK_BATCH_SECONDS": "0.2",
            "PINGAN_API_TOKEN_SECRET": secrets.token_urlsafe(32),
        }
        self.env.pop("CLICKHOUSE_URL", None)
        self.command = ["-m", "pingan.cli", "worker"]
        """What `python` runs; a test may run a worker built with rules of its own."""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/graphql"

    def start(self, timeout: float = 90.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, *self.command],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        """Ready means the API answers: it starts after Faust has recovered its tables."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.api_port}/healthz", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"worker not ready in {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 60.0) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    @property
    def authorization(self) -> str:
        """A district_admin's bearer token for this worker's API."""
        settings = Settings(api_token_secret=self.env["PINGAN_API_TOKEN_SECRET"])
        token = mint_token(settings, Role.DISTRICT_ADMIN, "test-admin", None, timedelta(hours=1))
        return f"Bearer {token}"

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(
            self.url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": self.authorization},
            timeout=30,
        )
        return response.json()


@pytest.fixture
def pingan(kafka_bootstrap: str) -> Iterator[Any]:
    """Runs `pingan …` in-process against the module's broker; settings are read afresh."""
    runner = CliRunner()
    get_settings.cache_clear()

    def invoke(*args: str) -> Any:
        result = runner.invoke(main, list(args), env={"KAFKA_BOOTSTRAP": kafka_bootstrap})
        get_settings.cache_clear()
        return result

    yield invoke
    get_settings.cache_clear()


@pytest.fixture
def worker_process(kafka_bootstrap: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(kafka_bootstrap, tmp_path, free_port())
    yield worker
    worker.stop()


def eventually(check, timeout: float = 30.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll `check` until it returns a truthy value: readiness by checking, not by sleeping."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


def group_caught_up(bootstrap: str, group: str, topics: list[Topic]) -> bool:
    return group_lag(bootstrap, group, topics) == 0


SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def face_photos() -> dict[str, list[Path]]:
    """The sample face photos in ../shared/data/faces by person (read there, never copied)."""
    root = SHARED / "data" / "faces"
    if not root.is_dir():
        pytest.skip(f"face test photos absent: {root} (the shared test data) is not mounted")
    return {d.name: sorted(d.glob("*.jpg")) for d in sorted(root.iterdir()) if d.is_dir()}


@pytest.fixture(scope="session")
def face_model_dir() -> Path:
    """The face model pack for tests and local runs, ../shared/models/face."""
    root = SHARED / "models" / "face"
    if not any(root.glob("*.onnx")):
        pytest.skip(f"face models absent: {root} (the shared model pack) is not mounted")
    return root

"""The console in a real browser: Debian's chromium through Playwright, against a real stack.

One Kafka broker and one `pingan worker` per module (the worker serves the API and the
console on its API port) and one headless chromium.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from pingan.platform.stack.kafka import free_port
from tests.browser.harness import CHROMIUM, NO_CHROMIUM, VIEW_TIMEOUT_MS, Console
from tests.conftest import WorkerProcess


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(kafka_bootstrap, tmp_path_factory.mktemp("worker"), free_port())
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def browser(worker: WorkerProcess) -> Iterator[Browser]:
    """Launched once the stack is up: while Playwright's sync API runs, this thread cannot
    start an asyncio loop, and the stack's fixtures start some (topic creation)."""
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    expect.set_options(timeout=VIEW_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console(browser: Browser, worker: WorkerProcess) -> Iterator[Console]:
    console = Console(browser, worker)
    yield console
    console.close()

"""A batch is handled until it succeeds, never skipped.

Faust acknowledges a `take_events` batch in the generator's `finally` (faust-streaming
0.11 to 0.15, `Stream.take_events`), so when handling raised, the agent's restart would
commit the batch unhandled: its events neither stored nor dead-lettered. Handling is retried
here instead, with backoff; one that keeps failing raises a stall (the operator's alert and
/healthz 503), as a sink does for ClickHouse, and nothing is lost while it lasts.

What is retried is idempotent: rule state remembers the offsets it applied, a failed flush
keeps its records staged, and the sink skips rows it already stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from pingan.platform.health import PIPELINE_HEALTH, Stall
from schemas.events import utc_now

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_SECONDS = 10.0
MAX_ERROR_CHARS = 500

StallFn = Callable[[Stall], Awaitable[None]]


@dataclass
class SteadyBatches:
    stall_after_seconds: float
    on_stall: StallFn
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def handle(
        self,
        topic: str,
        destination: str,
        partitions: Sequence[int],
        handle: Callable[[], Awaitable[object]],
        what: str | None = None,
    ) -> None:
        """Runs `handle` until it returns; `destination` names, for the stall, where the
        batch's messages are held back from (a table, or the rules that read them), and
        `what` the work in the log (default: a batch of the topic)."""
        delay = 0.2
        failing_since: float | None = None
        stalled = False
        while True:
            try:
                await handle()
            except Exception as exc:
                failing_since = failing_since or self.clock()
                log.exception("%s failed, retrying in %.1fs", what or f"a batch of {topic}", delay)
                if not stalled and self.clock() - failing_since >= self.stall_after_seconds:
                    stalled = True
                    await self._stalled(topic, destination, partitions, failing_since, exc)
                await self.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY_SECONDS)
                continue
            if stalled:
                PIPELINE_HEALTH.recovered(topic)
                log.warning("%s flows again", topic)
            return

    async def _stalled(
        self,
        topic: str,
        destination: str,
        partitions: Sequence[int],
        failing_since: float,
        exc: Exception,
    ) -> None:
        since = utc_now() - timedelta(seconds=self.clock() - failing_since)
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        stall = Stall(topic, destination, tuple(sorted(set(partitions))), since, error)
        PIPELINE_HEALTH.stalled(stall)
        log.error("pipeline stalled: %s", stall.reason)
        await self.on_stall(stall)

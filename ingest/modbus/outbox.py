"""Batches the poller's records into `Publisher.publish_many` calls.

Routine telemetry waits up to `batch_seconds` so hundreds of devices' polls share one
send; urgent records (alarms, changes) are sent at once, beside any batch in flight.
A failed publish keeps its records and retries with backoff. Nothing is dropped: when
`max_pending` records wait (Kafka slower than the devices, or down), `room()` holds the
pollers back until batches get through, so a slow broker slows polling instead of
losing readings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable

from pingan.platform.publisher import Publisher
from schemas.events import Record

log = logging.getLogger(__name__)


class Outbox:
    def __init__(
        self,
        publisher: Publisher,
        batch_seconds: float = 0.05,
        max_batch: int = 5000,
        max_pending: int = 20_000,
    ) -> None:
        self._publisher = publisher
        self._batch_seconds = batch_seconds
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._queue: deque[Record] = deque()
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._inflight: set[asyncio.Task[None]] = set()
        self.published = 0

    @property
    def pending(self) -> int:
        return len(self._queue)

    def add(self, records: Iterable[Record]) -> None:
        """Queue records for the next batch."""
        self._queue.extend(records)
        if len(self._queue) >= self._max_batch:
            self._wake.set()
        if len(self._queue) >= self._max_pending:
            self._room.clear()

    def urgent(self, records: list[Record]) -> None:
        """Publish now, without waiting for the batch; queued for retry if that fails."""
        if records:
            task = asyncio.create_task(self._publish_urgent(records))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def room(self) -> None:
        """Returns once the queue is below `max_pending` (at once, normally)."""
        await self._room.wait()

    async def run(self) -> None:
        """Publish batches until cancelled; then flush what is left."""
        delay = 0.1
        try:
            while True:
                if len(self._queue) < self._max_batch:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._batch_seconds):
                            await self._wake.wait()
                self._wake.clear()
                if await self._flush():
                    delay = 0.1
                else:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            await self.drain()

    async def drain(self) -> None:
        """Wait for urgent publishes in flight and send everything queued (at shutdown)."""
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        while self._queue:
            if not await self._flush():
                log.error("modbus outbox: %d records not published at shutdown", self.pending)
                break

    async def _flush(self) -> bool:
        """Publish one batch; False if Kafka refused it (the records stay queued, in order)."""
        batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
        if not batch:
            return True
        try:
            self.published += await self._publisher.publish_many(batch)
        except Exception as exc:
            log.error("publishing %d modbus records failed, will retry: %s", len(batch), exc)
            self._queue.extendleft(reversed(batch))
            return False
        if len(self._queue) < self._max_pending:
            self._room.set()
        return True

    async def _publish_urgent(self, records: list[Record]) -> None:
        try:
            self.published += await self._publisher.publish_many(records)
        except Exception as exc:
            log.error("publishing %d urgent modbus records failed, queued: %s", len(records), exc)
            self._queue.extendleft(reversed(records))
            self._wake.set()

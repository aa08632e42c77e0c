"""Accepted events to Kafka, answered only once acknowledged; back-pressure when it cannot.

A publish that outlives the timeout keeps running in the producer (it may still land);
the device is told to retry, and the retry is either a duplicate (if it landed and is
remembered) or published again (collapsing in ClickHouse on event_id). Events waiting
for Kafka are bounded, so an outage turns into 429s, not into memory growth.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.errors import KafkaError

from ingest.http.recent import EventKey, RecentEvents, event_key
from ingest.http.refusal import Refusal
from pingan.platform.publisher import Publisher
from schemas.events import Event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Forwarded:
    published: int
    duplicates: int


class Forwarder:
    def __init__(
        self,
        publisher: Publisher,
        recent: RecentEvents,
        *,
        timeout: float,
        max_pending: int,
        retry_after: int,
    ) -> None:
        self._publisher = publisher
        self._recent = recent
        self._timeout = timeout
        self._max_pending = max_pending
        self._retry_after = retry_after
        self.pending = 0

    async def forward(self, events: Sequence[Event]) -> Forwarded:
        """Publish what is new, wait for it and for in-flight copies of the rest."""
        keys = [event_key(event) for event in events]
        sorted_ = self._recent.sort(keys)
        waits = set(sorted_.in_flight)
        if sorted_.fresh:
            if self.pending + len(sorted_.fresh) > self._max_pending:
                raise self._busy(f"{self.pending} events are already waiting for Kafka")
            fresh_keys = [keys[i] for i in sorted_.fresh]
            publish = asyncio.ensure_future(
                self._publisher.publish_many([events[i] for i in sorted_.fresh])
            )
            self.pending += len(fresh_keys)
            self._recent.hold(fresh_keys, publish)
            publish.add_done_callback(functools.partial(self._settled, fresh_keys))
            waits.add(publish)
        if waits:
            await self._acknowledged(waits)
        return Forwarded(published=len(sorted_.fresh), duplicates=sorted_.duplicates)

    async def _acknowledged(self, publishes: set[asyncio.Future[object]]) -> None:
        done, late = await asyncio.wait(publishes, timeout=self._timeout)
        if late:
            raise self._busy(f"Kafka did not acknowledge within {self._timeout:g} s")
        for publish in done:
            failure = publish.exception()
            if isinstance(failure, KafkaError):
                raise self._busy(f"Kafka refused the write: {failure}")
            if failure is not None:
                raise failure

    def _settled(self, keys: list[EventKey], publish: asyncio.Future[object]) -> None:
        self.pending -= len(keys)
        failure = None if publish.cancelled() else publish.exception()
        if publish.cancelled() or failure is not None:
            log.warning("publish of %d webhook events failed: %r", len(keys), failure)
        self._recent.settle(keys, published=not publish.cancelled() and failure is None)

    def _busy(self, reason: str) -> Refusal:
        return Refusal(
            429,
            f"{reason}; retry after {self._retry_after} s with the same event_ids",
            retry_after=self._retry_after,
        )

"""The police watchlist as a table every worker holds whole, read from its compacted topic.

This is what a Faust GlobalTable does; with faust-streaming 0.15.3 a GlobalTable whose
changelog is an existing topic stalled the consumer group's partition assignment
(measured), so the table is read here with a group-less consumer instead.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from mode import Service

from schemas.alerts import WatchlistPlate
from schemas.codec import DecodeError, decode
from schemas.topics import WATCHLIST_PLATES

log = logging.getLogger(__name__)


class WatchlistTable(Service):
    """Plate (normalised, bytes) → entry; tombstones remove. `loaded` is set once caught up."""

    def __init__(self, bootstrap: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._bootstrap = bootstrap
        self._entries: dict[bytes, WatchlistPlate] = {}
        self.loaded = asyncio.Event()

    def get(self, key: bytes) -> WatchlistPlate | None:
        return self._entries.get(key)

    def __len__(self) -> int:
        return len(self._entries)

    @Service.task
    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [
                TopicPartition(WATCHLIST_PLATES.name, p) for p in range(WATCHLIST_PLATES.partitions)
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            while not self.should_stop:
                batches = await consumer.getmany(timeout_ms=500, max_records=1000)
                for messages in batches.values():
                    for message in messages:
                        self._apply(message.key, message.value)
                if not self.loaded.is_set() and await _caught_up(consumer, end):
                    self._loaded()
        finally:
            await consumer.stop()

    def _loaded(self) -> None:
        log.info("watchlist loaded: %d plates", len(self._entries))
        self.loaded.set()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        if value is None:
            self._entries.pop(key, None)
            return
        try:
            self._entries[key] = decode(value, WatchlistPlate)
        except DecodeError as exc:
            log.error("ignoring unreadable watchlist entry %r: %s", key, exc.reason)


async def _caught_up(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    return all([await consumer.position(tp) >= offset for tp, offset in end.items()])

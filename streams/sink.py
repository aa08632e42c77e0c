"""The sink: every event, alert and dead letter lands in ClickHouse, in batches.

At-least-once from Kafka, exactly-once into ClickHouse: offsets are committed only after
a batch is written, and every row records its Kafka partition and offset, so after a
crash the sink skips what an earlier run already wrote (watermarks read back from
ClickHouse itself, atomically consistent with the rows).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pingan.warehouse import Warehouse, WarehouseError
from schemas.codec import DecodeError
from schemas.events import Record
from schemas.topics import DEAD_LETTERS, Topic
from streams.dead_letters import DeadLetter
from streams.intake import Intake

log = logging.getLogger(__name__)

RejectFn = Callable[[DeadLetter], Awaitable[None]]


@dataclass(frozen=True)
class Message:
    """What the sink needs of a Kafka message, independent of Faust."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


@dataclass
class SinkStats:
    rows_written: Counter[str] = field(default_factory=Counter)
    dead_lettered: Counter[str] = field(default_factory=Counter)
    replays_skipped: Counter[str] = field(default_factory=Counter)
    batches: int = 0


class TableSink:
    """Writes one topic into its table; invalid messages are handed to `reject`."""

    def __init__(
        self, warehouse: Warehouse, topic: Topic, intake: Intake, reject: RejectFn, stats: SinkStats
    ) -> None:
        if topic.table is None:
            raise ValueError(f"topic {topic.name} has no table")
        self.topic = topic
        self.table = topic.table
        self._warehouse = warehouse
        self._intake = intake
        self._reject = reject
        self._stats = stats
        self._watermarks: dict[int, int] | None = None
        self._schema = warehouse.arrow_schema(self.table)

    def forget_watermarks(self) -> None:
        """After a rebalance another worker may have written our new partitions: re-read."""
        self._watermarks = None

    def decode(self, m: Message) -> Record | DeadLetter | DecodeError:
        """The message as what its row is made from, or why it cannot be."""
        try:
            if self.topic is DEAD_LETTERS:
                return _dead_letter(m)
            assert self.topic.record is not None
            return self._intake.accept(m.value, self.topic.record)
        except DecodeError as exc:
            return exc

    async def write(
        self,
        messages: Sequence[Message],
        decoded: Sequence[Record | DeadLetter | DecodeError] | None = None,
    ) -> int:
        """Write a batch; returns after the rows are durable (retrying while ClickHouse is down).

        `decoded` (one per message) spares a second decode when the caller already did it.
        """
        if decoded is None:
            decoded = [self.decode(m) for m in messages]
        watermarks = await self._load_watermarks()
        fresh = [
            (m, d)
            for m, d in zip(messages, decoded, strict=True)
            if m.offset > watermarks.get(m.partition, -1)
        ]
        self._stats.replays_skipped[self.table] += len(messages) - len(fresh)
        rows, rejected = _rows(fresh)
        for dead_letter in rejected:
            await self._reject(dead_letter)
        if rows:
            batch = pa.Table.from_pylist(rows, schema=self._schema)
            await self._insert_until_written(batch)
        for m, _ in fresh:
            watermarks[m.partition] = max(watermarks.get(m.partition, -1), m.offset)
        self._stats.rows_written[self.table] += len(rows)
        self._stats.dead_lettered[self.topic.name] += len(rejected)
        self._stats.batches += 1
        return len(rows)

    async def _load_watermarks(self) -> dict[int, int]:
        if self._watermarks is None:
            rows = await self._warehouse.aquery(
                f"SELECT kafka_partition AS p, max(kafka_offset) AS o FROM {self.table} "
                "GROUP BY kafka_partition"
            )
            self._watermarks = {int(r["p"]): int(r["o"]) for r in rows}
        return self._watermarks

    async def _insert_until_written(self, batch: pa.Table) -> None:
        delay = 0.2
        while True:
            try:
                await self._warehouse.ainsert(self.table, batch)
                return
            except WarehouseError as exc:
                log.error("insert into %s failed, retrying in %.1fs: %s", self.table, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)


def _dead_letter(m: Message) -> DeadLetter:
    try:
        return DeadLetter.from_headers(m.headers, m.key, m.value)
    except (KeyError, ValueError) as exc:
        raise DecodeError(f"dead letter without valid pingan headers: {exc}") from None


def _rows(
    decoded: Sequence[tuple[Message, Record | DeadLetter | DecodeError]],
) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
    rows: list[dict[str, Any]] = []
    rejected: list[DeadLetter] = []
    for m, item in decoded:
        if isinstance(item, DecodeError):
            rejected.append(
                DeadLetter.rejected(m.topic, m.partition, m.offset, m.key, m.value, item.reason)
            )
            continue
        row = item.row()
        row["kafka_partition"] = m.partition
        row["kafka_offset"] = m.offset
        rows.append(row)
    return rows, rejected

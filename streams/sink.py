"""The sink: every event, alert and dead letter lands in ClickHouse, in batches.

At-least-once from Kafka, exactly-once into ClickHouse: offsets are committed only after
a batch is written, and every row records its Kafka partition and offset, so after a
crash the sink skips what an earlier run already wrote. A batch is written as several
inserts (one per table partition, or halves while a bad message is isolated), so a crash
can leave some of them in: a replayed message at or below a partition's highest stored
offset is skipped only if its own offset is found stored, and the missing ones are written.

Every message is stored or dead-lettered, never stuck: when decoding, making the row,
converting to Arrow or the insert fails for good, the batch is halved until the culprit is
found (one bad message in N costs O(log N) inserts), it is dead-lettered with the reason
and the rest are stored. A batch that fails nowhere takes one conversion and one insert.
Transient ClickHouse errors are retried as any failing batch is (`SteadyBatches`): one that
lasts `stall_after_seconds` raises a stall, an alert (`on_stall`) and an unhealthy /healthz,
until the insert goes through.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa

from pingan.platform.health import Stall
from pingan.platform.warehouse import Warehouse, WarehouseError
from schemas.alerts import PLATFORM_COMMUNITY, Alert, AlertType, Severity, SubjectKind
from schemas.codec import DecodeError
from schemas.events import Record, utc_now
from schemas.topics import DEAD_LETTERS, Topic
from streams.dead_letters import DeadLetter
from streams.intake import Intake
from streams.steady_batches import StallFn, SteadyBatches

log = logging.getLogger(__name__)

RejectFn = Callable[[DeadLetter], Awaitable[None]]
Pending = tuple["Message", dict[str, Any]]
T = TypeVar("T")

CONVERSION_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)
"""What pyarrow raises for a value its column's type cannot hold (70000 in a UInt16)."""


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
    rule_failures: Counter[str] = field(default_factory=Counter)
    """Rule name → events it raised on (isolated and dead-lettered by the rule engine)."""
    insert_retries: Counter[str] = field(default_factory=Counter)
    batches: int = 0


class TableSink:
    """Writes one topic into its table; invalid messages are handed to `reject`."""

    def __init__(
        self,
        warehouse: Warehouse,
        topic: Topic,
        intake: Intake,
        reject: RejectFn,
        stats: SinkStats,
        stall_after_seconds: float = 300.0,
        on_stall: StallFn | None = None,
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
        self._retries = SteadyBatches(stall_after_seconds, on_stall or _unwatched)

    def forget_watermarks(self) -> None:
        """After a rebalance another worker may have written our new partitions: re-read."""
        self._watermarks = None

    def decode(self, m: Message) -> Record | DeadLetter | DecodeError:
        """The message as what its row is made from, or why it cannot be."""
        if self.topic is not DEAD_LETTERS:
            assert self.topic.record is not None
            return self._intake.accepted(m.value, self.topic.record)
        try:
            return _dead_letter(m)
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
        fresh = await self._fresh(messages, decoded)
        self._stats.replays_skipped[self.table] += len(messages) - len(fresh)
        pending, rejected = _rows(fresh)
        culprits = await isolate(pending, self._store)
        rejected += [
            DeadLetter.rejected(m.topic, m.partition, m.offset, m.key, m.value, reason)
            for (m, _), reason in culprits
        ]
        for dead_letter in rejected:
            await self._reject(dead_letter)
        watermarks = await self._load_watermarks()
        for m, _ in fresh:
            watermarks[m.partition] = max(watermarks.get(m.partition, -1), m.offset)
        stored = len(pending) - len(culprits)
        self._stats.rows_written[self.table] += stored
        self._stats.dead_lettered[self.topic.name] += len(rejected)
        self._stats.batches += 1
        return stored

    async def _fresh(
        self, messages: Sequence[Message], decoded: Sequence[Record | DeadLetter | DecodeError]
    ) -> list[tuple[Message, Record | DeadLetter | DecodeError]]:
        """The messages not stored yet: all of them, unless the batch replays offsets."""
        watermarks = await self._load_watermarks()
        replayed = [m for m in messages if m.offset <= watermarks.get(m.partition, -1)]
        if not replayed:
            return list(zip(messages, decoded, strict=True))
        stored = await self._stored_offsets(replayed)
        return [
            (m, d)
            for m, d in zip(messages, decoded, strict=True)
            if (m.partition, m.offset) not in stored
        ]

    async def _stored_offsets(self, replayed: Sequence[Message]) -> set[tuple[int, int]]:
        """Which replayed offsets have rows: a crash between a batch's inserts leaves gaps."""
        stored: set[tuple[int, int]] = set()
        for partition in {m.partition for m in replayed}:
            offsets = [m.offset for m in replayed if m.partition == partition]
            rows = await self._warehouse.aquery(
                f"SELECT kafka_offset AS o FROM {self.table} WHERE kafka_partition = "
                "{p:UInt16} AND kafka_offset BETWEEN {lo:UInt64} AND {hi:UInt64}",
                {"p": partition, "lo": min(offsets), "hi": max(offsets)},
            )
            stored.update((partition, int(r["o"])) for r in rows)
        return stored

    async def _load_watermarks(self) -> dict[int, int]:
        if self._watermarks is None:
            rows = await self._warehouse.aquery(
                f"SELECT kafka_partition AS p, max(kafka_offset) AS o FROM {self.table} "
                "GROUP BY kafka_partition"
            )
            self._watermarks = {int(r["p"]): int(r["o"]) for r in rows}
        return self._watermarks

    async def _store(self, pending: Sequence[Pending]) -> str | None:
        """Stores the rows, or says why they cannot be stored, ever (None: stored)."""
        try:
            batch = pa.Table.from_pylist([row for _, row in pending], schema=self._schema)
        except CONVERSION_ERRORS as exc:
            return self._conversion_failure(pending, exc)
        return await self._insert_until_written(batch, pending)

    def _conversion_failure(self, pending: Sequence[Pending], exc: Exception) -> str:
        """Names the column once the culprit is alone (cheap then, and what an operator needs)."""
        if len(pending) == 1:
            row = pending[0][1]
            for column in self._schema:
                try:
                    pa.array([row.get(column.name)], type=column.type)
                except CONVERSION_ERRORS as column_exc:
                    return f"{column.name}: does not fit {self.table}.{column.name}: {column_exc}"
        return f"does not fit the columns of {self.table}: {exc}"

    async def _insert_until_written(
        self, batch: pa.Table, pending: Sequence[Pending]
    ) -> str | None:
        """Retries transient errors (the stall, alert and /healthz, after
        `stall_after_seconds`); returns why ClickHouse refused the rows for good, or None."""
        refused: list[str] = []

        async def insert() -> None:
            try:
                await self._warehouse.ainsert(self.table, batch)
            except WarehouseError as exc:
                if not exc.permanent:
                    self._stats.insert_retries[self.table] += 1
                    raise
                refused.append(f"ClickHouse refused the row for {self.table}: {exc}")

        partitions = [m.partition for m, _ in pending]
        await self._retries.handle(
            self.topic.name, self.table, partitions, insert, f"insert into {self.table}"
        )
        return refused[0] if refused else None


def stall_alert(stall: Stall) -> Alert:
    """The operator's alert for a stall: which topic and partitions, since when, and why."""
    now = utc_now()
    partitions = ",".join(str(p) for p in stall.partitions)
    since = stall.since.isoformat(timespec="seconds")
    return Alert(
        alert_id=f"pipeline-stalled:{stall.topic}:{partitions}:{int(stall.since.timestamp())}",
        alert_type=AlertType.PIPELINE_STALLED,
        severity=Severity.HIGH,
        community_id=PLATFORM_COMMUNITY,
        subject_kind=SubjectKind.PIPELINE,
        subject=f"{stall.topic}/{partitions}"[:200],
        first_seen=stall.since,
        last_seen=now,
        explanation=(
            f"Pipeline stalled: {stall.topic} partition {partitions} has not been written to "
            f"{stall.table} since {since}: {stall.error}. The sink keeps retrying and loses "
            "nothing, but the table and the queries on it lag until ClickHouse accepts the insert."
        ),
        explanation_zh=(
            f"数据管道停滞：{stall.topic} 分区 {partitions} 自 {since} 起无法写入 "
            f"{stall.table}：{stall.error}。系统持续重试，数据不会丢失，"
            "但在 ClickHouse 恢复写入前，该表及相关查询的数据会滞后。"
        ),
        raised_at=now,
        updated_at=now,
        source_received_at=now,
    )


async def isolate(
    items: Sequence[T], store: Callable[[Sequence[T]], Awaitable[str | None]]
) -> list[tuple[T, str]]:
    """Stores `items`, halving on failure until each culprit is alone; returns the culprits
    with why they failed. `store` returns None once stored, else the reason."""
    if not items:
        return []
    reason = await store(items)
    if reason is None:
        return []
    if len(items) == 1:
        return [(items[0], reason)]
    middle = len(items) // 2
    return await isolate(items[:middle], store) + await isolate(items[middle:], store)


async def _unwatched(stall: Stall) -> None:
    """No alert to raise: /healthz still shows the stall."""


def _dead_letter(m: Message) -> DeadLetter:
    try:
        return DeadLetter.from_headers(m.headers, m.key, m.value)
    except (KeyError, ValueError) as exc:
        raise DecodeError(f"dead letter without valid pingan headers: {exc}") from None


def _rows(
    decoded: Sequence[tuple[Message, Record | DeadLetter | DecodeError]],
) -> tuple[list[Pending], list[DeadLetter]]:
    rows: list[Pending] = []
    rejected: list[DeadLetter] = []
    for m, item in decoded:
        if isinstance(item, DecodeError):
            reason = item.reason
        else:
            try:
                row = item.row()
            except Exception as exc:  # any failure of one record isolates that record
                reason = f"cannot make a row: {exc}"
            else:
                row["kafka_partition"] = m.partition
                row["kafka_offset"] = m.offset
                rows.append((m, row))
                continue
        rejected.append(DeadLetter.rejected(m.topic, m.partition, m.offset, m.key, m.value, reason))
    return rows, rejected

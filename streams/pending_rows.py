"""Rows the rules have already seen, waiting to fill ClickHouse's batch.

A worker that runs both the rules and the sink (role `all`) takes small batches so that an
event waits at most `rule_batch_seconds` for its alert, while ClickHouse wants few, large
inserts. The rules run as each small batch arrives; its rows gather here and are written
once they are `max_age` old or `max_rows` many. Only then are their messages acknowledged,
so a committed offset still means "stored", and a crash replays what was pending: the rules
skip what their state says they applied, the sink skips what is stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from schemas.codec import DecodeError
from schemas.events import Record
from streams.sink import Message

T = TypeVar("T")

Decoded = Record | DecodeError
WriteFn = Callable[[Sequence[Message], Sequence[Decoded]], Awaitable[object]]
AcknowledgeFn = Callable[[Sequence[T]], Awaitable[None]]


class PendingRows(Generic[T]):
    """One topic's decoded messages and their acknowledgement tokens (Faust events), in
    offset order. Writes are serialised, and an `add` beyond `max_rows` waits for one (the
    rules' backpressure while ClickHouse is slow or retrying)."""

    def __init__(
        self,
        write: WriteFn,
        acknowledge: AcknowledgeFn[T],
        max_rows: int,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._acknowledge = acknowledge
        self._max_rows = max_rows
        self._max_age = max_age
        self._clock = clock
        self._messages: list[Message] = []
        self._decoded: list[Decoded] = []
        self._tokens: list[T] = []
        self._since: float | None = None
        self._writing = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._messages)

    async def add(
        self, messages: Sequence[Message], decoded: Sequence[Decoded], tokens: Sequence[T]
    ) -> None:
        if self._since is None:
            self._since = self._clock()
        self._messages += messages
        self._decoded += decoded
        self._tokens += tokens
        if len(self._messages) >= self._max_rows:
            await self.write()

    def due(self) -> bool:
        if self._since is None:
            return False
        return len(self) >= self._max_rows or self._clock() - self._since >= self._max_age

    async def write_if_due(self) -> None:
        if self.due():
            await self.write()

    async def write(self) -> None:
        """Writes what is pending now (retried by `write` until stored), then acknowledges it;
        what is added meanwhile waits for the next write."""
        async with self._writing:
            if not self._messages:
                return
            messages, decoded, tokens = self._messages, self._decoded, self._tokens
            self._messages, self._decoded, self._tokens = [], [], []
            self._since = None
            await self._write(messages, decoded)
            await self._acknowledge(tokens)

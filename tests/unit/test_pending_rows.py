"""PendingRows: the rows the rules have seen wait for the table's batch, and their messages
are acknowledged only after they are written."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from schemas.codec import DecodeError
from streams.pending_rows import Decoded, PendingRows
from streams.sink import Message


def _messages(*offsets: int) -> list[Message]:
    return [Message("t", 0, o, None, b"{}", {}) for o in offsets]


def _decoded(n: int) -> list[Decoded]:
    return [DecodeError("not a row") for _ in range(n)]


class Table:
    """Records what was written and acknowledged, in order; a write can be held open."""

    def __init__(self) -> None:
        self.log: list[tuple[str, list[int]]] = []
        self.hold: asyncio.Event | None = None

    async def write(self, messages: Sequence[Message], decoded: Sequence[Decoded]) -> None:
        assert len(messages) == len(decoded)
        if self.hold is not None:
            await self.hold.wait()
        self.log.append(("write", [m.offset for m in messages]))

    async def acknowledge(self, tokens: Sequence[int]) -> None:
        self.log.append(("ack", list(tokens)))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _pending(table: Table, clock: Clock, max_rows: int = 10) -> PendingRows[int]:
    return PendingRows(table.write, table.acknowledge, max_rows, max_age=0.5, clock=clock)


def test_rows_wait_for_their_age_then_are_written_before_they_are_acknowledged() -> None:
    async def run() -> list[tuple[str, list[int]]]:
        table, clock = Table(), Clock()
        pending = _pending(table, clock)
        await pending.add(_messages(1, 2), _decoded(2), [1, 2])
        clock.now += 0.3
        await pending.add(_messages(3), _decoded(1), [3])
        await pending.write_if_due()
        assert table.log == []
        clock.now += 0.2
        await pending.write_if_due()
        return table.log

    assert asyncio.run(run()) == [("write", [1, 2, 3]), ("ack", [1, 2, 3])]


def test_a_full_batch_is_written_at_once_whatever_its_age() -> None:
    async def run() -> list[tuple[str, list[int]]]:
        table, clock = Table(), Clock()
        pending = _pending(table, clock, max_rows=3)
        await pending.add(_messages(1, 2), _decoded(2), [1, 2])
        await pending.add(_messages(3, 4), _decoded(2), [3, 4])
        assert len(pending) == 0
        return table.log

    assert asyncio.run(run()) == [("write", [1, 2, 3, 4]), ("ack", [1, 2, 3, 4])]


def test_rows_added_during_a_write_wait_for_the_next_one() -> None:
    async def run() -> list[tuple[str, list[int]]]:
        table, clock = Table(), Clock()
        pending = _pending(table, clock)
        await pending.add(_messages(1), _decoded(1), [1])
        table.hold = asyncio.Event()
        first = asyncio.create_task(pending.write())
        await asyncio.sleep(0)
        await pending.add(_messages(2), _decoded(1), [2])
        assert not pending.due()
        table.hold.set()
        await first
        assert table.log == [("write", [1]), ("ack", [1])]
        clock.now += 0.5
        await pending.write_if_due()
        return table.log

    assert asyncio.run(run())[2:] == [("write", [2]), ("ack", [2])]


def test_a_write_that_never_finishes_acknowledges_nothing() -> None:
    async def run() -> list[tuple[str, list[int]]]:
        table, clock = Table(), Clock()
        pending = _pending(table, clock)
        await pending.add(_messages(1), _decoded(1), [1])
        table.hold = asyncio.Event()
        write = asyncio.create_task(pending.write())
        await asyncio.sleep(0)
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
        return table.log

    assert asyncio.run(run()) == []

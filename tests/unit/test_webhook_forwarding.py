"""Forwarding to Kafka: answered only when acknowledged, back-pressure, retries once.

The publisher here is a stand-in whose acknowledgements the test releases, so the
forwarder's bookkeeping is checked without a broker (the integration tests use one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest
from aiokafka.errors import KafkaConnectionError

from ingest.http.forwarding import Forwarder
from ingest.http.recent import RecentEvents
from ingest.http.refusal import Refusal
from schemas.events import AccessMethod, DoorAccess, DoorKind, Event, utc_now


class HeldPublisher:
    """Acknowledges a publish when the test says so (or fails it)."""

    def __init__(self) -> None:
        self.sent: list[list[str]] = []
        self.release = asyncio.Event()
        self.failure: Exception | None = None

    async def publish_many(self, records: Sequence[Event]) -> int:
        self.sent.append([r.event_id for r in records])
        await self.release.wait()
        if self.failure is not None:
            raise self.failure
        return len(records)


NOW = utc_now()


def door(event_id: str) -> DoorAccess:
    """The same id gives the same event (a device's retry)."""
    return DoorAccess(
        event_id=event_id,
        community_id="c01",
        occurred_at=NOW - timedelta(seconds=1),
        received_at=NOW,
        door_id="u1",
        door_kind=DoorKind.UNIT_DOOR,
        method=AccessMethod.CARD,
        granted=True,
    )


def forwarder(publisher: HeldPublisher, timeout: float = 5.0, max_pending: int = 100) -> Forwarder:
    return Forwarder(
        publisher,  # type: ignore[arg-type]
        RecentEvents(1000),
        timeout=timeout,
        max_pending=max_pending,
        retry_after=7,
    )


async def test_answer_waits_for_the_acknowledgement() -> None:
    publisher = HeldPublisher()
    forward = asyncio.ensure_future(forwarder(publisher).forward([door("a"), door("b")]))
    await asyncio.sleep(0)
    assert not forward.done()
    publisher.release.set()
    forwarded = await forward
    assert (forwarded.published, forwarded.duplicates) == (2, 0)
    assert publisher.sent == [["a", "b"]]


async def test_concurrent_copies_wait_for_one_publish() -> None:
    publisher = HeldPublisher()
    gate = forwarder(publisher)
    copies = [asyncio.ensure_future(gate.forward([door("a")])) for _ in range(5)]
    await asyncio.sleep(0)
    publisher.release.set()
    results = await asyncio.gather(*copies)
    assert sum(r.published for r in results) == 1
    assert publisher.sent == [["a"]]


async def test_too_many_waiting_events_get_429() -> None:
    publisher = HeldPublisher()
    gate = forwarder(publisher, max_pending=3)
    waiting = asyncio.ensure_future(gate.forward([door("a"), door("b")]))
    await asyncio.sleep(0)
    with pytest.raises(Refusal) as caught:
        await gate.forward([door("c"), door("d")])
    assert (caught.value.status, caught.value.retry_after) == (429, 7)
    assert caught.value.message.startswith("2 events are already waiting for Kafka")
    publisher.release.set()
    await waiting
    assert (await gate.forward([door("c"), door("d")])).published == 2


async def test_kafka_failure_gets_429_and_the_retry_publishes() -> None:
    publisher = HeldPublisher()
    publisher.failure = KafkaConnectionError("broker gone")
    publisher.release.set()
    gate = forwarder(publisher)
    with pytest.raises(Refusal) as caught:
        await gate.forward([door("a")])
    assert caught.value.status == 429
    assert "Kafka refused the write" in caught.value.message
    publisher.failure = None
    assert (await gate.forward([door("a")])).published == 1
    assert publisher.sent == [["a"], ["a"]]


async def test_late_acknowledgement_makes_the_retry_a_duplicate() -> None:
    publisher = HeldPublisher()
    gate = forwarder(publisher, timeout=0.05)
    with pytest.raises(Refusal) as caught:
        await gate.forward([door("a")])
    assert caught.value.message.startswith("Kafka did not acknowledge within 0.05 s")
    publisher.release.set()
    retry = await gate.forward([door("a")])
    assert (retry.published, retry.duplicates) == (0, 1)
    assert gate.pending == 0

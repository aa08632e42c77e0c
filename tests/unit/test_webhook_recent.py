"""The recent-event memory that makes device retries idempotent."""

from __future__ import annotations

import asyncio

from ingest.http.recent import RecentEvents, event_key
from schemas.events import BraceletReading, DoorAccess, utc_now


async def test_published_ids_are_duplicates_until_forgotten() -> None:
    recent = RecentEvents(capacity=2)
    keys = [("door_access", "a"), ("door_access", "b"), ("door_access", "c")]
    publish: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    assert recent.sort(keys).fresh == [0, 1, 2]
    recent.hold(keys, publish)
    recent.settle(keys, published=True)
    assert len(recent) == 2
    again = recent.sort(keys)
    assert again.fresh == [0]
    assert again.duplicates == 2


async def test_in_flight_ids_are_waited_for_not_published_twice() -> None:
    recent = RecentEvents(capacity=10)
    key = ("vehicle_passage", "p-1")
    publish: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    recent.hold([key], publish)
    retry = recent.sort([key])
    assert retry.fresh == []
    assert retry.in_flight == {publish}
    assert retry.duplicates == 1


async def test_failed_publish_is_forgotten_so_a_retry_publishes() -> None:
    recent = RecentEvents(capacity=10)
    key = ("vehicle_passage", "p-1")
    publish: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    recent.hold([key], publish)
    recent.settle([key], published=False)
    assert recent.sort([key]).fresh == [0]


def test_repeated_id_within_one_batch_counts_once() -> None:
    recent = RecentEvents(capacity=10)
    sorted_ = recent.sort([("camera_analytics", "x"), ("camera_analytics", "x")])
    assert (sorted_.fresh, sorted_.duplicates) == ([0], 1)


def test_same_id_of_another_kind_or_community_is_a_different_event() -> None:
    now = utc_now()
    fields = {"event_id": "x", "occurred_at": now, "received_at": now, "granted": True}
    door = DoorAccess(community_id="c01", door_id="d", door_kind="gate", method="card", **fields)
    elsewhere = door.model_copy(update={"community_id": "c02"})
    reading = BraceletReading(
        community_id="c01", bracelet_id="b", wearer="elderly", battery=0.5, **fields
    )
    keys = [event_key(door), event_key(elsewhere), event_key(reading), event_key(door)]
    sorted_ = RecentEvents(capacity=10).sort(keys)
    assert (sorted_.fresh, sorted_.duplicates) == ([0, 1, 2], 1)

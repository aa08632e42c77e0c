"""Event ids this process published lately or is publishing now: device retries are
answered without publishing again.

The memory is bounded (oldest forgotten first) and per process, so a retry after a
restart, or to another ingest process, is published again; the ClickHouse event tables
are ReplacingMergeTree on event_id, so such a duplicate collapses there.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemas.events import Event

EventKey = tuple[str, str, datetime, str]
"""(kind, community_id, occurred_at, event_id): what ClickHouse collapses a row on (one
table per kind, ordered by community, time and id), so a duplicate here is one there, and
a device of another community cannot shadow an id it guessed."""


def event_key(event: Event) -> EventKey:
    return (event.kind, event.community_id, event.occurred_at, event.event_id)


@dataclass
class Sorted:
    """Where each event of a request stands."""

    fresh: list[int] = field(default_factory=list)
    """Indexes of events to publish now."""
    in_flight: set[asyncio.Future[object]] = field(default_factory=set)
    """Publishes of other requests carrying some of these events: wait for them too."""
    duplicates: int = 0


class RecentEvents:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._published: OrderedDict[EventKey, None] = OrderedDict()
        self._in_flight: dict[EventKey, asyncio.Future[object]] = {}

    def __len__(self) -> int:
        return len(self._published)

    def sort(self, keys: Sequence[EventKey]) -> Sorted:
        """Call `hold` for the fresh ones before the next await, so concurrent retries see them."""
        result = Sorted()
        seen: set[EventKey] = set()
        for index, key in enumerate(keys):
            if key in seen or key in self._published:
                result.duplicates += 1
            elif key in self._in_flight:
                result.duplicates += 1
                result.in_flight.add(self._in_flight[key])
            else:
                result.fresh.append(index)
            seen.add(key)
        return result

    def hold(self, keys: Iterable[EventKey], publish: asyncio.Future[object]) -> None:
        for key in keys:
            self._in_flight[key] = publish

    def settle(self, keys: Iterable[EventKey], published: bool) -> None:
        """Published ids are remembered; failed ones are forgotten so a retry publishes."""
        for key in keys:
            self._in_flight.pop(key, None)
            if published:
                self._published[key] = None
                self._published.move_to_end(key)
        while len(self._published) > self._capacity:
            self._published.popitem(last=False)

"""Wake-ups: when each stored key next needs time to pass over it, per owner (a rule, the
parking book) and partition.

A key holds one wake-up, its earliest: scheduling a later one keeps the earlier, and the
owner, woken, checks its own state and schedules again if it is not yet due. So a heap entry
superseded by an earlier schedule is skipped when popped, never acted on twice.

A wake-up already due when an event makes it is held instead (`hold`): the event came late,
as a device's buffered upload does, minutes behind the watermark, and the key's next event
may well be the next of that upload. It is scheduled once the partition has had an event of
another key (`release_held`), and woken at the one after.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from datetime import datetime


class WakeUps:
    def __init__(self) -> None:
        self._heaps: dict[int, dict[str, list[tuple[datetime, str]]]] = defaultdict(dict)
        self._scheduled: dict[tuple[str, str], datetime] = {}
        self._next_due: dict[int, datetime] = {}
        self._held: dict[tuple[str, str], tuple[int, datetime]] = {}
        self._held_by_this_event: set[tuple[str, str]] = set()

    def schedule(self, owner: str, partition: int, key: str, at: datetime) -> None:
        if self._held.pop((owner, key), None) is not None:
            self._held_by_this_event.discard((owner, key))
        current = self._scheduled.get((owner, key))
        if current is not None and current <= at:
            return
        self._scheduled[(owner, key)] = at
        heapq.heappush(self._heaps[partition].setdefault(owner, []), (at, key))
        due = self._next_due.get(partition)
        if due is None or at < due:
            self._next_due[partition] = at

    def hold(self, owner: str, partition: int, key: str, at: datetime) -> None:
        """A wake-up that the event being folded made already due; any earlier one of the key
        no longer counts."""
        self._scheduled.pop((owner, key), None)
        self._held[(owner, key)] = (partition, at)
        self._held_by_this_event.add((owner, key))

    def release_held(self, partition: int) -> None:
        """After each event: what earlier events of the partition held is scheduled."""
        if not self._held:
            return
        released = [
            held
            for held, (p, _) in self._held.items()
            if p == partition and held not in self._held_by_this_event
        ]
        self._held_by_this_event.clear()
        for owner, key in released:
            _, at = self._held[(owner, key)]
            self.schedule(owner, partition, key, at)

    def next_due(self, partition: int) -> datetime | None:
        """The earliest wake-up of `partition` (perhaps superseded): nothing is due before."""
        return self._next_due.get(partition)

    def pop_due(self, owner: str, partition: int, until: datetime) -> list[tuple[datetime, str]]:
        """The owner's keys due at or before `until`, earliest first, now unscheduled."""
        heap = self._heaps[partition].get(owner)
        due: list[tuple[datetime, str]] = []
        while heap and heap[0][0] <= until:
            at, key = heapq.heappop(heap)
            if self._scheduled.get((owner, key)) == at:
                del self._scheduled[(owner, key)]
                due.append((at, key))
        self._settle(partition)
        return due

    def _settle(self, partition: int) -> None:
        tops = [heap[0][0] for heap in self._heaps[partition].values() if heap]
        if tops:
            self._next_due[partition] = min(tops)
        else:
            self._next_due.pop(partition, None)

    def clear(self) -> None:
        """Partitions moved: the owners schedule their stored keys again."""
        self._heaps.clear()
        self._scheduled.clear()
        self._next_due.clear()
        self._held.clear()
        self._held_by_this_event.clear()

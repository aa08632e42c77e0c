"""Event time per partition: what absence rules and the parking book take as "now".

Nothing here reads the wall clock, so a replay raises the same alerts. A partition's
watermark for a set of input topics is the latest `occurred_at` seen on each of them, the
slowest first, minus the allowed lateness. A district-wide clock (the plate streams, fed
from every community partition) waits until every source partition has been heard and then
follows the slowest.

A topic's partition whose events jump ahead by more than the stream gap carried nothing at
all in between: the platform, not its devices, was dark (ingest down, network cut,
everything restarted). `dark_before` names that stretch before the watermark leaps over
it. It is judged on one topic at a time, in the order its one agent reads it: the topics
of a partition are read by agents of their own, at their own pace while catching up, and
one topic read ahead of another is no silence.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from faust.types import EventT

from schemas.topics import EVENT_PARTITIONS


class PartitionClocks:
    def __init__(
        self, lateness: timedelta, stream_gap: timedelta, district_wide: bool = False
    ) -> None:
        self.lateness = lateness
        self.stream_gap = stream_gap
        self.district_wide = district_wide
        self._latest: dict[tuple[str, int], datetime] = {}
        """(topic, clock partition) → the latest event time it carried."""
        self._newest: dict[int, datetime] = {}
        self._heard: dict[tuple[str, int], datetime] = {}
        """(topic, partition) → the latest event time, for telling a dark stretch."""
        self._last_source: dict[int, EventT] = {}

    def observe(
        self,
        topic: str,
        partition: int,
        at: datetime,
        source: EventT,
        clock_partition: int | None = None,
    ) -> None:
        """`clock_partition`: for re-keyed passages, the community partition they came from."""
        key = (topic, partition if clock_partition is None else clock_partition)
        seen = self._latest.get(key)
        if seen is None or at > seen:
            self._latest[key] = at
        newest = self._newest.get(partition)
        if newest is None or at > newest:
            self._newest[partition] = at
        self._last_source[partition] = source

    def watermark(self, topics: Iterable[str], partition: int) -> datetime | None:
        """The event time up to which every one of `topics` has arrived on `partition` (on
        every source partition, for a district-wide clock); None before any has."""
        wanted = set(topics)
        if self.district_wide:
            seen = [at for (topic, _), at in self._latest.items() if topic in wanted]
            if len(seen) < EVENT_PARTITIONS:
                return None  # a source partition not heard from yet may still be far behind
        else:
            seen = [at for t in wanted if (at := self._latest.get((t, partition))) is not None]
        return min(seen) - self.lateness if seen else None

    def horizon(self, partition: int) -> datetime | None:
        """No watermark of `partition` can be past this: the cheap test before the per-topic
        watermarks of whether anything can be due at all."""
        if self.district_wide:
            clocks = self._latest.values()
            return min(clocks) - self.lateness if len(clocks) >= EVENT_PARTITIONS else None
        newest = self._newest.get(partition)
        return None if newest is None else newest - self.lateness

    def last_source(self, partition: int) -> EventT:
        """The message whose arrival last moved `partition`'s clock: what time passing acts
        for (its partition takes the writes, its offset is dead-lettered if a rule fails)."""
        return self._last_source[partition]

    def dark_before(self, topic: str, partition: int, at: datetime) -> timedelta | None:
        """Move the topic's partition's heard time to `at`; the silence before it when
        longer than the stream gap."""
        latest = self._heard.get((topic, partition))
        if latest is not None and at <= latest:
            return None
        self._heard[(topic, partition)] = at
        return at - latest if latest is not None and at - latest > self.stream_gap else None

    def heard_until(self, topic: str, partition: int, at: datetime) -> None:
        """After a (re)assignment: the latest event of the topic the partition's states had
        heard, where telling dark stretches resumes, so a gap across a restart is seen."""
        latest = self._heard.get((topic, partition))
        self._heard[(topic, partition)] = at if latest is None else max(at, latest)

    def reassigned(self) -> None:
        self._heard.clear()

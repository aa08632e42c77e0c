"""The district simulator: everyday events, injected incidents and broken messages, paced.

`batch` is pure (no Kafka, no sleeping) so tests drive it with chosen wall times; `run`
publishes the district's reference data, then paces batches against the wall clock and
publishes each batch in one `publish_many`.
"""

from __future__ import annotations

import asyncio
import contextlib
from bisect import insort
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest.simulator.clock import SimClock
from ingest.simulator.district import District
from ingest.simulator.everyday import HEARTBEAT_S, EverydayLife
from ingest.simulator.incidents import WATCHLIST_ONLY, IncidentLabel, Incidents, LabelLog
from ingest.simulator.malformed import MalformedMessage, MalformedSource
from pingan.platform.publisher import Publisher
from schemas.alerts import AlertType, WatchlistPlate
from schemas.events import Event, Record, utc_now
from schemas.topics import VEHICLE_PASSAGES

TICK_S = 0.05


@dataclass
class Batch:
    events: list[Event]
    malformed: list[MalformedMessage] = field(default_factory=list)
    labels: list[IncidentLabel] = field(default_factory=list)
    injected: int = 0
    """Events of the labelled incidents: extra to the rate, like the incidents."""


@dataclass
class SimulationReport:
    """What a run sent: everything in it was acknowledged by Kafka."""

    counts: Counter[str] = field(default_factory=Counter)
    incidents: int = 0
    malformed: int = 0
    reference: int = 0
    watchlist: int = 0
    wall_seconds: float = 0.0
    first_occurred_at: datetime | None = None
    last_occurred_at: datetime | None = None

    @property
    def events(self) -> int:
        return sum(self.counts.values())

    def add(self, batch: Batch) -> None:
        self.counts.update(event.kind for event in batch.events)
        self.incidents += len(batch.labels)
        self.malformed += len(batch.malformed)
        if batch.events:
            self.first_occurred_at = self.first_occurred_at or batch.events[0].occurred_at
            self.last_occurred_at = batch.events[-1].occurred_at

    def render(self) -> str:
        rate = self.events / self.wall_seconds if self.wall_seconds else 0.0
        lines = [
            f"simulated {self.events} events in {self.wall_seconds:.1f} s ({rate:.0f}/s)",
            *(f"  {kind:<18} {count:>9}" for kind, count in self.counts.most_common()),
            f"reference records published: {self.reference} (watchlist plates: {self.watchlist})",
            f"labelled incidents injected: {self.incidents}",
            f"malformed messages sent: {self.malformed}",
        ]
        if self.first_occurred_at and self.last_occurred_at:
            lines.append(
                f"event time: {self.first_occurred_at.isoformat()} .. "
                f"{self.last_occurred_at.isoformat()}"
            )
        return "\n".join(lines)


class Simulator:
    """Same district, clock and inputs give the same events, ids and labels."""

    def __init__(
        self,
        district: District,
        clock: SimClock,
        *,
        incident_every: float = 15.0,
        incident_kinds: Sequence[AlertType] = WATCHLIST_ONLY,
        malformed_every: int | None = None,
        labels_path: Path | None = None,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        if malformed_every is not None and malformed_every < 1:
            raise ValueError(f"malformed_every must be at least 1, got {malformed_every}")
        self.district = district
        self.clock = clock
        self.labels: list[IncidentLabel] = []
        self._everyday = EverydayLife(district, clock.start_ts, heartbeat_s)
        self._incidents = Incidents(district, incident_every, incident_kinds)
        self._malformed = MalformedSource(district)
        self._malformed_every = malformed_every
        self._label_log = LabelLog(labels_path) if labels_path else None
        self._run_id = f"sim-{district.seed}-{clock.start:%Y%m%dT%H%M%S}"
        self._sequence = 0
        self._scheduled_count = 0
        self._incident_count = 0
        self._malformed_count = 0

    @property
    def heartbeats_per_second(self) -> float:
        """Wall-clock rate of device telemetry alone: more than the rate starves activity."""
        return self._everyday.heartbeats_per_second * self.clock.speed

    def reference_records(self, added_at: datetime | None = None) -> list[Record]:
        return self.district.reference_records(added_at or utc_now())

    def batch(
        self, wall_from: float, wall_to: float, n: int, received_at: datetime | None = None
    ) -> Batch:
        """About `n` events over (wall_from, wall_to], in event-time order, plus incidents.

        Heartbeats, visitors' departures and occasions due by `wall_to` come out of the
        budget first (a device never skips one); everyday activity spreads evenly over what
        is left.
        Incidents are extra, so the rate stays as asked.
        """
        received_at = received_at or utc_now()
        until = self.clock.timestamp(wall_to)
        scheduled = self._everyday.due(until, received_at, self._scheduled_id)
        activity = max(0, n - len(scheduled))
        step = (wall_to - wall_from) / activity if activity else 0.0
        events: list[Event] = []
        malformed: list[MalformedMessage] = []
        for i in range(1, activity + 1):
            self._sequence += 1
            event_id = f"{self._run_id}-{self._sequence}"
            timestamp = self.clock.timestamp(wall_from + i * step)
            events.append(self._everyday.event(event_id, timestamp, received_at))
            if self._malformed_every and self._sequence % self._malformed_every == 0:
                malformed.append(self._broken(timestamp, received_at))
        scheduled += self._everyday.due(until, received_at, self._scheduled_id)
        batch = Batch(
            events=sorted([*events, *scheduled], key=lambda event: event.occurred_at),
            malformed=malformed,
        )
        for due in self._incidents.due(wall_to):
            self._inject(batch, self.clock.at(max(due, wall_from)), received_at)
        return batch

    def _scheduled_id(self) -> str:
        self._scheduled_count += 1
        return f"{self._run_id}-s{self._scheduled_count}"

    def events_between(self, wall_from: float, wall_to: float, n: int) -> list[Event]:
        return self.batch(wall_from, wall_to, n).events

    def _inject(self, batch: Batch, at: datetime, received_at: datetime) -> None:
        self._incident_count += 1
        events, label = self._incidents.next(
            f"{self._run_id}-w{self._incident_count}", at, received_at
        )
        for event in events:
            insort(batch.events, event, key=lambda event: event.occurred_at)
        batch.injected += len(events)
        batch.labels.append(label)
        self.labels.append(label)
        if self._label_log:
            self._label_log.append([label])

    def _broken(self, timestamp: float, received_at: datetime) -> MalformedMessage:
        self._malformed_count += 1
        event_id = f"{self._run_id}-m{self._malformed_count}"
        return self._malformed.next(event_id, datetime.fromtimestamp(timestamp, UTC), received_at)

    async def run(
        self,
        publisher: Publisher,
        rate: float,
        duration: float | None = None,
        stop_event: asyncio.Event | None = None,
    ) -> SimulationReport:
        """Publish the reference data, then `rate` events/s until `duration` or `stop_event`.

        The count due is recomputed from elapsed time each tick, so a slow publish is
        caught up by a bigger next batch instead of lowering the rate.
        """
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        stop = stop_event or asyncio.Event()
        report = SimulationReport()
        reference = self.reference_records()
        report.reference = await publisher.publish_many(reference)
        report.watchlist = sum(isinstance(record, WatchlistPlate) for record in reference)
        loop = asyncio.get_running_loop()
        began = loop.time()
        done_wall = 0.0
        emitted = 0
        while True:
            tick_began = loop.time()
            elapsed = tick_began - began
            finished = stop.is_set() or (duration is not None and elapsed >= duration)
            if duration is not None:
                elapsed = min(elapsed, duration)
            due = max(0, int(rate * elapsed) - emitted)
            batch = self.batch(done_wall, elapsed, due)
            await self._publish(publisher, batch)
            report.add(batch)
            emitted += len(batch.events) - batch.injected
            done_wall = elapsed
            if finished:
                break
            idle = TICK_S - (loop.time() - tick_began)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(idle, 0.0))
        report.wall_seconds = loop.time() - began
        return report

    @staticmethod
    async def _publish(publisher: Publisher, batch: Batch) -> None:
        if batch.events:
            await publisher.publish_many(batch.events)
        await asyncio.gather(
            *(
                publisher.publish_raw(VEHICLE_PASSAGES, message.key, message.value, message.headers)
                for message in batch.malformed
            )
        )

"""The parking book: every plate's ledger per community, in a RocksDB-backed Faust table
whose changelog is co-partitioned with the vehicle passages, so a restarted worker (or
the one taking over a partition) recovers the open sessions.

It runs inside the passages agent, after the rules and before the batch is acknowledged:
ledger changes (changelog) and sessions (`pingan.parking.sessions`) are staged on the
worker's `StagedWrites` and sent with the batch's other writes, and a ledger remembers
the last passage offset it applied, so a replay after a crash neither loses an open
session nor bills one twice. Time passes on event time: a partition's watermark is its
newest passage minus `PINGAN_RULE_LATENESS_SECONDS`, as for the absence rules.
"""

from __future__ import annotations

import heapq
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import faust
from faust.types import EventT

from pingan.platform.reference_data import ReferenceData
from pingan.platform.settings import Settings
from schemas.codec import encode
from schemas.events import VehiclePassage
from schemas.parking import ParkingSession, ParkingTariff
from schemas.reference import DISTRICT_DEFAULT
from schemas.topics import (
    EVENT_PARTITIONS,
    PARKING_SESSIONS,
    Topic,
)
from streams.engine import Arrival
from streams.faust_internals import acting_for, changelog_topic_name, write_changelog_first
from streams.parking.ledger import PlateLedger, Terms, Timing, record, tick, wake_at
from streams.parking.pairing import Read
from streams.staged_writes import StagedWrites

log = logging.getLogger(__name__)

TABLE = "parking-ledgers"
CACHE_LIMIT = 200_000
"""Decoded ledgers kept in memory; past this the cache restarts from RocksDB."""
DEFAULT_TARIFF = ParkingTariff(community_id=DISTRICT_DEFAULT)
BUILT_IN = "built-in"
"""`tariff_id` of sessions priced by DEFAULT_TARIFF (no community or district tariff)."""


def parking_changelog_topics(app_id: str) -> list[Topic]:
    """The ledger table's compacted changelog, created up front like every topic."""
    return [
        Topic(
            name=changelog_topic_name(app_id, TABLE),
            key="community_id:plate",
            partitions=EVENT_PARTITIONS,
            retention=None,
            record=None,
            table=None,
            compacted=True,
        )
    ]


class ParkingTerms:
    """Tariffs and passes from the reference data every worker holds (compacted topics)."""

    def __init__(self, reference: ReferenceData) -> None:
        self._reference = reference

    def tariff(self, community_id: str) -> tuple[str, ParkingTariff]:
        """The community's tariff, else the district default, else the built-in one."""
        for key in (community_id, DISTRICT_DEFAULT):
            tariff = self._reference.parking_tariff(key)
            if tariff is not None:
                return key, tariff
        return BUILT_IN, DEFAULT_TARIFF

    def of(self, community_id: str, plate: str) -> Terms:
        tariff_id, tariff = self.tariff(community_id)
        monthly_pass = self._reference.parking_pass(community_id, plate)
        vehicle = self._reference.resident_vehicle(plate)
        return Terms(
            tariff_id=tariff_id,
            tariff=tariff,
            monthly_pass=monthly_pass,
            resident=vehicle is not None and vehicle.community_id == community_id,
        )


class ParkingBook:
    def __init__(
        self, app: faust.App, reference: ReferenceData, staged: StagedWrites, settings: Settings
    ) -> None:
        self.table = app.Table(
            TABLE, default=None, partitions=EVENT_PARTITIONS, key_type=bytes, value_type=bytes
        )
        self.terms = ParkingTerms(reference)
        self.timing = Timing(
            duplicate_within=timedelta(seconds=settings.parking_duplicate_read_seconds),
            settle_after=timedelta(hours=settings.parking_settle_hours),
        )
        self.lateness = timedelta(seconds=settings.rule_lateness_seconds)
        self._staged = staged
        self._cache: dict[str, PlateLedger | None] = {}
        self._newest: dict[int, datetime] = {}
        self._last_source: dict[int, EventT] = {}
        self._wakeups: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
        self._scheduled: dict[str, datetime] = {}
        self._needs_schedule = True

    def reassigned(self) -> None:
        """Partitions moved: cached ledgers may belong to another worker now; reload."""
        self._cache.clear()
        self._wakeups.clear()
        self._scheduled.clear()
        self._newest.clear()
        self._needs_schedule = True

    def fold(self, arrivals: Sequence[Arrival]) -> None:
        """Stage the ledger changes and sessions of a batch; the caller's flush sends them."""
        if len(self._cache) > CACHE_LIMIT:
            self._cache.clear()
        if self._needs_schedule and arrivals:
            self._schedule_stored()
        for arrival in arrivals:
            passage = arrival.event
            if not isinstance(passage, VehiclePassage):
                continue
            self._observe(arrival)
            self._advance(arrival.partition)
            with acting_for(arrival.source):
                self._record(passage, arrival)

    def _record(self, passage: VehiclePassage, arrival: Arrival) -> None:
        key = f"{passage.community_id}:{passage.plate}"
        ledger = self._get(key)
        if ledger is not None and ledger.applied >= arrival.offset:
            return
        if ledger is None:
            ledger = PlateLedger(community_id=passage.community_id, plate=passage.plate)
        terms = self.terms.of(passage.community_id, passage.plate)
        ledger, sessions = record(ledger, Read.of(passage), terms, self.timing)
        ledger = ledger.model_copy(
            update={"applied": arrival.offset, "partition": arrival.partition}
        )
        self._put(key, ledger)
        self._emit(sessions)
        self._schedule(key, ledger, terms.tariff)

    def _observe(self, arrival: Arrival) -> None:
        newest = self._newest.get(arrival.partition)
        if newest is None or arrival.event.occurred_at > newest:
            self._newest[arrival.partition] = arrival.event.occurred_at
        self._last_source[arrival.partition] = arrival.source

    def _advance(self, partition: int) -> None:
        """Tick the ledgers whose wake-up the partition's watermark has reached."""
        heap = self._wakeups.get(partition)
        if not heap:
            return
        watermark = self._newest[partition] - self.lateness
        while heap and heap[0][0] <= watermark:
            wake, key = heapq.heappop(heap)
            if self._scheduled.get(key) != wake:
                continue
            del self._scheduled[key]
            with acting_for(self._last_source[partition]):
                self._tick(key, watermark)

    def _tick(self, key: str, watermark: datetime) -> None:
        ledger = self._get(key)
        if ledger is None:
            return
        terms = self.terms.of(ledger.community_id, ledger.plate)
        due = wake_at(ledger, terms.tariff, self.timing)
        if due is None or due > watermark:
            self._schedule(key, ledger, terms.tariff)
            return
        ticked, sessions = tick(ledger, watermark, terms, self.timing)
        self._put(key, ticked)
        self._emit(sessions)
        if ticked is not None:
            later = wake_at(ticked, terms.tariff, self.timing)
            if later is not None and later <= watermark:
                log.error("parking ledger %s did not move its wake-up past the watermark", key)
            else:
                self._schedule(key, ticked, terms.tariff)

    def _schedule(self, key: str, ledger: PlateLedger, tariff: ParkingTariff) -> None:
        wake = wake_at(ledger, tariff, self.timing)
        if wake is None:
            return
        current = self._scheduled.get(key)
        if current is not None and current <= wake:
            return
        self._scheduled[key] = wake
        heapq.heappush(self._wakeups[ledger.partition], (wake, key))

    def _schedule_stored(self) -> None:
        """After (re)assignment the table holds ledgers whose wake-ups nobody scheduled."""
        self._needs_schedule = False
        for raw_key, raw in self.table.items():
            if raw is not None:
                ledger = PlateLedger.model_validate_json(raw)
                self._schedule(raw_key.decode(), ledger, self.terms.tariff(ledger.community_id)[1])

    def _get(self, key: str) -> PlateLedger | None:
        if key in self._cache:
            return self._cache[key]
        raw = self.table.get(key.encode())
        ledger = None if raw is None else PlateLedger.model_validate_json(raw)
        self._cache[key] = ledger
        return ledger

    def _put(self, key: str, ledger: PlateLedger | None) -> None:
        """Changelog first, local RocksDB once the changelog has it (as the rule engine)."""
        existed = self._get(key) is not None
        self._cache[key] = ledger
        if ledger is None and not existed:
            return
        value = None if ledger is None else ledger.model_dump_json().encode()
        write_changelog_first(self.table, self._staged, key.encode(), value)

    def _emit(self, sessions: Sequence[ParkingSession]) -> None:
        for session in sessions:
            self._staged.forward(
                PARKING_SESSIONS.name,
                PARKING_SESSIONS.partitions,
                session.community_id.encode(),
                encode(session),
                [],
            )

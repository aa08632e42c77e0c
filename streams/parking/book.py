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

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import faust

from pingan.platform.reference_data import ReferenceData
from pingan.platform.settings import Settings
from schemas.codec import encode
from schemas.events import VehiclePassage
from schemas.parking import ParkingSession, ParkingTariff
from schemas.reference import DISTRICT_DEFAULT
from schemas.topics import (
    EVENT_PARTITIONS,
    PARKING_SESSIONS,
    VEHICLE_PASSAGES,
    Topic,
)
from streams.engine import Arrival
from streams.faust_internals import acting_for, changelog_topic_name
from streams.parking.ledger import PlateLedger, Terms, Timing, record, tick, wake_at
from streams.parking.pairing import Read
from streams.staged_writes import StagedWrites
from streams.state.applied import already_applied, applying
from streams.state.clock import PartitionClocks
from streams.state.store import KeyedStore
from streams.state.timers import WakeUps

log = logging.getLogger(__name__)

TABLE = "parking-ledgers"
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
        table = app.Table(
            TABLE, default=None, partitions=EVENT_PARTITIONS, key_type=bytes, value_type=bytes
        )
        self.ledgers = KeyedStore(table, staged, PlateLedger.model_validate_json, _encode)
        self.terms = ParkingTerms(reference)
        self.timing = Timing(
            duplicate_within=timedelta(seconds=settings.parking_duplicate_read_seconds),
            settle_after=timedelta(hours=settings.parking_settle_hours),
        )
        self._staged = staged
        self.clocks = PartitionClocks(
            timedelta(seconds=settings.rule_lateness_seconds),
            timedelta(seconds=settings.rule_stream_gap_seconds),
        )
        self.wake_ups = WakeUps()
        self._needs_schedule = True

    def reassigned(self) -> None:
        """Partitions moved: cached ledgers may belong to another worker now; reload."""
        self.ledgers.forget()
        self.wake_ups.clear()
        self.clocks.reassigned()
        self._needs_schedule = True

    def fold(self, arrivals: Sequence[Arrival]) -> None:
        """Stage the ledger changes and sessions of a batch; the caller's flush sends them."""
        if self._needs_schedule and arrivals:
            self._schedule_stored()
        for arrival in arrivals:
            passage = arrival.event
            if not isinstance(passage, VehiclePassage):
                continue
            self.clocks.observe(
                arrival.topic, arrival.partition, passage.occurred_at, arrival.source
            )
            self._advance(arrival.partition)
            with acting_for(arrival.source):
                self._record(passage, arrival)

    def _record(self, passage: VehiclePassage, arrival: Arrival) -> None:
        key = f"{passage.community_id}:{passage.plate}"
        ledger = self.ledgers.get(key)
        if ledger is not None and already_applied(ledger.applied, arrival.topic, arrival.offset):
            return
        if ledger is None:
            ledger = PlateLedger(community_id=passage.community_id, plate=passage.plate)
        terms = self.terms.of(passage.community_id, passage.plate)
        ledger, sessions = record(ledger, Read.of(passage), terms, self.timing)
        ledger = ledger.model_copy(
            update={
                "applied": applying(ledger.applied, arrival.topic, arrival.offset),
                "partition": arrival.partition,
            }
        )
        self.ledgers.put(key, ledger)
        self._emit(sessions)
        self._schedule(key, ledger, terms.tariff)

    def _advance(self, partition: int) -> None:
        """Tick the ledgers whose wake-up the partition's watermark has reached."""
        watermark = self.clocks.watermark([VEHICLE_PASSAGES.name], partition)
        if watermark is None:
            return
        due = self.wake_ups.pop_due(TABLE, partition, watermark)
        if not due:
            return
        with acting_for(self.clocks.last_source(partition)):
            for _, key in due:
                self._tick(key, watermark)

    def _tick(self, key: str, watermark: datetime) -> None:
        ledger = self.ledgers.get(key)
        if ledger is None:
            return
        terms = self.terms.of(ledger.community_id, ledger.plate)
        due = wake_at(ledger, terms.tariff, self.timing)
        if due is None or due > watermark:
            self._schedule(key, ledger, terms.tariff)
            return
        ticked, sessions = tick(ledger, watermark, terms, self.timing)
        self.ledgers.put(key, ticked)
        self._emit(sessions)
        if ticked is not None:
            later = wake_at(ticked, terms.tariff, self.timing)
            if later is not None and later <= watermark:
                log.error("parking ledger %s did not move its wake-up past the watermark", key)
            else:
                self._schedule(key, ticked, terms.tariff)

    def _schedule(self, key: str, ledger: PlateLedger, tariff: ParkingTariff) -> None:
        wake = wake_at(ledger, tariff, self.timing)
        if wake is not None:
            self.wake_ups.schedule(TABLE, ledger.partition, key, wake)

    def _schedule_stored(self) -> None:
        """After (re)assignment the table holds ledgers whose wake-ups nobody scheduled."""
        self._needs_schedule = False
        for key, ledger in self.ledgers.stored():
            self._schedule(key, ledger, self.terms.tariff(ledger.community_id)[1])

    def _emit(self, sessions: Sequence[ParkingSession]) -> None:
        for session in sessions:
            self._staged.forward(
                PARKING_SESSIONS.name,
                PARKING_SESSIONS.partitions,
                session.community_id.encode(),
                encode(session),
                [],
            )


def _encode(ledger: PlateLedger) -> bytes:
    return ledger.model_dump_json().encode()

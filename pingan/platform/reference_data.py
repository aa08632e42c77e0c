"""Reference data every worker holds whole, read from the compacted reference topics.

This is what a Faust GlobalTable does; with faust-streaming 0.15.3 a GlobalTable whose
changelog is an existing topic stalled the consumer group's partition assignment
(measured), so the topics are read here with one group-less consumer instead. A new
record replaces the one with the same key; a tombstone removes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from mode import Service

from pingan.platform.district import load_communities
from pingan.platform.settings import kafka_security
from schemas.alerts import WatchlistFace, WatchlistPlate
from schemas.codec import DecodeError, decode
from schemas.events import Record
from schemas.parking import ParkingPass, ParkingTariff, pass_key
from schemas.reference import (
    BraceletWearer,
    Community,
    Device,
    Resident,
    ResidentVehicle,
    RuleSettings,
)
from schemas.topics import (
    BRACELET_WEARERS,
    DEVICES,
    PARKING_PASSES,
    PARKING_TARIFFS,
    REFERENCE_TOPICS,
    RESIDENT_VEHICLES,
    RESIDENTS,
    RULE_SETTINGS,
    WATCHLIST_FACES,
    WATCHLIST_PLATES,
    Topic,
)

log = logging.getLogger(__name__)


class ReferenceData:
    """Records by topic and key, with the indexes rules look things up by."""

    def __init__(self, communities: Sequence[Community] | None = None) -> None:
        self.version = 0
        self._records: dict[str, dict[bytes, Record]] = {t.name: {} for t in REFERENCE_TOPICS}
        self._record_types = {t.name: t.record for t in REFERENCE_TOPICS}
        self._communities = {c.community_id: c for c in communities or load_communities()}
        self._units: dict[str, list[Resident]] | None = None
        self._places: dict[str, list[Device]] | None = None

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """One message of a reference topic; unreadable records are logged and skipped."""
        if key is None or topic not in self._records:
            return
        records = self._records[topic]
        if value is None:
            records.pop(key, None)
        else:
            record_type = self._record_types[topic]
            assert record_type is not None
            try:
                records[key] = decode(value, record_type)
            except DecodeError as exc:
                log.error("ignoring unreadable %s record %r: %s", topic, key, exc.reason)
                return
        self.version += 1
        if topic == RESIDENTS.name:
            self._units = None
        elif topic == DEVICES.name:
            self._places = None

    def counts(self) -> dict[str, int]:
        return {topic: len(records) for topic, records in self._records.items()}

    def records(self, topic: Topic) -> dict[str, Any]:
        """Every current record of one topic, by key."""
        return {key.decode(): record for key, record in self._records[topic.name].items()}

    def _get(self, topic: str, key: str) -> Any:
        return self._records[topic].get(key.encode())

    def community(self, community_id: str) -> Community | None:
        return self._communities.get(community_id)

    def resident(self, person_id: str) -> Resident | None:
        return self._get(RESIDENTS.name, person_id)

    def residents_of_unit(self, unit_door_id: str) -> Sequence[Resident]:
        if self._units is None:
            units: dict[str, list[Resident]] = defaultdict(list)
            for resident in self._records[RESIDENTS.name].values():
                assert isinstance(resident, Resident)
                units[resident.unit_door_id].append(resident)
            self._units = dict(units)
        return self._units.get(unit_door_id, ())

    def resident_vehicle(self, plate: str) -> ResidentVehicle | None:
        return self._get(RESIDENT_VEHICLES.name, plate)

    def device(self, device_id: str) -> Device | None:
        return self._get(DEVICES.name, device_id)

    def devices_at(self, place: str) -> Sequence[Device]:
        if self._places is None:
            places: dict[str, list[Device]] = defaultdict(list)
            for device in self._records[DEVICES.name].values():
                assert isinstance(device, Device)
                if device.place:
                    places[device.place].append(device)
            self._places = dict(places)
        return self._places.get(place, ())

    def bracelet(self, bracelet_id: str) -> BraceletWearer | None:
        return self._get(BRACELET_WEARERS.name, bracelet_id)

    def watchlist_plate(self, plate: str) -> WatchlistPlate | None:
        return self._get(WATCHLIST_PLATES.name, plate)

    def watchlist_plates(self) -> Mapping[str, WatchlistPlate]:
        return {k.decode(): v for k, v in self._records[WATCHLIST_PLATES.name].items()}  # type: ignore[misc]

    def watchlist_faces(self) -> Sequence[WatchlistFace]:
        return list(self._records[WATCHLIST_FACES.name].values())  # type: ignore[arg-type]

    def parking_tariff(self, key: str) -> ParkingTariff | None:
        """A community's tariff, or the district default under `DISTRICT_DEFAULT`."""
        return self._get(PARKING_TARIFFS.name, key)

    def parking_pass(self, community_id: str, plate: str) -> ParkingPass | None:
        return self._get(PARKING_PASSES.name, pass_key(community_id, plate))

    def rule_settings(self) -> Sequence[RuleSettings]:
        return list(self._records[RULE_SETTINGS.name].values())  # type: ignore[arg-type]


class ReferenceFollower(Service):
    """Keeps `data` current; `loaded` is set once every topic has been read to its end.
    `topics` narrows what is followed (default: every reference topic)."""

    def __init__(
        self,
        bootstrap: str,
        data: ReferenceData,
        topics: Sequence[Topic] = REFERENCE_TOPICS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._bootstrap = bootstrap
        self._topics = tuple(topics)
        self.data = data
        self.loaded = asyncio.Event()

    @Service.task
    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, **kafka_security(), enable_auto_commit=False
        )
        await consumer.start()
        try:
            end = await _from_the_beginning(consumer, self._topics)
            while not self.should_stop:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, messages in batches.items():
                    for message in messages:
                        self.data.apply(tp.topic, message.key, message.value)
                if not self.loaded.is_set() and await _caught_up(consumer, end):
                    log.info("reference data loaded: %s", self.data.counts())
                    self.loaded.set()
        finally:
            await consumer.stop()


async def _caught_up(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    return all([await consumer.position(tp) >= offset for tp, offset in end.items()])


async def read_reference(bootstrap: str, topics: Sequence[Topic], timeout: float) -> ReferenceData:
    """`topics` read once to their end without a consumer group: what a command shows.
    Raises aiokafka's KafkaError, or TimeoutError when Kafka does not answer in time."""
    data = ReferenceData()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, **kafka_security(), group_id=None, enable_auto_commit=False
    )
    try:
        async with asyncio.timeout(timeout):
            await consumer.start()
            end = await _from_the_beginning(consumer, topics)
            while not await _caught_up(consumer, end):
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                for tp, messages in batches.items():
                    for message in messages:
                        data.apply(tp.topic, message.key, message.value)
    finally:
        await consumer.stop()
    return data


async def _from_the_beginning(
    consumer: AIOKafkaConsumer, topics: Sequence[Topic]
) -> dict[TopicPartition, int]:
    """Assign every partition of `topics` from offset 0; their end offsets now."""
    partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    return await consumer.end_offsets(partitions)

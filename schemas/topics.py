"""The topic catalogue: the only place a Kafka topic name is spelled.

Event topics are keyed by community, so one community's events stay ordered in one
partition and stateful rules see them on one worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from schemas.alerts import Alert, WatchlistFace, WatchlistPlate
from schemas.events import (
    BraceletReading,
    CameraAnalytics,
    DeviceTelemetry,
    DoorAccess,
    Event,
    FaceCapture,
    PerimeterAlarm,
    Record,
    VehiclePassage,
)
from schemas.reference import BraceletWearer, Device, Resident, ResidentVehicle, RuleSettings

EVENT_PARTITIONS = 6


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    partitions: int
    retention: timedelta | None
    record: type[Record] | None
    table: str | None
    compacted: bool = False

    def config(self) -> dict[str, str]:
        """Topic-level configs applied at creation."""
        config = {"cleanup.policy": "compact" if self.compacted else "delete"}
        config["retention.ms"] = (
            "-1" if self.retention is None else str(int(self.retention.total_seconds() * 1000))
        )
        return config


def _event_topic(name: str, record: type[Event], table: str) -> Topic:
    return Topic(
        name=name,
        key="community_id",
        partitions=EVENT_PARTITIONS,
        retention=timedelta(days=7),
        record=record,
        table=table,
    )


VEHICLE_PASSAGES = _event_topic(
    "pingan.events.vehicle-passages", VehiclePassage, "vehicle_passages"
)
DOOR_ACCESS = _event_topic("pingan.events.door-access", DoorAccess, "door_access")
FACE_CAPTURES = _event_topic("pingan.events.face-captures", FaceCapture, "face_captures")
DEVICE_TELEMETRY = _event_topic(
    "pingan.events.device-telemetry", DeviceTelemetry, "device_telemetry"
)
PERIMETER_ALARMS = _event_topic(
    "pingan.events.perimeter-alarms", PerimeterAlarm, "perimeter_alarms"
)
BRACELET_READINGS = _event_topic(
    "pingan.events.bracelet-readings", BraceletReading, "bracelet_readings"
)
CAMERA_ANALYTICS = _event_topic(
    "pingan.events.camera-analytics", CameraAnalytics, "camera_analytics"
)

ALERTS = Topic(
    name="pingan.alerts",
    key="community_id",
    partitions=EVENT_PARTITIONS,
    retention=timedelta(days=30),
    record=Alert,
    table="alerts",
)
DEAD_LETTERS = Topic(
    name="pingan.dead-letters",
    key="source topic",
    partitions=3,
    retention=timedelta(days=30),
    record=None,
    table="dead_letters",
)
WATCHLIST_PLATES = Topic(
    name="pingan.watchlist.plates",
    key="plate",
    partitions=1,
    retention=None,
    record=WatchlistPlate,
    table=None,
    compacted=True,
)

WATCHLIST_FACES = Topic(
    name="pingan.watchlist.faces",
    key="face_id",
    partitions=1,
    retention=None,
    record=WatchlistFace,
    table=None,
    compacted=True,
)


def _reference_topic(name: str, key: str, record: type[Record]) -> Topic:
    return Topic(
        name=name,
        key=key,
        partitions=1,
        retention=None,
        record=record,
        table=None,
        compacted=True,
    )


RESIDENT_VEHICLES = _reference_topic("pingan.reference.vehicles", "plate", ResidentVehicle)
RESIDENTS = _reference_topic("pingan.reference.residents", "person_id", Resident)
DEVICES = _reference_topic("pingan.reference.devices", "device_id", Device)
BRACELET_WEARERS = _reference_topic("pingan.reference.bracelets", "bracelet_id", BraceletWearer)
RULE_SETTINGS = _reference_topic("pingan.config.rules", "community_id", RuleSettings)

PASSAGES_BY_PLATE = Topic(
    name="pingan.rules.passages-by-plate",
    key="plate",
    partitions=EVENT_PARTITIONS,
    retention=timedelta(days=7),
    record=VehiclePassage,
    table=None,
)
"""Passages re-keyed by plate, so one worker sees a plate's passages in every community."""

EVENT_TOPICS: tuple[Topic, ...] = (
    VEHICLE_PASSAGES,
    DOOR_ACCESS,
    FACE_CAPTURES,
    DEVICE_TELEMETRY,
    PERIMETER_ALARMS,
    BRACELET_READINGS,
    CAMERA_ANALYTICS,
)
REFERENCE_TOPICS: tuple[Topic, ...] = (
    WATCHLIST_PLATES,
    WATCHLIST_FACES,
    RESIDENT_VEHICLES,
    RESIDENTS,
    DEVICES,
    BRACELET_WEARERS,
    RULE_SETTINGS,
)
ALL_TOPICS: tuple[Topic, ...] = (
    *EVENT_TOPICS,
    ALERTS,
    DEAD_LETTERS,
    *REFERENCE_TOPICS,
    PASSAGES_BY_PLATE,
)
TOPIC_FOR_RECORD: dict[type[Record], Topic] = {
    t.record: t for t in (*EVENT_TOPICS, ALERTS, *REFERENCE_TOPICS) if t.record
}

"""The topic catalogue: the only place a Kafka topic name is spelled.

Event topics are keyed by community, so one community's events stay ordered in one
partition and stateful rules see them on one worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from schemas.alerts import Alert, WatchlistFace, WatchlistPlate
from schemas.audit import AlertAction, AuditEntry
from schemas.commands import DeviceCommand
from schemas.credentials import DeviceCredential
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
from schemas.faces import BiometricSearch, ResidentFace
from schemas.parking import ParkingPass, ParkingSession, ParkingTariff
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
PARKING_TARIFFS = _reference_topic("pingan.config.parking-tariffs", "community_id", ParkingTariff)
"""Parking tariffs per community ("*" = district default), applied to the next session."""
PARKING_PASSES = _reference_topic("pingan.reference.parking-passes", "pass_key", ParkingPass)
"""Monthly passes, keyed "community:plate"."""
DEVICE_CREDENTIALS = _reference_topic(
    "pingan.reference.device-credentials", "device_id", DeviceCredential
)
"""Webhook keys of devices (bearer key hashes, HMAC secrets): restrict to Pingan's own clients."""
FACE_GALLERY = _reference_topic("pingan.reference.face-gallery", "face_id", ResidentFace)
"""Residents' enrolled face embeddings. Not in REFERENCE_TOPICS: only the face pipeline reads
them, stream workers never hold biometric data they do not use."""

PASSAGES_BY_PLATE = Topic(
    name="pingan.rules.passages-by-plate",
    key="plate",
    partitions=EVENT_PARTITIONS,
    retention=timedelta(days=7),
    record=VehiclePassage,
    table=None,
)
"""Passages re-keyed by plate, so one worker sees a plate's passages in every community."""

ALERTS_BY_PLATE = Topic(
    name="pingan.rules.alerts-by-plate",
    key="plate",
    partitions=PASSAGES_BY_PLATE.partitions,
    retention=timedelta(days=7),
    record=Alert,
    table=None,
)
"""Versions of plate-keyed alerts (CLONED_PLATE, ROAMING_VEHICLE) from `pingan.alerts`,
re-keyed by plate like the passages: the plate rules' alert book lives in the partitions of
the plate, not of the alert's community, so an officer's acknowledgement, resolve or
assignment reaches that book only through here (issue 13)."""

PARKING_SESSIONS = Topic(
    name="pingan.parking.sessions",
    key="community_id",
    partitions=EVENT_PARTITIONS,
    retention=timedelta(days=7),
    record=ParkingSession,
    table="parking_sessions",
)
"""Every revision of every parking session, paired from passages (streams/parking/)."""

DEVICE_COMMANDS = Topic(
    name="pingan.device-commands",
    key="community_id",
    partitions=3,
    retention=timedelta(days=30),
    record=DeviceCommand,
    table="device_commands",
)
"""Commands written to field devices, with their outcome (audit; see schemas/commands.py)."""

BIOMETRIC_SEARCHES = Topic(
    name="pingan.audit.biometric-searches",
    key="search_id",
    partitions=1,
    retention=timedelta(days=30),
    record=BiometricSearch,
    table="biometric_searches",
)
"""Every face search against the gallery, attributed to its operator (see schemas/faces.py)."""

AUDIT_LOG = Topic(
    name="pingan.audit.log",
    key="actor",
    partitions=1,
    retention=timedelta(days=30),
    record=AuditEntry,
    table="audit_log",
)
"""Every sensitive API call: who, when, what, why (see schemas/audit.py)."""

ALERT_ACTIONS = Topic(
    name="pingan.alert-actions",
    key="community_id",
    partitions=3,
    retention=timedelta(days=30),
    record=AlertAction,
    table="alert_actions",
)
"""Officers' acknowledgements, assignments and resolves: each alert's history."""

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
    PARKING_TARIFFS,
    PARKING_PASSES,
    DEVICE_CREDENTIALS,
)
AUDIT_TOPICS: tuple[Topic, ...] = (DEVICE_COMMANDS, BIOMETRIC_SEARCHES, AUDIT_LOG, ALERT_ACTIONS)
BIOMETRIC_TOPICS: tuple[Topic, ...] = (
    FACE_CAPTURES,
    WATCHLIST_FACES,
    FACE_GALLERY,
    BIOMETRIC_SEARCHES,
)
"""Topics whose messages carry face embeddings, crops or face-search results: their dead
letters expire with PINGAN_BIOMETRIC_TTL_DAYS, like the tables they feed."""
ALL_TOPICS: tuple[Topic, ...] = (
    *EVENT_TOPICS,
    ALERTS,
    DEAD_LETTERS,
    *REFERENCE_TOPICS,
    PASSAGES_BY_PLATE,
    ALERTS_BY_PLATE,
    PARKING_SESSIONS,
    *AUDIT_TOPICS,
    FACE_GALLERY,
)
TOPIC_FOR_RECORD: dict[type[Record], Topic] = {
    t.record: t
    for t in (*EVENT_TOPICS, ALERTS, *REFERENCE_TOPICS, *AUDIT_TOPICS, FACE_GALLERY)
    if t.record
}

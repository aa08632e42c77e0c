"""Alerts raised by stream rules, and the police watchlist they consult."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, Field

from schemas.events import NonEmpty, Plate, Record, Timestamp, embedding_dims


class AlertType(StrEnum):
    WATCHLIST_PLATE = "WATCHLIST_PLATE"
    POSSIBLE_WATCHLIST_PLATE = "POSSIBLE_WATCHLIST_PLATE"
    CLONED_PLATE = "CLONED_PLATE"
    ROAMING_VEHICLE = "ROAMING_VEHICLE"
    OVERSTAY_VEHICLE = "OVERSTAY_VEHICLE"
    MLM_GATHERING = "MLM_GATHERING"
    GROUP_RENTING = "GROUP_RENTING"
    KNOWN_MLM_RETURN = "KNOWN_MLM_RETURN"
    CHARGING_OVERHEAT = "CHARGING_OVERHEAT"
    EBIKE_IN_ELEVATOR = "EBIKE_IN_ELEVATOR"
    BLOCKED_FIRE_PASSAGE = "BLOCKED_FIRE_PASSAGE"
    HIGH_ALTITUDE_THROW = "HIGH_ALTITUDE_THROW"
    PERIMETER_INTRUSION = "PERIMETER_INTRUSION"
    DEVICE_OFFLINE = "DEVICE_OFFLINE"
    BRACELET_SOS = "BRACELET_SOS"
    BRACELET_GEOFENCE_EXIT = "BRACELET_GEOFENCE_EXIT"
    BRACELET_INACTIVE = "BRACELET_INACTIVE"
    BRACELET_LOW_BATTERY = "BRACELET_LOW_BATTERY"
    ELDERLY_NOT_SEEN = "ELDERLY_NOT_SEEN"
    STRAY_DOG = "STRAY_DOG"


class SubjectKind(StrEnum):
    """What an alert is about; `subject` is that thing's id."""

    PLATE = "plate"
    PERSON = "person"
    VISITOR = "visitor"
    DEVICE = "device"
    UNIT = "unit"
    FENCE_ZONE = "fence_zone"
    CAMERA = "camera"
    SHED_SLOT = "shed_slot"
    BRACELET = "bracelet"
    COMMUNITY = "community"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self]


SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Evidence(Record):
    """A pointer to the event that justifies an alert, with enough to read it at a glance."""

    event_id: str
    event_kind: str
    occurred_at: Timestamp
    summary: str


class Alert(Record):
    """An alert's latest state; a later record with the same alert_id supersedes it.

    `explanation` is English and `explanation_zh` Chinese: officers read the latter,
    the district's foreign partners and the logs the former.
    """

    alert_id: NonEmpty
    alert_type: AlertType
    severity: Severity
    status: AlertStatus = AlertStatus.OPEN
    community_id: NonEmpty
    subject_kind: SubjectKind = SubjectKind.PLATE
    subject: str
    first_seen: Timestamp
    last_seen: Timestamp
    count: int = 1
    explanation: str
    explanation_zh: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    raised_at: Timestamp
    updated_at: Timestamp
    source_received_at: Timestamp
    resolved_at: Timestamp | None = None
    note: str | None = None
    assigned_to: str | None = None
    """Who an officer assigned the alert to; kept by the rule's later updates."""

    def row(self) -> dict[str, Any]:
        row = self.model_dump()
        row["evidence"] = orjson.dumps(row["evidence"]).decode()
        row["evidence_event_ids"] = [e.event_id for e in self.evidence]
        return row


class WatchlistCategory(StrEnum):
    WANTED = "wanted"
    STOLEN = "stolen"
    ATTENTION = "attention"


WATCHLIST_SEVERITY: dict[WatchlistCategory, Severity] = {
    WatchlistCategory.WANTED: Severity.CRITICAL,
    WatchlistCategory.STOLEN: Severity.HIGH,
    WatchlistCategory.ATTENTION: Severity.MEDIUM,
}


class WatchlistFace(Record):
    """A face from a past raid (e.g. a pyramid-scheme gathering): any sighting alerts."""

    face_id: NonEmpty
    embedding: Annotated[list[float], AfterValidator(embedding_dims)]
    case: str = ""
    note: str = ""
    added_by: str = "unknown"
    added_at: Timestamp


class WatchlistPlate(Record):
    plate: Plate
    category: WatchlistCategory
    note: str = ""
    added_by: str = "unknown"
    added_at: Timestamp

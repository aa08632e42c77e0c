"""Alerts raised by stream rules, and the police watchlist they consult."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import orjson
from pydantic import Field

from schemas.bounds import Explanation, Id, Name, Note, OptionalId, UInt32
from schemas.events import Embedding, NonEmpty, Plate, Record, Timestamp


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
    PIPELINE_STALLED = "PIPELINE_STALLED"


OPERATIONAL_ALERT_TYPES = frozenset({AlertType.PIPELINE_STALLED})
"""Raised by the platform about itself (a sink that cannot write), not by a rule on events:
no rule, scenario label or evaluation score is about them."""
RULE_ALERT_TYPES = tuple(t for t in AlertType if t not in OPERATIONAL_ALERT_TYPES)
PLATFORM_COMMUNITY = "district"
"""The community_id of an operational alert: it is about the platform, not one community."""


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
    PIPELINE = "pipeline"


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


MAX_EVIDENCE = 100
"""An alert keeps its first and latest evidence (streams/alert_book.py keeps 20)."""


class Evidence(Record):
    """A pointer to the event that justifies an alert, with enough to read it at a glance."""

    event_id: Id
    event_kind: Name
    occurred_at: Timestamp
    summary: Note


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
    subject: Name
    first_seen: Timestamp
    last_seen: Timestamp
    count: Annotated[UInt32, Field(ge=1)] = 1
    explanation: Explanation
    explanation_zh: Explanation = ""
    evidence: Annotated[list[Evidence], Field(max_length=MAX_EVIDENCE)] = Field(
        default_factory=list, description=f"at most {MAX_EVIDENCE} events"
    )
    raised_at: Timestamp
    updated_at: Timestamp
    source_received_at: Timestamp
    resolved_at: Timestamp | None = None
    note: Note | None = None
    assigned_to: OptionalId | None = None
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
    embedding: Embedding
    case: Name = ""
    note: Note = ""
    added_by: OptionalId = "unknown"
    added_at: Timestamp


class WatchlistPlate(Record):
    plate: Plate
    category: WatchlistCategory
    note: Note = ""
    added_by: OptionalId = "unknown"
    added_at: Timestamp

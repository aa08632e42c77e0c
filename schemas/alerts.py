"""Alerts raised by stream rules, and the police watchlist they consult."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import orjson
from pydantic import Field

from schemas.events import NonEmpty, Plate, Record, Timestamp


class AlertType(StrEnum):
    WATCHLIST_PLATE = "WATCHLIST_PLATE"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


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
    """An alert's latest state; a later record with the same alert_id supersedes it."""

    alert_id: NonEmpty
    alert_type: AlertType
    severity: Severity
    status: AlertStatus = AlertStatus.OPEN
    community_id: NonEmpty
    subject: str
    first_seen: Timestamp
    last_seen: Timestamp
    count: int = 1
    explanation: str
    evidence: list[Evidence] = Field(default_factory=list)
    raised_at: Timestamp
    updated_at: Timestamp
    source_received_at: Timestamp
    note: str | None = None

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


class WatchlistPlate(Record):
    plate: Plate
    category: WatchlistCategory
    note: str = ""
    added_by: str = "unknown"
    added_at: Timestamp

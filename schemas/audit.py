"""The audit log: who looked at whom, and who changed what.

One row per sensitive call (face search, trajectory, face-capture listing, person or
vehicle-history lookup, watchlist or registry change, rule-settings change, erasure). An
image is recorded as its sha256, never as the image; arguments never hold embeddings.
Rows outlive the data they describe (`PINGAN_AUDIT_TTL_DAYS`), so an auditor can still ask
who looked at a capture after the capture itself has expired.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from schemas.bounds import Id, JsonText, Name, Note, OptionalId, UInt32
from schemas.events import NonEmpty, Record, Timestamp

MAX_COMMUNITIES = 10_000


class AuditEntry(Record):
    kind: ClassVar[str] = "audit_entry"

    audit_id: NonEmpty
    at: Timestamp
    actor: NonEmpty
    """The token's `sub`: a person, never a service name."""
    actor_role: NonEmpty
    operation: NonEmpty
    arguments: JsonText = "{}"
    """The call's arguments as JSON, images replaced by their sha256."""
    community_ids: Annotated[list[Id], Field(max_length=MAX_COMMUNITIES)] = Field(
        default_factory=list, description=f"at most {MAX_COMMUNITIES} communities"
    )
    """The communities the call was scoped to; empty for every community."""
    purpose: Note = ""
    result_count: UInt32 = 0
    client_address: Name = ""


class AlertAction(Record):
    """An officer's step on an alert: the alert's history, shown to whoever sees the alert."""

    kind: ClassVar[str] = "alert_action"

    action_id: NonEmpty
    alert_id: NonEmpty
    community_id: NonEmpty
    action: NonEmpty
    """acknowledge, assign or resolve."""
    actor: NonEmpty
    actor_role: NonEmpty
    at: Timestamp
    note: Note = ""
    assigned_to: OptionalId | None = None

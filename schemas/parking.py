"""Parking: tariffs and monthly passes (compacted config topics), and the sessions the
worker pairs from vehicle passages.

Money is in fen (分, 1/100 yuan) as integers, so sums and caps are exact.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, model_validator

from schemas.bounds import Float64, Id, Name, Note, OptionalId, UInt32, UInt64
from schemas.events import NonEmpty, Plate, PlateColour, Record, Timestamp

Fen = Annotated[int, Field(ge=0, le=100_000_000)]


class ParkingTariff(Record):
    """One community's price list, or the district default (`community_id` "*").

    A community without its own tariff uses the district default; without that, these
    field defaults. A tariff applies whole: a community's record replaces the default.
    """

    community_id: NonEmpty
    free_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 30
    """A stay of at most this long is free; hours are counted after it."""
    day_rate_fen: Fen = 500
    """Per started hour after the free period, for hours starting outside the night."""
    night_rate_fen: Fen = 200
    """Per started hour that starts within the night window (district time)."""
    night_start: time = time(22, 0)
    night_end: time = time(7, 0)
    daily_cap_fen: Fen | None = 4000
    """At most this per 24 h counted from the entry; None = no cap."""
    max_open_hours: Annotated[Float64, Field(gt=0, le=24 * 366)] = 72.0
    """A car inside longer than this without an exit read is reported (status overdue)."""
    updated_by: OptionalId = "unknown"
    updated_at: Timestamp | None = None

    def is_night(self, local: time) -> bool:
        """Whether a local time of day falls in the night window (which may wrap midnight)."""
        if self.night_start == self.night_end:
            return False
        if self.night_start < self.night_end:
            return self.night_start <= local < self.night_end
        return local >= self.night_start or local < self.night_end


class ParkingPass(Record):
    """A monthly pass (月卡) for one plate in one community: its stays inside the validity
    pay nothing. Renewing replaces the record (same community and plate)."""

    community_id: NonEmpty
    plate: Plate
    valid_from: Timestamp
    valid_until: Timestamp
    person_id: OptionalId | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ParkingPass:
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self

    @property
    def pass_key(self) -> str:
        """The compacted topic's key: one pass per community and plate."""
        return pass_key(self.community_id, self.plate)


def pass_key(community_id: str, plate: str) -> str:
    return f"{community_id}:{plate}"


class SessionStatus(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"
    """Still inside, longer than the tariff's `max_open_hours`."""
    CLOSED = "closed"
    ENTRY_WITHOUT_EXIT = "entry_without_exit"
    """The plate entered again with no exit read in between: the exit was missed."""
    EXIT_WITHOUT_ENTRY = "exit_without_entry"
    """An exit with no entry read before it."""


class ParkingSession(Record):
    """One stay of a plate in a community, as the worker currently knows it.

    `session_id` is the entry's event id (the exit's for an exit without entry); every
    change is a new `revision` of the same id, and `is_deleted` retires a session that a
    late passage showed to be part of another (e.g. an exit without entry whose entry
    arrived late). Read the table with FINAL.
    """

    session_id: NonEmpty
    community_id: NonEmpty
    plate: Plate
    plate_colour: PlateColour
    status: SessionStatus
    started_at: Timestamp
    """The entry, or the exit of an exit without entry: fixed for the session's life."""
    entered_at: Timestamp | None = None
    exited_at: Timestamp | None = None
    entry_event_id: Id | None = None
    exit_event_id: Id | None = None
    entry_gate_id: Id | None = None
    exit_gate_id: Id | None = None
    duration_seconds: UInt32 | None = None
    fee_fen: UInt64 | None = None
    """None when unknown (open, or one end missing): `reason` says why."""
    fee_basis: Note = ""
    reason: Note = ""
    tariff_id: Name = ""
    resident: bool = False
    monthly_pass: bool = False
    revision: Annotated[UInt32, Field(ge=1)] = 1
    is_deleted: bool = False

    def row(self) -> dict[str, Any]:
        row = self.model_dump()
        row["is_deleted"] = int(self.is_deleted)
        return row

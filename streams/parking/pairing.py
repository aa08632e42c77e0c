"""Pairing a plate's passages in one community into stays, by event time.

Pairing is a pure function of the passages sorted by `occurred_at`, so a passage that
arrives late (a gate camera that buffered while offline) is simply inserted where it
belongs and the stays are paired again:

- an entry opens a stay; the next exit closes it;
- an entry while a stay is open means the exit was missed: the open stay ends as
  `entry_without_exit` and the new entry opens the next one;
- an exit with no open stay is an `exit_without_entry`;
- a second read of the same direction within `duplicate_within` of the first (a camera
  reading a car twice at the barrier) is the same passage and is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from schemas.events import Direction, PlateColour, VehiclePassage
from schemas.parking import SessionStatus


class Read(BaseModel):
    """What pairing and pricing need of one passage."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    at: datetime
    direction: Direction
    gate_id: str
    plate_colour: PlateColour

    @classmethod
    def of(cls, passage: VehiclePassage) -> Read:
        return cls(
            event_id=passage.event_id,
            at=passage.occurred_at,
            direction=passage.direction,
            gate_id=passage.gate_id,
            plate_colour=passage.plate_colour,
        )

    def order(self) -> tuple[datetime, bool, str]:
        """Event time; at the same instant an entry comes before an exit."""
        return (self.at, self.direction is Direction.OUT, self.event_id)


@dataclass(frozen=True)
class Pairing:
    """One stay as the passages show it; `first` is the index of its first read."""

    status: SessionStatus
    first: int
    entry: Read | None = None
    exit: Read | None = None
    next_entry: Read | None = None
    """For `entry_without_exit`: the entry that showed the exit was missed."""

    @property
    def session_id(self) -> str:
        read = self.entry or self.exit
        assert read is not None
        return read.event_id

    @property
    def ended_at(self) -> datetime | None:
        """When the stay was known to be over; None while it is open."""
        if self.exit is not None:
            return self.exit.at
        return None if self.next_entry is None else self.next_entry.at


def pair(reads: Sequence[Read], duplicate_within: timedelta) -> list[Pairing]:
    """The stays of reads sorted by `Read.order`."""
    pairings: list[Pairing] = []
    entry: Read | None = None
    entry_index = 0
    last_exit: Read | None = None
    for index, read in enumerate(reads):
        if read.direction is Direction.IN:
            if entry is not None and read.at - entry.at <= duplicate_within:
                continue
            if entry is not None:
                pairings.append(
                    Pairing(SessionStatus.ENTRY_WITHOUT_EXIT, entry_index, entry, next_entry=read)
                )
            entry, entry_index, last_exit = read, index, None
            continue
        if entry is not None:
            pairings.append(Pairing(SessionStatus.CLOSED, entry_index, entry, read))
        elif last_exit is not None and read.at - last_exit.at <= duplicate_within:
            continue
        else:
            pairings.append(Pairing(SessionStatus.EXIT_WITHOUT_ENTRY, index, exit=read))
        entry, last_exit = None, read
    if entry is not None:
        pairings.append(Pairing(SessionStatus.OPEN, entry_index, entry))
    return pairings

"""Injected incidents and their ground-truth labels, to check that rules raise what they should.

Incidents follow wall time (one every `every` seconds, whatever the clock speed) and draw
from their own seeded generator, so enabling them leaves the everyday sequence unchanged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ingest.simulator.district import District, WatchlistEntry
from schemas.alerts import AlertType, WatchlistCategory
from schemas.events import Direction, PlateColour, VehiclePassage

FIRST_INCIDENT_AFTER_S = 1.0
WATCHLIST_COLOURS = (PlateColour.BLUE, PlateColour.GREEN)
WATCHLIST_COLOUR_WEIGHTS = (3, 1)


@dataclass(frozen=True)
class IncidentLabel:
    kind: str
    community_id: str
    plate: str
    category: WatchlistCategory
    event_id: str
    occurred_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "community_id": self.community_id,
            "plate": self.plate,
            "category": str(self.category),
            "event_id": self.event_id,
            "occurred_at": self.occurred_at.isoformat(),
        }


class LabelLog:
    """Labels appended as JSON lines, so a scorer can follow a run that is still going."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, labels: list[IncidentLabel]) -> None:
        if labels:
            with self.path.open("ab") as out:
                out.writelines(orjson.dumps(label.as_json()) + b"\n" for label in labels)


class WatchlistIncidents:
    """A watchlisted car passes a gate at least every `every` seconds of wall time.

    Each watchlisted car keeps to one community and goes in and out in turn, as a real
    car does: hopping between communities would also read as a cloned or roaming plate,
    and never leaving as an overstay.
    """

    def __init__(self, district: District, every: float) -> None:
        if every <= 0:
            raise ValueError(f"incident interval must be positive, got {every}")
        if not district.watchlist:
            raise ValueError("watchlist incidents need a non-empty watchlist")
        self._district = district
        self._every = every
        self._rng = random.Random(f"{district.seed}:incidents")
        self._next_due = min(FIRST_INCIDENT_AFTER_S, every)
        self._haunts = {
            entry.plate: self._rng.choice(district.sites) for entry in district.watchlist
        }
        self._inside: set[str] = set()

    def due(self, wall_to: float) -> list[float]:
        """Wall times of incidents due up to `wall_to`, each taken once."""
        times = []
        while self._next_due <= wall_to:
            times.append(self._next_due)
            self._next_due += self._every
        return times

    def passage(
        self, event_id: str, at: datetime, received_at: datetime
    ) -> tuple[VehiclePassage, IncidentLabel]:
        rng = self._rng
        entry: WatchlistEntry = rng.choice(self._district.watchlist)
        site = self._haunts[entry.plate]
        gate = rng.choice(site.gates)
        leaving = entry.plate in self._inside
        self._inside.symmetric_difference_update({entry.plate})
        passage = VehiclePassage(
            event_id=event_id,
            community_id=site.community_id,
            occurred_at=at,
            received_at=received_at,
            plate=entry.plate,
            plate_colour=rng.choices(WATCHLIST_COLOURS, WATCHLIST_COLOUR_WEIGHTS)[0],
            direction=Direction.OUT if leaving else Direction.IN,
            gate_id=gate.gate_id,
            camera_id=gate.camera_id,
            confidence=round(rng.uniform(0.9, 0.99), 3),
            snapshot_ref=f"snapshots/{event_id}.jpg",
        )
        label = IncidentLabel(
            kind=AlertType.WATCHLIST_PLATE.value,
            community_id=site.community_id,
            plate=entry.plate,
            category=entry.category,
            event_id=event_id,
            occurred_at=passage.occurred_at.astimezone(UTC),
        )
        return passage, label

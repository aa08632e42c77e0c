"""Injected incidents and their ground-truth labels, to check that rules raise what they should.

Incidents follow wall time (one every `every` seconds, whatever the clock speed) and draw
from their own seeded generator, so enabling them leaves the everyday sequence unchanged.
Each is of the next kind in turn; a label names the alert it must raise: its type,
community, subject and the event that opens it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ingest.simulator.district import CameraRole, District, Site, WatchlistEntry
from ingest.simulator.everyday import (
    STRANGER_FACE,
    camera_analytics,
    fence_alarm,
    noisy,
    sos_press,
)
from schemas.alerts import AlertType
from schemas.events import (
    BoundingBox,
    BraceletReading,
    CameraAnalytics,
    CameraAnalyticsKind,
    DeviceKind,
    Direction,
    Event,
    FaceCapture,
    PerimeterAlarmKind,
    PlateColour,
    VehiclePassage,
)

FIRST_INCIDENT_AFTER_S = 1.0
WATCHLIST_COLOURS = (PlateColour.BLUE, PlateColour.GREEN)
WATCHLIST_COLOUR_WEIGHTS = (3, 1)
CLIMBER_SEEN_AFTER = timedelta(seconds=2)
"""The zone's camera captures the climber's face this long after the fence alarm."""
THROW_FLOORS = (3, 30)
THROW_WINDOWS = (1, 6)
WATCHLIST_ONLY: tuple[AlertType, ...] = (AlertType.WATCHLIST_PLATE,)
OFFICER_INCIDENTS: tuple[AlertType, ...] = (
    AlertType.PERIMETER_INTRUSION,
    AlertType.WATCHLIST_PLATE,
    AlertType.BRACELET_SOS,
    AlertType.HIGH_ALTITUDE_THROW,
)
"""What `pingan run` injects in turn: the seed's cases, three of them critical (a fence
crossing, an SOS press, a wanted car) and a throw from a window."""

Injected = tuple[list[Event], "IncidentLabel"]


@dataclass(frozen=True)
class IncidentLabel:
    kind: str
    """The alert type the incident must raise."""
    community_id: str
    subject: str
    """What the alert is about: a plate, fence zone, bracelet or camera."""
    event_id: str
    """The event that must open (or update) the alert."""
    occurred_at: datetime
    note: str

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "community_id": self.community_id,
            "subject": self.subject,
            "event_id": self.event_id,
            "occurred_at": self.occurred_at.isoformat(),
            "note": self.note,
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


class Incidents:
    """An incident at least every `every` seconds of wall time, of each of `kinds` in turn.

    Each watchlisted car keeps to one community and goes in and out in turn, as a real
    car does: hopping between communities would also read as a cloned or roaming plate,
    and never leaving as an overstay.
    """

    def __init__(
        self, district: District, every: float, kinds: Sequence[AlertType] = WATCHLIST_ONLY
    ) -> None:
        if every <= 0:
            raise ValueError(f"incident interval must be positive, got {every}")
        makers: dict[AlertType, Callable[[str, datetime, datetime], Injected]] = {
            AlertType.WATCHLIST_PLATE: self._watchlist_passage,
            AlertType.PERIMETER_INTRUSION: self._fence_crossing,
            AlertType.BRACELET_SOS: self._sos_press,
            AlertType.HIGH_ALTITUDE_THROW: self._throw,
        }
        unknown = [str(kind) for kind in kinds if kind not in makers]
        if not kinds or unknown:
            raise ValueError(f"incident kinds must be some of {', '.join(makers)}: {unknown}")
        if AlertType.WATCHLIST_PLATE in kinds and not district.watchlist:
            raise ValueError("watchlist incidents need a non-empty watchlist")
        self._district = district
        self._every = every
        self._makers = [makers[kind] for kind in kinds]
        self._count = 0
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

    def next(self, event_id: str, at: datetime, received_at: datetime) -> Injected:
        """The next incident's events (the first opens the alert) and its label."""
        maker = self._makers[self._count % len(self._makers)]
        self._count += 1
        return maker(event_id, at, received_at)

    def _site(self, has: Callable[[Site], Sequence[object]]) -> Site:
        sites = [site for site in self._district.sites if has(site)]
        if not sites:
            raise ValueError("no community of the district has what this incident needs")
        return self._rng.choice(sites)

    def _watchlist_passage(self, event_id: str, at: datetime, received_at: datetime) -> Injected:
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
        note = f"watchlisted ({entry.category}) {'leaves' if leaving else 'enters'}"
        return [passage], _label(AlertType.WATCHLIST_PLATE, passage, entry.plate, note)

    def _fence_crossing(self, event_id: str, at: datetime, received_at: datetime) -> Injected:
        """Someone climbs the fence; the zone's camera, if it has one, sees their face."""
        site = self._site(lambda s: s.fence_zones)
        alarm_at = at - CLIMBER_SEEN_AFTER
        alarm = fence_alarm(
            site, event_id, alarm_at, received_at, self._rng, PerimeterAlarmKind.CROSS
        )
        events: list[Event] = [alarm]
        cameras = [
            d.device_id
            for d in site.devices
            if d.kind is DeviceKind.CAMERA and d.place == alarm.fence_zone
        ]
        if cameras:
            events.append(self._climber(site, cameras[0], f"{event_id}-face", at, received_at))
        note = f"someone climbs the fence at {alarm.fence_zone}"
        return events, _label(AlertType.PERIMETER_INTRUSION, alarm, alarm.fence_zone, note)

    def _climber(
        self, site: Site, camera_id: str, event_id: str, at: datetime, received_at: datetime
    ) -> FaceCapture:
        rng = self._rng
        width = rng.uniform(60.0, 140.0)
        return FaceCapture(
            event_id=event_id,
            community_id=site.community_id,
            occurred_at=at,
            received_at=received_at,
            camera_id=camera_id,
            embedding=noisy(rng, STRANGER_FACE, 1.0),
            quality=round(rng.uniform(0.5, 0.8), 3),
            bbox=BoundingBox(
                x=round(rng.uniform(0.0, 1920.0 - width), 1),
                y=round(rng.uniform(0.0, 1080.0 - width * 1.2), 1),
                width=round(width, 1),
                height=round(width * 1.2, 1),
            ),
            crop_ref=f"crops/{event_id}.jpg",
        )

    def _sos_press(self, event_id: str, at: datetime, received_at: datetime) -> Injected:
        site = self._site(lambda s: s.bracelets)
        press: BraceletReading = sos_press(site, event_id, at, received_at, self._rng)
        note = f"{press.wearer} wearer presses SOS"
        return [press], _label(AlertType.BRACELET_SOS, press, press.bracelet_id, note)

    def _throw(self, event_id: str, at: datetime, received_at: datetime) -> Injected:
        """Something falls from a window the facade camera places by floor and column."""
        rng = self._rng
        site = self._site(lambda s: s.cameras[CameraRole.FACADE])
        seen = camera_analytics(
            site, CameraAnalyticsKind.HIGH_ALTITUDE_THROW, event_id, at, received_at, rng
        )
        throw = CameraAnalytics.model_validate(
            seen.model_dump()
            | {
                "confidence": round(rng.uniform(0.85, 0.98), 3),
                "floor": rng.randint(*THROW_FLOORS),
                "window_column": rng.randint(*THROW_WINDOWS),
            }
        )
        note = f"an object falls from floor {throw.floor}, window {throw.window_column}"
        return [throw], _label(AlertType.HIGH_ALTITUDE_THROW, throw, throw.camera_id, note)


def _label(kind: AlertType, event: Event, subject: str, note: str) -> IncidentLabel:
    return IncidentLabel(
        kind=kind.value,
        community_id=event.community_id,
        subject=subject,
        event_id=event.event_id,
        occurred_at=event.occurred_at.astimezone(UTC),
        note=note,
    )

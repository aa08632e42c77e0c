"""CLONED_PLATE: one plate, two vehicles, caught by being in two places at once.

Two signs, over every gate read of a plate in the district (the engine keys passages by
plate):

- Impossible travel: two reads at gates at least `min_distance_km` apart (straight line)
  whose time gap implies strictly more than `max_speed_kmh`. Roads are never shorter
  than the straight line, so the real speed would be higher still. Reads at the same
  instant are infinitely fast. The distance floor keeps gates of one community (and
  camera clocks a few seconds apart) from tripping it.
- Two communities at once: the plate entered community B while inside community A, i.e.
  between A's last entry and A's next exit, and that stay in A lasted at most
  `max_inside_hours`. Explaining it innocently takes two missed reads (the exit from A
  and the re-entry into A); the bound keeps an exit missed days ago from making any
  later visit elsewhere look like a clone.

Gate positions come from the ANPR camera's coordinates, else the community's. The state
keeps the plate's reads of the last `window_hours` (at most KEPT), by event time, so
late reads still pair with the ones around them; a plate unseen for `window_hours` of
event time loses its key, so the table holds only plates seen lately. Impossible travel
takes precedence when one read shows both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field

from schemas.alerts import AlertType, Evidence, Severity, SubjectKind
from schemas.events import Direction, VehiclePassage
from schemas.reference import distance_km
from streams.rules.rule import (
    Explanation,
    Finding,
    Keying,
    Outcome,
    Reference,
    Rule,
    RuleConfig,
    RuleState,
    hhmm,
)

KEPT = 24
"""Reads kept per plate: a busy day at the gates; older ones pair with nothing new."""


class ClonedPlateConfig(RuleConfig):
    max_speed_kmh: Annotated[float, Field(ge=30, le=300)] = 120.0
    min_distance_km: Annotated[float, Field(ge=0.1, le=100)] = 1.0
    max_inside_hours: Annotated[float, Field(ge=1, le=168)] = 12.0
    window_hours: Annotated[float, Field(ge=1, le=168)] = 24.0


class Sighting(BaseModel):
    event_id: str
    community_id: str
    gate_id: str
    camera_id: str
    direction: Direction
    at: datetime


class PlateTrail(RuleState):
    sightings: list[Sighting] = Field(default_factory=list)
    """By event time, oldest first."""


@dataclass(frozen=True)
class Gate:
    """Where a read happened, as the explanation names it."""

    community_id: str
    label: str
    position: tuple[float, float] | None


@dataclass(frozen=True)
class Leap:
    """Two reads too far apart for the time between them."""

    earlier: Sighting
    later: Sighting
    km: float
    kmh: float


@dataclass(frozen=True)
class Overlap:
    """A stay in one community (entry, exit) containing an entry into another."""

    entry: Sighting
    elsewhere: Sighting
    exit: Sighting


class ClonedPlateRule(Rule[VehiclePassage, PlateTrail, ClonedPlateConfig]):
    name = "cloned_plate"
    alert_types = (AlertType.CLONED_PLATE,)
    keying = Keying.PLATE
    Config = ClonedPlateConfig
    State = PlateTrail

    def key(self, event: VehiclePassage, reference: Reference) -> str | None:
        return event.plate

    def apply(
        self,
        state: PlateTrail | None,
        event: VehiclePassage,
        config: ClonedPlateConfig,
        reference: Reference,
    ) -> Outcome[PlateTrail]:
        trail = state or PlateTrail()
        if any(s.event_id == event.event_id for s in trail.sightings):
            return Outcome(trail)
        latest = max([event.occurred_at, *(s.at for s in trail.sightings)])
        horizon = latest - timedelta(hours=config.window_hours)
        if event.occurred_at < horizon:
            return Outcome(trail)
        new = Sighting(
            event_id=event.event_id,
            community_id=event.community_id,
            gate_id=event.gate_id,
            camera_id=event.camera_id,
            direction=event.direction,
            at=event.occurred_at,
        )
        sightings = sorted([*trail.sightings, new], key=lambda s: s.at)
        sightings = [s for s in sightings if s.at >= horizon][-KEPT:]
        kept = trail.model_copy(update={"sightings": sightings})
        leap = fastest_leap(new, sightings, config, reference)
        if leap is not None:
            return Outcome(kept, findings=[leap_finding(event.plate, leap, config, reference)])
        overlap = overlap_with(new, sightings, config)
        if overlap is not None:
            return Outcome(kept, findings=[overlap_finding(event.plate, overlap, reference)])
        return Outcome(kept)

    def wake_at(self, state: PlateTrail, config: ClonedPlateConfig) -> datetime | None:
        """When the last kept read ages out of the window: then the key is dropped."""
        if not state.sightings:
            return None
        return state.sightings[-1].at + timedelta(hours=config.window_hours)

    def advance(
        self,
        state: PlateTrail,
        key: str,
        watermark: datetime,
        config: ClonedPlateConfig,
        reference: Reference,
    ) -> Outcome[PlateTrail]:
        return Outcome(None)


def gate_of(sighting: Sighting, reference: Reference) -> Gate:
    camera = reference.device(sighting.camera_id)
    label = camera.name if camera is not None and camera.name else sighting.gate_id
    if camera is not None and camera.lat is not None and camera.lon is not None:
        return Gate(sighting.community_id, label, (camera.lat, camera.lon))
    community = reference.community(sighting.community_id)
    position = (community.lat, community.lon) if community is not None else None
    return Gate(sighting.community_id, label, position)


def km_between(a: Gate, b: Gate) -> float | None:
    if a.position is None or b.position is None:
        return None
    return distance_km(*a.position, *b.position)


def fastest_leap(
    new: Sighting, sightings: list[Sighting], config: ClonedPlateConfig, reference: Reference
) -> Leap | None:
    """The pair of the new read with a kept one implying the highest speed over the limit."""
    here = gate_of(new, reference)
    best: Leap | None = None
    for other in sightings:
        if other is new:
            continue
        km = km_between(here, gate_of(other, reference))
        if km is None or km < config.min_distance_km:
            continue
        hours = abs((new.at - other.at).total_seconds()) / 3600
        kmh = km / hours if hours else math.inf
        if kmh > config.max_speed_kmh and (best is None or kmh > best.kmh):
            earlier, later = (other, new) if other.at <= new.at else (new, other)
            best = Leap(earlier, later, km, kmh)
    return best


def overlap_with(
    new: Sighting, sightings: list[Sighting], config: ClonedPlateConfig
) -> Overlap | None:
    """A stay in one community, bounded by `max_inside_hours`, that contains an entry into
    another, with the new read among the three."""
    longest = timedelta(hours=config.max_inside_hours)
    for index, exit_ in enumerate(sightings):
        if exit_.direction is not Direction.OUT:
            continue
        before = [s for s in sightings[:index] if s.community_id == exit_.community_id]
        if not before or before[-1].direction is not Direction.IN:
            continue
        entry = before[-1]
        if not entry.at < exit_.at or exit_.at - entry.at > longest:
            continue
        for elsewhere in sightings:
            inside = entry.at < elsewhere.at < exit_.at
            if (
                inside
                and elsewhere.direction is Direction.IN
                and elsewhere.community_id != exit_.community_id
                and new in (entry, elsewhere, exit_)
            ):
                return Overlap(entry, elsewhere, exit_)
    return None


def evidence(plate: str, sighting: Sighting, gate: Gate) -> Evidence:
    moved = "entered" if sighting.direction is Direction.IN else "left"
    return Evidence(
        event_id=sighting.event_id,
        event_kind=VehiclePassage.kind,
        occurred_at=sighting.at,
        summary=(
            f"{plate} {moved} community {gate.community_id} at gate {gate.label} "
            f"at {hhmm(sighting.at)}"
        ),
    )


def km_text(km: float) -> str:
    return f"{km:.0f} km" if km >= 10 else f"{km:.1f} km"


def leap_finding(
    plate: str, leap: Leap, config: ClonedPlateConfig, reference: Reference
) -> Finding:
    first, then = gate_of(leap.earlier, reference), gate_of(leap.later, reference)
    t1, t2 = hhmm(leap.earlier.at), hhmm(leap.later.at)
    distance = km_text(leap.km)
    limit = f"{config.max_speed_kmh:g} km/h"
    if math.isinf(leap.kmh):
        speed_en, speed_zh = "at the same instant", "同一时刻出现在两处"
    else:
        speed_en = f"implied speed {leap.kmh:.0f} km/h"
        speed_zh = f"推算时速 {leap.kmh:.0f} km/h"
    return Finding(
        alert_type=AlertType.CLONED_PLATE,
        severity=Severity.HIGH,
        community_id=leap.later.community_id,
        subject_kind=SubjectKind.PLATE,
        subject=plate,
        occurred_at=leap.later.at,
        explanation=Explanation(
            en=(
                f"Plate {plate} was read at {t1} at gate {first.label} of community "
                f"{first.community_id} and at {t2} at gate {then.label} of community "
                f"{then.community_id}, {distance} away ({speed_en}, limit {limit}): "
                f"probably two vehicles carry this plate."
            ),
            zh=(
                f"{plate} 于 {t1} 出现在 {first.community_id} 小区 {first.label}，"
                f"{t2} 出现在相距 {distance} 的 {then.community_id} 小区 {then.label}"
                f"（{speed_zh}，超过 {limit}），疑似套牌车"
            ),
        ),
        evidence=[evidence(plate, leap.earlier, first), evidence(plate, leap.later, then)],
    )


def overlap_finding(plate: str, overlap: Overlap, reference: Reference) -> Finding:
    entry, elsewhere, exit_ = (
        gate_of(overlap.entry, reference),
        gate_of(overlap.elsewhere, reference),
        gate_of(overlap.exit, reference),
    )
    km = km_between(entry, elsewhere)
    apart_en = f" ({km_text(km)} away)" if km is not None else ""
    apart_zh = f"（相距 {km_text(km)}）" if km is not None else ""
    home, other = entry.community_id, elsewhere.community_id
    t_in, t_other, t_out = (
        hhmm(overlap.entry.at),
        hhmm(overlap.elsewhere.at),
        hhmm(overlap.exit.at),
    )
    latest = max(overlap.elsewhere, overlap.exit, key=lambda s: s.at)
    return Finding(
        alert_type=AlertType.CLONED_PLATE,
        severity=Severity.HIGH,
        community_id=latest.community_id,
        subject_kind=SubjectKind.PLATE,
        subject=plate,
        occurred_at=latest.at,
        explanation=Explanation(
            en=(
                f"Plate {plate} entered community {other}{apart_en} at {t_other} at gate "
                f"{elsewhere.label} while inside community {home}: it entered {home} at "
                f"{t_in} at gate {entry.label} and was next read leaving {home} at {t_out} "
                f"at gate {exit_.label}. One plate in two communities at once: probably "
                f"two vehicles carry it."
            ),
            zh=(
                f"{plate} 于 {t_in} 从 {entry.label} 驶入 {home} 小区，{t_out} 才从 "
                f"{exit_.label} 驶出；其间 {t_other} 又从 {elsewhere.label} 驶入 "
                f"{other} 小区{apart_zh}，同一车牌同时出现在两个小区，疑似套牌车"
            ),
        ),
        evidence=[
            evidence(plate, overlap.entry, entry),
            evidence(plate, overlap.elsewhere, elsewhere),
            evidence(plate, overlap.exit, exit_),
        ],
    )

"""GROUP_RENTING: night after night, more people sleep in a unit than a family would.

群租 (a flat partitioned for many tenants) shows at its unit door as many people entering late
and staying the night, every night. People are the unit's residents (door records, matched
faces) and pseudonymous visitors (unknown faces at the unit-door camera, see visitor_gallery);
anonymous door openings (QR, password) identify nobody and are not counted.

A night (local `night_start_hour` to `night_end_hour`, named by its evening's date) counts a
person seen at the unit door during it and not seen elsewhere later that night. Only a
resident can be seen elsewhere: their sightings at gates and other cameras are routed to their
home unit by reference data. A visitor's leaving is not observable (the door camera does not
tell in from out; an unknown face at a gate belongs to no unit), so a visitor seen at the unit
at night is presumed to stay. Visitors, and residents of other units, count only once they
stayed on ≥ 2 nights of the window, which keeps one-off late guests out. A night qualifies
with ≥ `min_people` counted people; the unit alerts when a night that just ended qualifies and
≥ `min_nights` of the last `nights_window_days` nights do. Nights are judged when they end
(`wake_at`), so at most one finding per night. Near misses: a night-shift resident (one person
at 02:00 every night), a family of five.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Annotated

from pydantic import BaseModel, Field

from schemas.alerts import AlertType, Evidence, Severity, SubjectKind
from schemas.events import DoorAccess, DoorKind, FaceCapture
from schemas.places import unit_door_of
from schemas.reference import DISTRICT_TZ
from streams.rules.rule import (
    Explanation,
    Finding,
    Outcome,
    Reference,
    Rule,
    RuleState,
    dropped_note,
    evidence_of,
    local_time,
)
from streams.rules.visitor_gallery import FaceMatchConfig, VisitorGallery, listed


class GroupRentingConfig(FaceMatchConfig):
    min_people: Annotated[int, Field(ge=3, le=50)] = 8
    night_start_hour: Annotated[int, Field(ge=0, le=23)] = 22
    night_end_hour: Annotated[int, Field(ge=0, le=23)] = 6
    min_nights: Annotated[int, Field(ge=1, le=31)] = 3
    nights_window_days: Annotated[int, Field(ge=1, le=31)] = 7


class Night(BaseModel):
    at_unit: dict[str, int] = {}
    """Person (resident or visitor id) → minutes into the night of their latest sighting at the
    unit door."""
    elsewhere: dict[str, int] = {}
    """The unit's residents → minutes into the night of their latest sighting elsewhere."""
    first: Evidence | None = None
    """The night's earliest sighting at the unit, the alert's evidence for it."""

    def stayed(self) -> set[str]:
        return {p for p, m in self.at_unit.items() if self.elsewhere.get(p, -1) < m}


class GroupRentingState(RuleState):
    gallery: VisitorGallery = Field(default_factory=VisitorGallery)
    nights: dict[date, Night] = Field(default_factory=dict)
    """Nights within the window that had someone at the unit door."""
    judged: date | None = None
    """The last night judged; later ones are judged once they end."""
    dropped: int = 0
    """Sightings dropped to keep the state under its size cap, oldest first."""

    def dropped_records(self) -> int:
        return self.gallery.dropped + self.dropped


class GroupRentingRule(Rule[DoorAccess | FaceCapture, GroupRentingState, GroupRentingConfig]):
    name = "group_renting"
    alert_types = (AlertType.GROUP_RENTING,)
    Config = GroupRentingConfig
    State = GroupRentingState

    def key(self, event: DoorAccess | FaceCapture, reference: Reference) -> str | None:
        unit, person = sighting(event, reference)
        if unit is not None:
            return unit if person is not None or isinstance(event, FaceCapture) else None
        resident = reference.resident(person) if person is not None else None
        return resident.unit_door_id if resident is not None else None

    def apply(
        self,
        state: GroupRentingState | None,
        event: DoorAccess | FaceCapture,
        config: GroupRentingConfig,
        reference: Reference,
    ) -> Outcome[GroupRentingState]:
        clock = night_clock(event.occurred_at, config)
        if clock is None:
            return Outcome(state)
        night, minute = clock
        unit, person = sighting(event, reference)
        if unit is None:
            if state is None or night not in state.nights or person is None:
                return Outcome(state)
            record = state.nights[night]
            left = {**record.elsewhere, person: max(record.elsewhere.get(person, minute), minute)}
            nights = {**state.nights, night: record.model_copy(update={"elsewhere": left})}
            return Outcome(state.model_copy(update={"nights": nights}))
        latest = max([night, *state.nights]) if state is not None else night
        oldest = latest - timedelta(days=config.nights_window_days - 1)
        if state is not None and night < oldest:
            return Outcome(state)
        if state is None:
            state = GroupRentingState(community_id=event.community_id)
        gallery = state.gallery
        if person is None and isinstance(event, FaceCapture):
            gallery, person = gallery.identified(
                event.embedding, event.event_id, config.similarity_threshold
            )
        if person is None:
            return Outcome(state)
        record = state.nights.get(night) or Night()
        seen = {**record.at_unit, person: max(record.at_unit.get(person, minute), minute)}
        first = record.first
        if first is None or event.occurred_at < first.occurred_at:
            first = evidence_of(event, "")
        nights = {
            **state.nights,
            night: record.model_copy(update={"at_unit": seen, "first": first}),
        }
        if min(nights) < oldest:
            nights = {n: r for n, r in nights.items() if n >= oldest}
            gallery = gallery.retained({p for r in nights.values() for p in r.at_unit})
        return Outcome(state.model_copy(update={"nights": nights, "gallery": gallery}))

    def wake_at(self, state: GroupRentingState, config: GroupRentingConfig) -> datetime | None:
        """The end of the first night not yet judged; once all are, the time the last one
        leaves the window and the unit's state can go."""
        pending = [n for n in state.nights if state.judged is None or n > state.judged]
        if pending:
            return night_end(min(pending), config)
        return night_end(max(state.nights), config) + timedelta(days=config.nights_window_days)

    def advance(
        self,
        state: GroupRentingState,
        key: str,
        watermark: datetime,
        config: GroupRentingConfig,
        reference: Reference,
    ) -> Outcome[GroupRentingState]:
        due = sorted(
            n
            for n in state.nights
            if (state.judged is None or n > state.judged) and night_end(n, config) <= watermark
        )
        residents = {r.person_id for r in reference.residents_of_unit(key)}
        findings = [
            finding
            for night in due
            if (finding := judge(state, key, night, residents, config)) is not None
        ]
        if due:
            state = state.model_copy(update={"judged": due[-1]})
        wake = self.wake_at(state, config)
        expired = wake is not None and wake <= watermark
        return Outcome(None if expired else state, findings=findings)

    def shrink(self, state: GroupRentingState) -> GroupRentingState | None:
        """Oldest first: half the gallery's visitors, then whole nights, then the earliest
        sightings of the one night left."""
        if len(state.gallery.visitors) > 1:
            gallery = state.gallery.without_oldest(len(state.gallery.visitors) // 2)
            return state.model_copy(update={"gallery": gallery})
        oldest = min(state.nights, default=None)
        if oldest is None:
            return None
        record = state.nights[oldest]
        seen = len(record.at_unit) + len(record.elsewhere)
        if len(state.nights) > 1:
            nights = {n: r for n, r in state.nights.items() if n != oldest}
            return state.model_copy(update={"nights": nights, "dropped": state.dropped + seen})
        if seen <= 1:
            return None
        at_unit, cut_unit = latest_half(record.at_unit)
        elsewhere, cut_elsewhere = latest_half(record.elsewhere)
        night = record.model_copy(update={"at_unit": at_unit, "elsewhere": elsewhere})
        dropped = state.dropped + cut_unit + cut_elsewhere
        return state.model_copy(update={"nights": {oldest: night}, "dropped": dropped})


def latest_half(minutes: dict[str, int]) -> tuple[dict[str, int], int]:
    """The later half of person → minute sightings, and how many earlier ones went."""
    by_minute = sorted(minutes.items(), key=lambda item: (item[1], item[0]))
    cut = len(by_minute) // 2
    return dict(by_minute[cut:]), cut


def sighting(
    event: DoorAccess | FaceCapture, reference: Reference
) -> tuple[str | None, str | None]:
    """The unit door an event happened at (None elsewhere) and the known person seen."""
    if isinstance(event, DoorAccess):
        if not event.granted:
            return None, None
        unit = event.door_id if event.door_kind is DoorKind.UNIT_DOOR else None
        return unit, event.person_id
    return unit_door_of(event.camera_id, reference), event.matched_person_id


def night_hours(config: GroupRentingConfig) -> int:
    return (config.night_end_hour - config.night_start_hour) % 24


def night_clock(at: datetime, config: GroupRentingConfig) -> tuple[date, int] | None:
    """The night an event time falls in (its evening's date) and the minutes since it began."""
    shifted = local_time(at) - timedelta(hours=config.night_start_hour)
    minute = shifted.hour * 60 + shifted.minute
    if minute >= night_hours(config) * 60:
        return None
    return shifted.date(), minute


def night_end(night: date, config: GroupRentingConfig) -> datetime:
    start = datetime.combine(night, time(config.night_start_hour), tzinfo=DISTRICT_TZ)
    return start + timedelta(hours=night_hours(config))


def judge(
    state: GroupRentingState,
    unit: str,
    night: date,
    residents: set[str],
    config: GroupRentingConfig,
) -> Finding | None:
    """A finding when `night` and enough nights of the window before it were overcrowded."""
    oldest = night - timedelta(days=config.nights_window_days - 1)
    stays = {n: r.stayed() for n, r in sorted(state.nights.items()) if oldest <= n <= night}
    nights_stayed = Counter(p for people in stays.values() for p in people)
    counted = {
        n: sorted(p for p in people if p in residents or nights_stayed[p] >= 2)
        for n, people in stays.items()
    }
    crowded = [n for n, people in counted.items() if len(people) >= config.min_people]
    if night not in crowded or len(crowded) < config.min_nights:
        return None
    tenants = sorted({p for n in crowded for p in counted[n]})
    registered = [p for p in tenants if p in residents]
    others = [p for p in tenants if p not in residents]
    start = f"{config.night_start_hour:02d}:00"
    end = f"{config.night_end_hour:02d}:00"
    per_night_en = "; ".join(f"night of {n:%m-%d}: {len(counted[n])}" for n in crowded)
    per_night_zh = "；".join(f"{n:%m-%d} 晚 {len(counted[n])} 人" for n in crowded)
    dropped = dropped_note(state.dropped_records(), "visitor records", "访客记录")
    evidence = [
        first.model_copy(
            update={
                "summary": (
                    f"night of {n:%m-%d}: {len(counted[n])} people entered {unit} after "
                    f"{start} and stayed: {listed(counted[n])}"
                )
            }
        )
        for n in crowded
        if (first := state.nights[n].first) is not None
    ]
    return Finding(
        alert_type=AlertType.GROUP_RENTING,
        severity=Severity.MEDIUM,
        community_id=state.community_id,
        subject_kind=SubjectKind.UNIT,
        subject=unit,
        occurred_at=night_end(night, config),
        explanation=Explanation(
            en=(
                f"Unit {unit}: on {len(crowded)} of the last {config.nights_window_days} nights, "
                f"{config.min_people}+ people entered after {start} and were not seen leaving "
                f"before {end} ({per_night_en}); {len(registered)} registered residents, "
                f"{len(others)} recurring visitors ({listed(others)}). Possible group renting."
                f"{dropped.en}"
            ),
            zh=(
                f"单元 {unit} 近 {config.nights_window_days} 晚中有 {len(crowded)} 晚"
                f"在 {start} 后进入且 {end} 前未见离开的人数达 {config.min_people} 人以上"
                f"（{per_night_zh}），其中登记住户 {len(registered)} 人、"
                f"反复出现的访客 {len(others)} 人（{listed(others)}），疑似群租{dropped.zh}"
            ),
        ),
        evidence=evidence,
    )

"""ELDERLY_NOT_SEEN: an elderly resident who lives alone has not been seen for a day.

A welfare check: any door record or matched face capture of the person, anywhere in the
district, shows they are up and about. Tracking starts at their first sighting (a person never
seen since the rule started raises nothing). Once `not_seen_hours` of event time pass without
a sighting, one finding asks for a visit; the next sighting resolves it. `key()` has no
thresholds, so it keys every resident living alone whose age is known and `apply` checks
`min_age` (a community's override); a resident no longer living alone, or younger than the
threshold, is forgotten.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field

from schemas.alerts import AlertType, Evidence, Severity, SubjectKind
from schemas.events import DoorAccess, Event, FaceCapture
from schemas.places import camera_place
from schemas.reference import Resident
from streams.rules.rule import (
    Clearance,
    Explanation,
    Finding,
    Outcome,
    Reference,
    Rule,
    RuleConfig,
    RuleState,
    evidence_of,
    local_time,
)


class ElderlyNotSeenConfig(RuleConfig):
    min_age: Annotated[int, Field(ge=50, le=100)] = 70
    not_seen_hours: Annotated[float, Field(ge=4, le=168)] = 24.0


class ElderlyState(RuleState):
    """Written on every sighting, so it stays one sighting and a flag."""

    last_seen: Evidence
    """The latest sighting; its summary names the place."""
    place: str
    alerted: bool = False


class ElderlyNotSeenRule(Rule[DoorAccess | FaceCapture, ElderlyState, ElderlyNotSeenConfig]):
    name = "elderly_not_seen"
    alert_types = (AlertType.ELDERLY_NOT_SEEN,)
    Config = ElderlyNotSeenConfig
    State = ElderlyState
    gap_proves_absence = True
    """A 24-hour gap between two sightings is the welfare concern itself; a sighting on the
    other input that arrives later (while catching up on a backlog) resolves it."""

    def key(self, event: DoorAccess | FaceCapture, reference: Reference) -> str | None:
        person = seen_person(event)
        resident = reference.resident(person) if person is not None else None
        if resident is None or not resident.lives_alone or resident.age is None:
            return None
        return resident.person_id

    def apply(
        self,
        state: ElderlyState | None,
        event: DoorAccess | FaceCapture,
        config: ElderlyNotSeenConfig,
        reference: Reference,
    ) -> Outcome[ElderlyState]:
        person = seen_person(event)
        resident = reference.resident(person) if person is not None else None
        if resident is None or not watched(resident, config):
            return Outcome(None)
        if state is not None and event.occurred_at <= state.last_seen.occurred_at:
            return Outcome(state)
        place = place_of(event, reference)
        seen = ElderlyState(
            community_id=event.community_id,
            last_seen=evidence_of(event, f"{resident.person_id} seen at {place} {when(event)}"),
            place=place,
        )
        if state is None or not state.alerted:
            return Outcome(seen)
        return Outcome(seen, clearances=[seen_again(resident, state, seen)])

    def wake_at(self, state: ElderlyState, config: ElderlyNotSeenConfig) -> datetime | None:
        return None if state.alerted else overdue_at(state, config)

    def advance(
        self,
        state: ElderlyState,
        key: str,
        watermark: datetime,
        config: ElderlyNotSeenConfig,
        reference: Reference,
    ) -> Outcome[ElderlyState]:
        resident = reference.resident(key)
        if resident is None or not watched(resident, config):
            return Outcome(None)
        finding = not_seen_finding(resident, state, config)
        return Outcome(state.model_copy(update={"alerted": True}), findings=[finding])


def seen_person(event: DoorAccess | FaceCapture) -> str | None:
    if isinstance(event, DoorAccess):
        return event.person_id
    return event.matched_person_id


def place_of(event: DoorAccess | FaceCapture, reference: Reference) -> str:
    if isinstance(event, DoorAccess):
        return event.door_id
    return camera_place(event.camera_id, reference)


def watched(resident: Resident, config: ElderlyNotSeenConfig) -> bool:
    return resident.lives_alone and resident.age is not None and resident.age >= config.min_age


def overdue_at(state: ElderlyState, config: ElderlyNotSeenConfig) -> datetime:
    return state.last_seen.occurred_at + timedelta(hours=config.not_seen_hours)


def when(event: Event | Evidence) -> str:
    """Date and local time, since a day or more lies between sightings: 11-20 14:02."""
    return local_time(event.occurred_at).strftime("%m-%d %H:%M")


def not_seen_finding(
    resident: Resident, state: ElderlyState, config: ElderlyNotSeenConfig
) -> Finding:
    hours = f"{config.not_seen_hours:g}"
    last = when(state.last_seen)
    return Finding(
        alert_type=AlertType.ELDERLY_NOT_SEEN,
        severity=Severity.MEDIUM,
        community_id=state.community_id,
        subject_kind=SubjectKind.PERSON,
        subject=resident.person_id,
        occurred_at=overdue_at(state, config),
        explanation=Explanation(
            en=(
                f"{resident.person_id} (age {resident.age}, lives alone, unit "
                f"{resident.unit_door_id}) has not been seen by any door or camera for "
                f"{hours} h; last seen at {state.place} on {last}. Please check on them."
            ),
            zh=(
                f"独居老人 {resident.person_id}（{resident.age} 岁，{resident.unit_door_id}）"
                f"已超过 {hours} 小时未被任何门禁或摄像机记录，最后一次于 {last} "
                f"出现在 {state.place}，请上门查看"
            ),
        ),
        evidence=[state.last_seen],
    )


def seen_again(resident: Resident, before: ElderlyState, now: ElderlyState) -> Clearance:
    gap = now.last_seen.occurred_at - before.last_seen.occurred_at
    hours = f"{gap.total_seconds() / 3600:.0f}"
    return Clearance(
        alert_type=AlertType.ELDERLY_NOT_SEEN,
        community_id=now.community_id,
        subject=resident.person_id,
        occurred_at=now.last_seen.occurred_at,
        explanation=Explanation(
            en=(
                f"{resident.person_id} seen at {now.place} on {when(now.last_seen)}, "
                f"{hours} h after the previous sighting."
            ),
            zh=(
                f"{resident.person_id} 于 {when(now.last_seen)} 出现在 {now.place}，"
                f"距上次被记录 {hours} 小时"
            ),
        ),
    )

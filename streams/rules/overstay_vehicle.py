"""OVERSTAY_VEHICLE: a stranger's car entered a community and has not left.

An absence rule, per community and plate registered to no resident: the entry starts a
stay; once the event-time watermark passes entry + `max_stay_hours` with no exit read,
the stay is an overstay (strictly longer: a car leaving at exactly the limit is fine).
One finding per stay; the exit resolves it. A later entry without an exit in between
means the exit was missed, so the old stay ends there (resolving its alert) and a new
one starts. Reads older than the current stay's entry belong to an earlier stay and are
ignored, as is a second read of the entry itself. State exists only while the car is
inside.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field

from schemas.alerts import AlertType, Evidence, Severity, SubjectKind
from schemas.events import Direction, VehiclePassage
from streams.rules.rule import (
    Clearance,
    Explanation,
    Finding,
    Outcome,
    Reference,
    Rule,
    RuleConfig,
    RuleState,
    hhmm,
    local_time,
)

TICK = timedelta(milliseconds=1)
"""Event times carry millisecond precision: the first instant a stay exceeds the limit."""


class OverstayVehicleConfig(RuleConfig):
    max_stay_hours: Annotated[float, Field(ge=1, le=720)] = 24.0


class StayState(RuleState):
    entered_at: datetime
    entry_event: str
    """Event id of the entry read: the evidence an overstay alert points to."""
    gate_id: str
    alerted: bool = False


class OverstayVehicleRule(Rule[VehiclePassage, StayState, OverstayVehicleConfig]):
    name = "overstay_vehicle"
    alert_types = (AlertType.OVERSTAY_VEHICLE,)
    Config = OverstayVehicleConfig
    State = StayState

    def key(self, event: VehiclePassage, reference: Reference) -> str | None:
        if reference.resident_vehicle(event.plate) is not None:
            return None
        return f"{event.community_id}:{event.plate}"

    def apply(
        self,
        state: StayState | None,
        event: VehiclePassage,
        config: OverstayVehicleConfig,
        reference: Reference,
    ) -> Outcome[StayState]:
        if state is not None and (
            event.occurred_at < state.entered_at
            or (event.direction is Direction.IN and event.occurred_at == state.entered_at)
        ):
            return Outcome(state)
        ended = [stay_ended(event, state)] if state is not None and state.alerted else []
        if event.direction is Direction.OUT:
            return Outcome(None, clearances=ended)
        stay = StayState(
            entered_at=event.occurred_at, entry_event=event.event_id, gate_id=event.gate_id
        )
        return Outcome(stay, clearances=ended)

    def wake_at(self, state: StayState, config: OverstayVehicleConfig) -> datetime | None:
        return None if state.alerted else overstay_start(state, config)

    def advance(
        self,
        state: StayState,
        key: str,
        watermark: datetime,
        config: OverstayVehicleConfig,
        reference: Reference,
    ) -> Outcome[StayState]:
        community_id, plate = key.rsplit(":", 1)
        finding = overstay_finding(community_id, plate, state, config)
        return Outcome(state.model_copy(update={"alerted": True}), findings=[finding])


def overstay_start(state: StayState, config: OverstayVehicleConfig) -> datetime:
    return state.entered_at + timedelta(hours=config.max_stay_hours) + TICK


def day_and_time(at: datetime) -> str:
    return local_time(at).strftime("%m-%d %H:%M")


def overstay_finding(
    community_id: str, plate: str, state: StayState, config: OverstayVehicleConfig
) -> Finding:
    entered = day_and_time(state.entered_at)
    limit = f"{config.max_stay_hours:g}"
    return Finding(
        alert_type=AlertType.OVERSTAY_VEHICLE,
        severity=Severity.LOW,
        community_id=community_id,
        subject_kind=SubjectKind.PLATE,
        subject=plate,
        occurred_at=overstay_start(state, config),
        explanation=Explanation(
            en=(
                f"Plate {plate}, registered to no resident, entered community {community_id} "
                f"at gate {state.gate_id} at {entered} and has not been read leaving for "
                f"more than {limit} h."
            ),
            zh=(
                f"非登记车辆 {plate} 于 {entered} 从 {state.gate_id} 驶入 {community_id} 小区，"
                f"已超过 {limit} 小时未见驶出"
            ),
        ),
        evidence=[
            Evidence(
                event_id=state.entry_event,
                event_kind=VehiclePassage.kind,
                occurred_at=state.entered_at,
                summary=f"{plate} entered at gate {state.gate_id} at {entered}",
            )
        ],
    )


def stay_ended(event: VehiclePassage, state: StayState) -> Clearance:
    """Left (or, on a fresh entry, evidently left unseen) after an alerted overstay."""
    hours = (event.occurred_at - state.entered_at).total_seconds() / 3600
    at = hhmm(event.occurred_at)
    if event.direction is Direction.OUT:
        en = f"{event.plate} left at {at} at gate {event.gate_id} after {hours:.1f} h inside."
        zh = f"{event.plate} 已于 {at} 从 {event.gate_id} 驶出，停留 {hours:.1f} 小时"
    else:
        en = (
            f"{event.plate} entered again at {at} at gate {event.gate_id}, so it had left "
            f"unseen; {hours:.1f} h after the entry."
        )
        zh = (
            f"{event.plate} 于 {at} 从 {event.gate_id} 再次驶入，此前驶出未被识别"
            f"（距上次驶入 {hours:.1f} 小时）"
        )
    return Clearance(
        alert_type=AlertType.OVERSTAY_VEHICLE,
        community_id=event.community_id,
        subject=event.plate,
        occurred_at=event.occurred_at,
        explanation=Explanation(en=en, zh=zh),
    )

"""BRACELET_GEOFENCE_EXIT: a wearer left their own geofence (their community, or a child's
school route as a chain of circles).

GPS jitters by tens of metres, so one reading outside proves nothing: the alert needs
`min_outside_readings` consecutive positioned readings outside every circle. While the
wearer stays out, each further reading attaches its position to the open alert (the latest
track for whoever goes looking, without inflating the count); the first reading back
inside resolves it. Readings without a position, unknown bracelets and wearers without a
geofence never reach the rule. State exists only while the wearer is outside.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import BraceletReading, Wearer
from schemas.reference import BraceletWearer, distance_km
from streams.rules.rule import (
    Attachment,
    Clearance,
    Explanation,
    Finding,
    Outcome,
    Reference,
    Rule,
    RuleConfig,
    RuleState,
    evidence_of,
    hhmm,
)

SEVERITY = {Wearer.CHILD: Severity.HIGH, Wearer.ELDERLY: Severity.HIGH, Wearer.PET: Severity.LOW}
WEARER_EN = {Wearer.ELDERLY: "Elderly wearer", Wearer.CHILD: "Child", Wearer.PET: "Pet"}
WEARER_ZH = {Wearer.ELDERLY: "老人", Wearer.CHILD: "儿童", Wearer.PET: "宠物"}


class GeofenceExitConfig(RuleConfig):
    min_outside_readings: Annotated[int, Field(ge=1, le=20)] = 2


class OutsideState(RuleState):
    since: datetime
    """The first reading of this run outside."""
    readings: int = 0
    alerted: bool = False


class BraceletGeofenceExitRule(Rule[BraceletReading, OutsideState, GeofenceExitConfig]):
    name = "bracelet_geofence_exit"
    alert_types = (AlertType.BRACELET_GEOFENCE_EXIT,)
    Config = GeofenceExitConfig
    State = OutsideState

    def key(self, event: BraceletReading, reference: Reference) -> str | None:
        return event.bracelet_id if fenced(event, reference) else None

    def apply(
        self,
        state: OutsideState | None,
        event: BraceletReading,
        config: GeofenceExitConfig,
        reference: Reference,
    ) -> Outcome[OutsideState]:
        fix = fenced(event, reference)
        if fix is None:
            return Outcome(None)
        wearer, lat, lon = fix
        if wearer.inside(lat, lon):
            back = [back_inside(event, state.since)] if state and state.alerted else []
            return Outcome(None, clearances=back)
        beyond_m = min(
            distance_km(lat, lon, c.lat, c.lon) * 1000.0 - c.radius_m for c in wearer.geofence
        )
        state = state or OutsideState(community_id=event.community_id, since=event.occurred_at)
        state = state.model_copy(update={"readings": state.readings + 1})
        summary = f"{lat:.6f}, {lon:.6f}: {beyond_m:.0f} m outside the geofence"
        if state.alerted:
            track = Attachment(
                alert_type=AlertType.BRACELET_GEOFENCE_EXIT,
                community_id=event.community_id,
                subject=event.bracelet_id,
                occurred_at=event.occurred_at,
                evidence=[evidence_of(event, summary)],
            )
            return Outcome(state, attachments=[track])
        if state.readings < config.min_outside_readings:
            return Outcome(state)
        finding = exit_finding(event, wearer, state, lat, lon, beyond_m, summary)
        return Outcome(state.model_copy(update={"alerted": True}), findings=[finding])


def fenced(
    reading: BraceletReading, reference: Reference
) -> tuple[BraceletWearer, float, float] | None:
    """The wearer and position when the reading can be checked against a geofence."""
    if reading.lat is None or reading.lon is None:
        return None
    wearer = reference.bracelet(reading.bracelet_id)
    if wearer is None or not wearer.geofence:
        return None
    return wearer, reading.lat, reading.lon


def exit_finding(
    reading: BraceletReading,
    wearer: BraceletWearer,
    state: OutsideState,
    lat: float,
    lon: float,
    beyond_m: float,
    summary: str,
) -> Finding:
    circles = len(wearer.geofence)
    fence_en = "geofence" if circles == 1 else f"geofence ({circles} circles)"
    fence_zh = "电子围栏" if circles == 1 else f"电子围栏（{circles} 个圆区）"
    name_en = f" {wearer.name}" if wearer.name else ""
    where = f"{lat:.6f}, {lon:.6f}"
    since, now = hhmm(state.since), hhmm(reading.occurred_at)
    return Finding(
        alert_type=AlertType.BRACELET_GEOFENCE_EXIT,
        severity=SEVERITY[wearer.wearer],
        community_id=reading.community_id,
        subject_kind=SubjectKind.BRACELET,
        subject=reading.bracelet_id,
        occurred_at=reading.occurred_at,
        explanation=Explanation(
            en=(
                f"{WEARER_EN[wearer.wearer]}{name_en} (bracelet {reading.bracelet_id}) left their "
                f"{fence_en}: {state.readings} consecutive readings outside since {since}; "
                f"at {now} at {where}, {beyond_m:.0f} m beyond the nearest edge."
            ),
            zh=(
                f"{WEARER_ZH[wearer.wearer]}{wearer.name}（手环 {reading.bracelet_id}）"
                f"离开{fence_zh}："
                f"自 {since} 起连续 {state.readings} 次定位在围栏外，{now} 位于 {where}，"
                f"距最近围栏边界 {beyond_m:.0f} 米"
            ),
        ),
        evidence=[evidence_of(reading, summary)],
    )


def back_inside(reading: BraceletReading, since: datetime) -> Clearance:
    minutes = int((reading.occurred_at - since).total_seconds() // 60)
    now = hhmm(reading.occurred_at)
    return Clearance(
        alert_type=AlertType.BRACELET_GEOFENCE_EXIT,
        community_id=reading.community_id,
        subject=reading.bracelet_id,
        occurred_at=reading.occurred_at,
        explanation=Explanation(
            en=f"back inside the geofence at {now}, {minutes} min after leaving at {hhmm(since)}.",
            zh=f"{now} 已回到围栏内，离开 {minutes} 分钟（{hhmm(since)} 离开）",
        ),
    )

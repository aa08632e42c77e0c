"""EBIKE_IN_ELEVATOR: an elevator camera saw an e-bike in the car (batteries taken up to
flats are a leading cause of residential fires).

Stateless: each detection with confidence ≥ `min_confidence` (exactly 0.6 counts) is a
finding; the alert book folds repeats from the same camera into its open alert.
"""

from __future__ import annotations

from typing import ClassVar

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import CameraAnalytics, CameraAnalyticsKind, Event
from streams.rules.rule import (
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


class EbikeInElevatorConfig(RuleConfig):
    min_confidence: float = 0.6


class EbikeInElevatorRule(Rule[RuleState, EbikeInElevatorConfig]):
    name = "ebike_in_elevator"
    alert_types = (AlertType.EBIKE_IN_ELEVATOR,)
    inputs: ClassVar[tuple[type[Event], ...]] = (CameraAnalytics,)
    Config = EbikeInElevatorConfig

    def key(self, event: Event, reference: Reference) -> str | None:
        assert isinstance(event, CameraAnalytics)
        kind = event.analytics_kind
        return event.camera_id if kind is CameraAnalyticsKind.EBIKE_IN_ELEVATOR else None

    def apply(
        self,
        state: RuleState | None,
        event: Event,
        config: EbikeInElevatorConfig,
        reference: Reference,
    ) -> Outcome[RuleState]:
        assert isinstance(event, CameraAnalytics)
        if event.confidence < config.min_confidence:
            return Outcome(None)
        return Outcome(None, findings=[ebike_finding(event)])


def ebike_finding(event: CameraAnalytics) -> Finding:
    at = hhmm(event.occurred_at)
    snapshots = ", ".join(event.snapshot_refs) or "none"
    return Finding(
        alert_type=AlertType.EBIKE_IN_ELEVATOR,
        severity=Severity.HIGH,
        community_id=event.community_id,
        subject_kind=SubjectKind.CAMERA,
        subject=event.camera_id,
        occurred_at=event.occurred_at,
        explanation=Explanation(
            en=(
                f"Elevator camera {event.camera_id} saw an e-bike in the car at {at} "
                f"(confidence {event.confidence:.2f}; snapshots: {snapshots}). "
                "E-bikes must be charged in the shed, not taken upstairs."
            ),
            zh=(
                f"电梯摄像机 {event.camera_id} 于 {at} 检测到电动自行车进入电梯"
                f"（置信度 {event.confidence:.2f}，抓拍：{snapshots}），"
                "请劝阻电动车上楼入户充电"
            ),
        ),
        evidence=[
            evidence_of(
                event,
                f"e-bike in elevator, {event.camera_id} at {at} "
                f"(confidence {event.confidence:.2f}; snapshots: {snapshots})",
            )
        ],
    )

"""EBIKE_IN_ELEVATOR: an elevator camera saw an e-bike in the car (batteries taken up to
flats are a leading cause of residential fires).

Stateless: each detection with confidence ≥ `min_confidence` (exactly 0.6 counts) is a
finding; the alert book folds repeats from the same camera into its open alert.
"""

from __future__ import annotations

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import CameraAnalytics, CameraAnalyticsKind
from streams.rules.camera_detection import CameraDetectionConfig, CameraDetectionRule
from streams.rules.rule import (
    Explanation,
    Finding,
    Fraction,
    evidence_of,
    hhmm,
)


class EbikeInElevatorConfig(CameraDetectionConfig):
    min_confidence: Fraction = 0.6


class EbikeInElevatorRule(CameraDetectionRule):
    name = "ebike_in_elevator"
    alert_types = (AlertType.EBIKE_IN_ELEVATOR,)
    analytics_kind = CameraAnalyticsKind.EBIKE_IN_ELEVATOR
    Config = EbikeInElevatorConfig

    def finding(self, event: CameraAnalytics) -> Finding:
        return ebike_finding(event)


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

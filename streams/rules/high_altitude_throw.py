"""HIGH_ALTITUDE_THROW (高空抛物): a facade camera saw an object thrown or dropped from a
window.

Stateless: each detection with confidence ≥ `min_confidence` (exactly 0.5 counts) is a
finding naming the estimated floor and window, when the analytics estimated them, and the
snapshots officers need to trace the flat; repeats from the same camera fold into its
open alert.
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


class HighAltitudeThrowConfig(CameraDetectionConfig):
    min_confidence: Fraction = 0.5


class HighAltitudeThrowRule(CameraDetectionRule):
    name = "high_altitude_throw"
    alert_types = (AlertType.HIGH_ALTITUDE_THROW,)
    analytics_kind = CameraAnalyticsKind.HIGH_ALTITUDE_THROW
    Config = HighAltitudeThrowConfig

    def finding(self, event: CameraAnalytics) -> Finding:
        return throw_finding(event)


def throw_finding(event: CameraAnalytics) -> Finding:
    at = hhmm(event.occurred_at)
    origin_en, origin_zh = origin(event)
    snapshots = ", ".join(event.snapshot_refs) or "none"
    return Finding(
        alert_type=AlertType.HIGH_ALTITUDE_THROW,
        severity=Severity.HIGH,
        community_id=event.community_id,
        subject_kind=SubjectKind.CAMERA,
        subject=event.camera_id,
        occurred_at=event.occurred_at,
        explanation=Explanation(
            en=(
                f"Facade camera {event.camera_id} saw an object thrown from height at {at}, "
                f"{origin_en} (confidence {event.confidence:.2f}; snapshots: {snapshots})."
            ),
            zh=(
                f"外立面摄像机 {event.camera_id} 于 {at} 检测到高空抛物，{origin_zh}"
                f"（置信度 {event.confidence:.2f}，抓拍：{snapshots}）"
            ),
        ),
        evidence=[
            evidence_of(
                event,
                f"throw seen by {event.camera_id} at {at}, {origin_en}; snapshots: {snapshots}",
            )
        ],
    )


def origin(event: CameraAnalytics) -> tuple[str, str]:
    """Where the object came from, as far as the analytics estimated it."""
    if event.floor is None:
        return "floor not estimated", "楼层未能估算"
    if event.window_column is None:
        return f"from about floor {event.floor}", f"疑似来自 {event.floor} 楼"
    return (
        f"from about floor {event.floor}, window {event.window_column} from the facade's left",
        f"疑似来自 {event.floor} 楼左起第 {event.window_column} 扇窗",
    )

from datetime import timedelta

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import CameraAnalytics, CameraAnalyticsKind
from streams.rules.high_altitude_throw import HighAltitudeThrowRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, analytics

CAMERA = "c01-b01-facade"
SNAPSHOTS = ["snapshots/t1-0.jpg", "snapshots/t1-1.jpg"]


def harness(**overrides: float) -> RuleHarness:
    return RuleHarness(HighAltitudeThrowRule(), StaticReference(), **overrides)


def throw(
    at_minutes: float = 0.0,
    confidence: float = 0.8,
    floor: int | None = 12,
    window_column: int | None = 3,
) -> CameraAnalytics:
    seen = analytics(
        CAMERA,
        T0 + timedelta(minutes=at_minutes),
        CameraAnalyticsKind.HIGH_ALTITUDE_THROW,
        confidence=confidence,
        snapshot_refs=SNAPSHOTS,
    )
    return seen.model_copy(update={"floor": floor, "window_column": window_column})


def test_throw_names_camera_floor_window_and_snapshots() -> None:
    seen = throw()
    (alert,) = harness().feed([seen]).alerts
    assert alert.alert_type is AlertType.HIGH_ALTITUDE_THROW
    assert alert.severity is Severity.HIGH
    assert alert.subject_kind is SubjectKind.CAMERA and alert.subject == CAMERA
    assert "floor 12, window 3" in alert.explanation and "10:00" in alert.explanation
    assert all(ref in alert.explanation for ref in SNAPSHOTS)
    assert "12 楼左起第 3 扇窗" in alert.explanation_zh
    (evidence,) = alert.evidence
    assert evidence.event_id == seen.event_id
    assert all(ref in evidence.summary for ref in SNAPSHOTS)


def test_unestimated_floor_still_alerts() -> None:
    (finding,) = harness().feed([throw(floor=None, window_column=None)]).findings
    assert "floor not estimated" in finding.explanation.en


def test_floor_without_window() -> None:
    (finding,) = harness().feed([throw(window_column=None)]).findings
    assert "about floor 12 (" in finding.explanation.en


def test_low_confidence_is_a_near_miss() -> None:
    assert harness().feed([throw(confidence=0.49)]).findings == []


def test_confidence_exactly_at_the_minimum_fires() -> None:
    assert len(harness().feed([throw(confidence=0.5)]).findings) == 1


def test_repeats_across_a_restart_fold_into_one_alert() -> None:
    h = harness()
    h.feed([throw()])
    h.restart()
    run = h.feed([throw(at_minutes=3, floor=11)])
    (alert,) = run.open_alerts().values()
    assert alert.count == 2 and "floor 11" in alert.explanation

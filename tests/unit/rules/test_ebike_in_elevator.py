from datetime import timedelta

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import CameraAnalytics, CameraAnalyticsKind
from streams.rules.ebike_in_elevator import EbikeInElevatorRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, analytics

CAMERA = "c01-b02-elev"


def harness(**overrides: float) -> RuleHarness:
    return RuleHarness(EbikeInElevatorRule(), StaticReference(), **overrides)


def ebike(at_minutes: float = 0.0, confidence: float = 0.9) -> CameraAnalytics:
    return analytics(
        CAMERA,
        T0 + timedelta(minutes=at_minutes),
        CameraAnalyticsKind.EBIKE_IN_ELEVATOR,
        confidence=confidence,
        snapshot_refs=["snapshots/elev-1.jpg"],
    )


def test_confident_detection_raises_a_high_alert_on_the_camera() -> None:
    seen = ebike()
    (alert,) = harness().feed([seen]).alerts
    assert alert.alert_type is AlertType.EBIKE_IN_ELEVATOR
    assert alert.severity is Severity.HIGH
    assert alert.subject_kind is SubjectKind.CAMERA and alert.subject == CAMERA
    assert alert.evidence[0].event_id == seen.event_id
    assert "10:00" in alert.explanation and "snapshots/elev-1.jpg" in alert.explanation
    assert "电梯摄像机 c01-b02-elev" in alert.explanation_zh


def test_unsure_detection_is_a_near_miss() -> None:
    assert harness().feed([ebike(confidence=0.59)]).findings == []


def test_confidence_exactly_at_the_minimum_fires() -> None:
    assert len(harness().feed([ebike(confidence=0.6)]).findings) == 1
    assert harness(min_confidence=0.7).feed([ebike(confidence=0.69)]).findings == []


def test_other_analytics_are_ignored() -> None:
    dog = analytics(CAMERA, T0, CameraAnalyticsKind.STRAY_DOG)
    assert EbikeInElevatorRule().key(dog, StaticReference()) is None


def test_repeats_across_a_restart_fold_into_one_alert() -> None:
    """Stateless: the alert book, not the rule, keeps a second sighting from a new alert."""
    h = harness()
    h.feed([ebike()])
    h.restart()
    run = h.feed([ebike(at_minutes=5)])
    assert h.states == {}
    (alert,) = run.open_alerts().values()
    assert alert.count == 2 and len(alert.evidence) == 2

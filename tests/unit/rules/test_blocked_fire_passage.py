from datetime import datetime, timedelta

from schemas.alerts import AlertStatus, AlertType, Severity, SubjectKind
from schemas.events import CameraAnalytics, CameraAnalyticsKind
from streams.rules.blocked_fire_passage import BlockedFirePassageRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, analytics

CAMERA = "c01-pub3"


def harness(**overrides: float) -> RuleHarness:
    return RuleHarness(BlockedFirePassageRule(), StaticReference(), **overrides)


def blocked(at: datetime, camera: str = CAMERA) -> CameraAnalytics:
    return analytics(camera, at, CameraAnalyticsKind.BLOCKED_FIRE_PASSAGE)


def every_minute(first: int, last: int) -> list[CameraAnalytics]:
    return [blocked(T0 + timedelta(minutes=m)) for m in range(first, last + 1)]


def test_passage_blocked_for_over_ten_minutes_raises_one_medium_alert() -> None:
    run = harness().feed(every_minute(0, 15))
    (finding,) = run.findings
    assert finding.occurred_at == T0 + timedelta(minutes=11)
    assert finding.severity is Severity.MEDIUM
    assert finding.subject_kind is SubjectKind.CAMERA and finding.subject == CAMERA
    assert "since 10:00" in finding.explanation.en and "12 reports" in finding.explanation.en
    (alert,) = run.open_alerts().values()
    assert alert.alert_type is AlertType.BLOCKED_FIRE_PASSAGE and alert.count == 1


def test_blocked_for_eight_minutes_then_clear_is_a_near_miss() -> None:
    h = harness()
    h.feed(every_minute(0, 8))
    h.advance_to(T0 + timedelta(minutes=30))
    assert h.run.findings == [] and h.run.clearances == []
    assert h.states == {}


def test_exactly_ten_minutes_does_not_fire_a_second_more_does() -> None:
    h = harness()
    h.feed(every_minute(0, 10))
    assert h.run.findings == []
    h.feed([blocked(T0 + timedelta(minutes=10, seconds=1))])
    assert len(h.run.findings) == 1


def test_a_gap_of_exactly_three_minutes_continues_the_run() -> None:
    events = [blocked(T0 + timedelta(minutes=m)) for m in (0, 3, 6, 9, 11)]
    assert len(harness().feed(events).findings) == 1


def test_a_gap_longer_than_three_minutes_starts_over() -> None:
    h = harness()
    h.feed(every_minute(0, 5))
    h.feed([blocked(T0 + timedelta(minutes=8, milliseconds=1))])  # silent 3:00.001
    h.feed(every_minute(9, 18))
    assert h.run.findings == []
    h.feed([blocked(T0 + timedelta(minutes=18, seconds=1))])
    assert len(h.run.findings) == 1


def test_reports_stopping_resolve_the_alert_on_the_watermark() -> None:
    h = harness()
    h.feed(every_minute(0, 12))
    h.advance_to(T0 + timedelta(minutes=15))
    assert h.run.clearances == []
    h.feed([blocked(T0 + timedelta(minutes=16), camera="c01-pub4")])  # moves the watermark
    (clearance,) = h.run.clearances
    assert clearance.occurred_at == T0 + timedelta(minutes=15, milliseconds=1)
    assert "last reported the passage blocked at 10:12" in clearance.explanation.en
    alert = h.run.open_alerts()[h.run.alerts[0].alert_id]
    assert alert.status is AlertStatus.RESOLVED
    assert list(h.states) == ["c01-pub4"]


def test_a_new_run_before_the_watermark_resolves_the_old_alert_first() -> None:
    h = harness()
    h.feed(every_minute(0, 12))
    h.feed([blocked(T0 + timedelta(minutes=15, seconds=10))])
    assert len(h.run.clearances) == 1
    h.feed(every_minute(16, 26))
    assert len(h.run.findings) == 2
    assert len(h.run.open_alerts()) == 2


def test_restart_mid_run_still_counts_from_the_first_report() -> None:
    h = harness()
    h.feed(every_minute(0, 6))
    h.restart()
    run = h.feed(every_minute(7, 14))
    (finding,) = run.findings
    assert "since 10:00" in finding.explanation.en
    assert len(run.open_alerts()) == 1

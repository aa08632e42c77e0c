from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from schemas.alerts import AlertStatus, AlertType, Severity, SubjectKind
from schemas.events import BraceletReading, Wearer
from schemas.reference import BraceletWearer
from streams.rules.bracelet_inactive import BraceletInactiveRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, bracelet

GRANDPA = BraceletWearer(
    bracelet_id="c01-br01", community_id="c01", wearer=Wearer.ELDERLY, name="王建国"
)
JITTER = (0.0, 0.0001, -0.0001, 0.00015, 0.0)
"""Indoor GPS wander of up to about 17 m: not movement."""


def harness(**overrides: object) -> RuleHarness:
    return RuleHarness(BraceletInactiveRule(), StaticReference(bracelets=[GRANDPA]), **overrides)


def still(
    start: datetime, end: datetime, every: timedelta = timedelta(minutes=30)
) -> list[BraceletReading]:
    """Readings from `start` to `end` inclusive, all within a few metres of one spot."""
    count = int((end - start) / every)
    return [
        bracelet("c01-br01", start + i * every, lat=30.0 + JITTER[i % len(JITTER)], lon=120.0)
        for i in range(count + 1)
    ]


def moved(at: datetime) -> BraceletReading:
    return bracelet("c01-br01", at, lat=30.001, lon=120.0)


def test_four_still_daytime_hours_raise_medium_alert_and_moving_resolves_it() -> None:
    h = harness()
    h.feed(still(T0, T0 + timedelta(hours=4)))
    (alert,) = h.run.open_alerts().values()
    assert alert.alert_type is AlertType.BRACELET_INACTIVE
    assert alert.severity is Severity.MEDIUM
    assert (alert.subject_kind, alert.subject) == (SubjectKind.BRACELET, "c01-br01")
    assert alert.first_seen == T0 + timedelta(hours=4)
    assert "王建国" in alert.explanation and "since 10:00" in alert.explanation
    assert "30 m" in alert.explanation and "4 h of daytime" in alert.explanation
    assert "静止已满 4 小时" in alert.explanation_zh

    h.feed([moved(T0 + timedelta(hours=4, minutes=20))])
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED
    assert "moved 111 m at 14:20" in alert.explanation


def test_silent_bracelet_fires_on_the_watermark_at_exactly_four_hours() -> None:
    h = harness()
    first = still(T0, T0 + timedelta(minutes=10), every=timedelta(minutes=10))
    h.feed(first)
    h.advance_to(T0 + timedelta(hours=4) - timedelta(milliseconds=1))
    assert h.run.findings == []
    h.advance_to(T0 + timedelta(hours=4))
    (finding,) = h.run.findings
    assert finding.occurred_at == T0 + timedelta(hours=4)
    assert finding.evidence[0].event_id == first[0].event_id
    assert "last reading 10:10" in finding.explanation.en


def test_reading_a_second_short_of_four_hours_does_not_fire() -> None:
    h = harness()
    h.feed([bracelet("c01-br01", T0), bracelet("c01-br01", T0 + timedelta(hours=4, seconds=-1))])
    assert h.run.findings == []
    h.feed([bracelet("c01-br01", T0 + timedelta(hours=4))])
    assert len(h.run.findings) == 1


def test_walking_about_a_child_and_a_night_asleep_raise_nothing() -> None:
    h = harness()
    h.feed(
        bracelet("c01-br01", T0 + timedelta(hours=i), lat=30.0 + 0.0005 * (i % 2), lon=120.0)
        for i in range(7)
    )
    h.feed(bracelet("c01-br05", T0 + timedelta(hours=i), wearer=Wearer.CHILD) for i in range(7))
    assert h.run.findings == []

    h = harness()
    evening = T0 + timedelta(hours=10)
    h.feed(still(evening, evening + timedelta(hours=11, minutes=30)))
    h.advance_to(evening + timedelta(hours=11, minutes=59))
    assert h.run.findings == []


def test_evening_and_next_morning_add_up_to_four_daytime_hours() -> None:
    h = harness()
    six_pm = T0 + timedelta(hours=8)
    h.feed(still(six_pm, six_pm + timedelta(hours=1)))
    h.advance_to(six_pm + timedelta(hours=15, minutes=59))
    assert h.run.findings == []
    h.advance_to(six_pm + timedelta(hours=16))
    (finding,) = h.run.findings
    assert finding.occurred_at == six_pm + timedelta(hours=16)
    assert "since 11-20 18:00" in finding.explanation.en


def test_restart_mid_stillness_keeps_one_alert_that_resolves_on_moving() -> None:
    h = harness()
    readings = still(T0, T0 + timedelta(hours=6))
    h.feed(readings[:5])
    h.restart()
    h.feed(readings[5:9])
    assert len(h.run.findings) == 1
    h.restart()
    h.feed(readings[9:])
    h.advance_to(T0 + timedelta(hours=7))
    assert len(h.run.findings) == 1
    h.feed([moved(T0 + timedelta(hours=7))])
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED and alert.count == 1


def test_daytime_must_start_before_it_ends() -> None:
    with pytest.raises(ValidationError):
        BraceletInactiveRule.Config(day_start_hour=20, day_end_hour=8)

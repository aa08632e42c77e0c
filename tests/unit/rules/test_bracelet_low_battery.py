from datetime import timedelta

import pytest
from pydantic import ValidationError

from schemas.alerts import AlertStatus, AlertType, Severity, SubjectKind
from schemas.events import BraceletReading, Wearer
from streams.rules.bracelet_low_battery import BraceletLowBatteryRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, bracelet


def charge(*levels: float) -> list[BraceletReading]:
    return [
        bracelet("c01-br01", T0 + timedelta(minutes=10 * i), battery=level, wearer=Wearer.CHILD)
        for i, level in enumerate(levels)
    ]


def harness(**overrides: object) -> RuleHarness:
    return RuleHarness(BraceletLowBatteryRule(), StaticReference(), **overrides)


def test_low_battery_raises_low_alert_and_charging_resolves_it() -> None:
    h = harness()
    h.feed(charge(0.2, 0.14))
    (alert,) = h.run.open_alerts().values()
    assert alert.alert_type is AlertType.BRACELET_LOW_BATTERY
    assert alert.severity is Severity.LOW
    assert (alert.subject_kind, alert.subject) == (SubjectKind.BRACELET, "c01-br01")
    assert "14.0%" in alert.explanation and "below 15%" in alert.explanation
    assert "儿童" in alert.explanation_zh

    h.feed([bracelet("c01-br01", T0 + timedelta(hours=2), battery=0.9)])
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED and "charged to 90%" in alert.explanation


def test_battery_hovering_at_the_low_mark_alerts_once_without_flapping() -> None:
    h = harness()
    h.feed(charge(0.16, 0.149, 0.151, 0.149, 0.3, 0.149, 0.45))
    assert len(h.run.findings) == 1
    assert h.run.clearances == []
    assert len(h.run.alerts) == 1


def test_thresholds_are_strict_at_both_marks() -> None:
    h = harness()
    h.feed(charge(0.16, 0.15))
    assert h.run.findings == []
    h.feed(charge(0.1, 0.5))
    assert len(h.run.findings) == 1 and h.run.clearances == []
    h.feed([bracelet("c01-br01", T0 + timedelta(hours=1), battery=0.501)])
    assert len(h.run.clearances) == 1


def test_restart_while_low_keeps_the_single_alert_until_recharged() -> None:
    h = harness()
    h.feed(charge(0.12))
    h.restart()
    h.feed([bracelet("c01-br01", T0 + timedelta(minutes=m), battery=0.1) for m in (10, 20)])
    h.restart()
    assert len(h.run.findings) == 1
    h.feed([bracelet("c01-br01", T0 + timedelta(hours=1), battery=0.8)])
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED and alert.count == 1


def test_recharged_mark_must_be_above_the_low_mark() -> None:
    with pytest.raises(ValidationError):
        BraceletLowBatteryRule.Config(low_battery=0.3, recharged=0.3)

from datetime import timedelta

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import Wearer
from schemas.reference import BraceletWearer
from streams.rules.bracelet_sos import BraceletSosRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, bracelet

GRANDMA = BraceletWearer(
    bracelet_id="c01-br01", community_id="c01", wearer=Wearer.ELDERLY, name="张桂兰"
)


def harness() -> RuleHarness:
    return RuleHarness(BraceletSosRule(), StaticReference(bracelets=[GRANDMA]))


def test_sos_press_raises_critical_alert_with_wearer_position_and_battery() -> None:
    press = bracelet("c01-br01", T0, lat=30.001234, lon=120.005678, battery=0.42, sos=True)
    (alert,) = harness().feed([press]).alerts
    assert alert.alert_type is AlertType.BRACELET_SOS
    assert alert.severity is Severity.CRITICAL
    assert (alert.subject_kind, alert.subject) == (SubjectKind.BRACELET, "c01-br01")
    assert alert.evidence[0].event_id == press.event_id
    assert "elderly wearer 张桂兰" in alert.explanation
    assert "30.001234, 120.005678" in alert.explanation and "battery 42%" in alert.explanation
    assert "老人张桂兰" in alert.explanation_zh and "10:00" in alert.explanation_zh


def test_ordinary_readings_raise_nothing() -> None:
    readings = [bracelet("c01-br01", T0 + timedelta(minutes=m)) for m in range(10)]
    assert harness().feed(readings).alerts == []


def test_press_without_a_position_is_still_critical() -> None:
    press = bracelet("c01-br07", T0, lat=None, lon=None, sos=True, wearer=Wearer.CHILD)
    (alert,) = harness().feed([press]).alerts
    assert alert.severity is Severity.CRITICAL
    assert "child" in alert.explanation and "position unknown" in alert.explanation
    assert "位置未知" in alert.explanation_zh


def test_repeated_presses_across_a_restart_update_one_alert() -> None:
    h = harness()
    h.feed([bracelet("c01-br01", T0, sos=True)])
    h.restart()
    h.feed([bracelet("c01-br01", T0 + timedelta(minutes=1), sos=True)])
    (alert,) = h.run.open_alerts().values()
    assert alert.count == 2 and len(alert.evidence) == 2


def test_a_press_after_resolve_is_never_suppressed() -> None:
    assert BraceletSosRule.Config().suppress_minutes == 0

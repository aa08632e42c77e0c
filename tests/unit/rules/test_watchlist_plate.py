from datetime import timedelta

from schemas.alerts import AlertType, Severity, WatchlistCategory, WatchlistPlate
from streams.rules.watchlist_plate import WatchlistPlateRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, passage

WANTED = WatchlistPlate(
    plate="浙A12345", category=WatchlistCategory.WANTED, added_at=T0, note="robbery suspect"
)


def harness() -> RuleHarness:
    return RuleHarness(WatchlistPlateRule(), StaticReference(plates=[WANTED]))


def test_listed_plate_raises_critical_alert_with_passage_as_evidence() -> None:
    seen = passage("浙A12345", T0, gate_id="c01-g2")
    run = harness().feed([seen])
    (alert,) = run.alerts
    assert alert.alert_type is AlertType.WATCHLIST_PLATE
    assert alert.severity is Severity.CRITICAL
    assert alert.evidence[0].event_id == seen.event_id
    assert "c01-g2" in alert.explanation and "浙A12345" in alert.explanation_zh


def test_unlisted_plate_is_ignored() -> None:
    assert harness().feed([passage("浙A12346", T0)]).alerts == []


def test_second_sighting_while_open_updates_the_same_alert() -> None:
    run = harness().feed([passage("浙A12345", T0), passage("浙A12345", T0 + timedelta(hours=1))])
    latest = run.open_alerts()
    assert len(latest) == 1
    (alert,) = latest.values()
    assert alert.count == 2
    assert len(alert.evidence) == 2


def test_plate_formatting_at_the_gate_does_not_hide_a_listed_plate() -> None:
    """Boundary: the read is normalised (spaces, dot, case) before the exact comparison."""
    run = harness().feed([passage("浙a·123 45", T0)])
    assert [a.subject for a in run.alerts] == ["浙A12345"]


def test_plate_taken_off_the_list_stops_alerting() -> None:
    reference = StaticReference(plates=[WANTED])
    h = RuleHarness(WatchlistPlateRule(), reference)
    h.feed([passage("浙A12345", T0)])
    reference.plates.clear()
    h.feed([passage("浙A12345", T0 + timedelta(hours=1))])
    (alert,) = h.run.open_alerts().values()
    assert alert.count == 1

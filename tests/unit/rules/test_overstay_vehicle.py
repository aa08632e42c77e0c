from datetime import datetime, timedelta
from typing import Any

from schemas.alerts import AlertStatus, AlertType, Severity
from schemas.events import Direction, VehiclePassage
from schemas.reference import ResidentVehicle
from streams.rules.overstay_vehicle import OverstayVehicleRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, passage

PLATE = "皖H12345"
RESIDENT_PLATE = "皖H66666"
DAY = timedelta(hours=24)
MINUTE = timedelta(minutes=1)


def harness(**overrides: Any) -> RuleHarness:
    reference = StaticReference(
        vehicles=[ResidentVehicle(plate=RESIDENT_PLATE, community_id="c01", person_id="p1")]
    )
    return RuleHarness(OverstayVehicleRule(), reference, **overrides)


def enters(at: datetime, plate: str = PLATE, community_id: str = "c01") -> VehiclePassage:
    return passage(plate, at, community_id, gate_id=f"{community_id}-g1")


def leaves(at: datetime, plate: str = PLATE, community_id: str = "c01") -> VehiclePassage:
    return passage(plate, at, community_id, gate_id=f"{community_id}-g2", direction=Direction.OUT)


def clock(at: datetime) -> VehiclePassage:
    """A resident's read: moves event time (the watermark) without touching the rule."""
    return enters(at, RESIDENT_PLATE)


def test_stranger_inside_over_a_day_raises_one_low_alert() -> None:
    entry = enters(T0)
    run = harness().feed([entry, clock(T0 + DAY + MINUTE), clock(T0 + DAY + 2 * MINUTE)])
    (alert,) = run.alerts
    assert alert.alert_type is AlertType.OVERSTAY_VEHICLE
    assert alert.severity is Severity.LOW
    assert (alert.subject, alert.community_id) == (PLATE, "c01")
    assert alert.evidence[0].event_id == entry.event_id
    for text in (PLATE, "c01-g1", "11-20 10:00", "24 h"):
        assert text in alert.explanation
    assert "已超过 24 小时未见驶出" in alert.explanation_zh


def test_visitor_leaving_within_the_day_and_resident_car_are_quiet() -> None:
    run = harness().feed(
        [
            enters(T0),
            enters(T0, RESIDENT_PLATE),
            leaves(T0 + 23 * timedelta(hours=1)),
            clock(T0 + 3 * DAY),
        ]
    )
    assert run.alerts == []
    assert run.clearances == []


def test_leaving_at_exactly_the_limit_is_fine_a_millisecond_longer_is_not() -> None:
    h = harness(max_stay_hours=12)
    h.feed([enters(T0), enters(T0, community_id="c02"), leaves(T0 + DAY / 2, community_id="c02")])
    h.advance_to(T0 + DAY / 2)
    assert h.run.alerts == []
    h.advance_to(T0 + DAY / 2 + timedelta(milliseconds=1))
    (alert,) = h.run.alerts
    assert alert.community_id == "c01"
    assert "more than 12 h" in alert.explanation


def test_exit_after_the_alert_resolves_it() -> None:
    run = harness().feed([enters(T0), clock(T0 + DAY + MINUTE), leaves(T0 + DAY + 2 * MINUTE)])
    (alert,) = run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED
    assert "left at 10:02" in alert.explanation
    assert "停留 24.0 小时" in alert.explanation_zh


def test_restarts_keep_the_stay_and_raise_exactly_one_alert() -> None:
    h = harness()
    h.feed([enters(T0), clock(T0 + DAY / 2)])
    h.restart()
    h.feed([clock(T0 + DAY + MINUTE)])
    h.restart()
    run = h.feed([clock(T0 + 2 * DAY), leaves(T0 + 2 * DAY + MINUTE)])
    assert len(run.findings) == 1
    (alert,) = run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED
    assert h.states == {}


def test_entry_without_exit_restarts_the_stay_and_ends_an_alerted_one() -> None:
    h = harness()
    h.feed([enters(T0), enters(T0 + 10 * timedelta(hours=1)), clock(T0 + DAY + MINUTE)])
    assert h.run.alerts == []
    h.feed([clock(T0 + DAY + 10 * timedelta(hours=1) + MINUTE)])
    assert len(h.run.alerts) == 1
    run = h.feed([enters(T0 + 2 * DAY)])
    (alert,) = run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED
    assert "entered again" in alert.explanation


def test_late_reads_of_an_earlier_stay_or_of_the_entry_itself_are_ignored() -> None:
    run = harness().feed(
        [
            enters(T0),
            leaves(T0 - timedelta(hours=1)),
            clock(T0 + DAY + MINUTE),
            enters(T0),
            enters(T0 - timedelta(hours=2)),
        ]
    )
    assert len(run.alerts) == 1
    assert run.clearances == []

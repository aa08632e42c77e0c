from datetime import datetime, timedelta
from typing import Any

from schemas.alerts import AlertType, Severity
from schemas.events import Direction, VehiclePassage
from schemas.reference import DISTRICT_TZ, ResidentVehicle
from streams.rules.roaming_vehicle import RoamingVehicleRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, passage

PLATE = "苏E88888"
RESIDENT_PLATE = "苏E66666"


def harness(**overrides: Any) -> RuleHarness:
    reference = StaticReference(
        vehicles=[ResidentVehicle(plate=RESIDENT_PLATE, community_id="c01", person_id="p1")]
    )
    return RuleHarness(RoamingVehicleRule(), reference, **overrides)


def enters(community_id: str, at: datetime, plate: str = PLATE) -> VehiclePassage:
    return passage(plate, at, community_id)


def leaves(community_id: str, at: datetime, plate: str = PLATE) -> VehiclePassage:
    return passage(plate, at, community_id, direction=Direction.OUT)


def night(number: int, hour: int = 2, minute: int = 10) -> datetime:
    """Local time in night `number` (night 1 ends on Saturday 2026-11-21)."""
    return datetime(2026, 11, 20, hour, minute, tzinfo=DISTRICT_TZ) + timedelta(days=number)


def test_three_communities_in_two_hours_raise_medium_alert_listing_them() -> None:
    events = [
        enters("c01", T0),
        leaves("c01", T0 + timedelta(minutes=20)),
        enters("c02", T0 + timedelta(minutes=40)),
        enters("c03", T0 + timedelta(minutes=90)),
    ]
    run = harness().feed(events)
    (alert,) = run.alerts
    assert alert.alert_type is AlertType.ROAMING_VEHICLE
    assert alert.severity is Severity.MEDIUM
    assert (alert.subject, alert.community_id) == (PLATE, "c03")
    for text in ("3 communities within 1 h 30 min", "c01 at 10:00", "c02 at 10:40", "c03 at 11:30"):
        assert text in alert.explanation
    assert "先后驶入 3 个小区" in alert.explanation_zh
    assert [e.event_id for e in alert.evidence] == [
        events[0].event_id,
        *(e.event_id for e in events[2:]),
    ]


def test_delivery_van_in_two_communities_and_resident_car_anywhere_are_quiet() -> None:
    run = harness().feed(
        [
            enters("c01", T0),
            leaves("c01", T0 + timedelta(minutes=10)),
            enters("c02", T0 + timedelta(minutes=30)),
            enters("c01", T0 + timedelta(minutes=60)),
            enters("c01", T0, RESIDENT_PLATE),
            enters("c02", T0 + timedelta(minutes=10), RESIDENT_PLATE),
            enters("c03", T0 + timedelta(minutes=20), RESIDENT_PLATE),
            enters("c04", T0 + timedelta(minutes=30), RESIDENT_PLATE),
        ]
    )
    assert run.alerts == []


def test_third_community_at_exactly_window_fires_a_minute_later_does_not() -> None:
    def tour(last: timedelta) -> list[VehiclePassage]:
        return [enters("c01", T0), enters("c02", T0 + timedelta(hours=1)), enters("c03", T0 + last)]

    assert len(harness().feed(tour(timedelta(hours=2))).alerts) == 1
    assert harness().feed(tour(timedelta(hours=2, minutes=1))).alerts == []
    assert harness(min_communities=4).feed(tour(timedelta(hours=1, minutes=30))).alerts == []


def test_late_entry_completes_the_tour_dated_at_its_last_entry() -> None:
    """Replayed out of order, the alert still says where and when the tour was complete."""
    run = harness().feed(
        [
            enters("c01", T0),
            enters("c03", T0 + timedelta(minutes=50)),
            enters("c02", T0 + timedelta(minutes=20)),
        ]
    )
    (alert,) = run.alerts
    assert alert.community_id == "c03"
    assert alert.first_seen == T0 + timedelta(minutes=50)


def test_night_entries_on_three_nights_in_a_week_raise_an_alert_listing_the_nights() -> None:
    run = harness().feed(
        [
            enters("c01", night(1)),
            leaves("c01", night(1, 3)),
            enters("c01", night(3, 0, 30)),
            enters("c01", night(5, 4, 59)),
        ]
    )
    (alert,) = run.alerts
    assert alert.community_id == "c01"
    assert "at night (00:00–05:00) on 3 nights within 7 days" in alert.explanation
    for text in ("11-21 02:10", "11-23 00:30", "11-25 04:59"):
        assert text in alert.explanation
    assert "3 个夜间" in alert.explanation_zh and "11月25日 04:59" in alert.explanation_zh


def test_visitor_on_two_nights_or_at_dawn_or_in_other_communities_is_quiet() -> None:
    run = harness().feed(
        [
            enters("c01", night(1)),
            enters("c01", night(1, 4)),
            enters("c01", night(2)),
            enters("c01", night(3, 5, 0)),
            enters("c02", night(4)),
            leaves("c01", night(5)),
        ]
    )
    assert run.alerts == []


def test_three_nights_spanning_seven_nights_fire_spanning_eight_do_not() -> None:
    assert len(harness().feed([enters("c01", night(n)) for n in (1, 4, 7)]).alerts) == 1
    assert harness().feed([enters("c01", night(n)) for n in (1, 4, 8)]).alerts == []


def test_night_wrapping_midnight_is_one_night() -> None:
    late_evening = [enters("c01", night(n, 23) - timedelta(days=1)) for n in (1, 2)]
    small_hours = [enters("c01", night(n, 1)) for n in (1, 2)]
    config = {"night_start_hour": 22, "night_end_hour": 5}
    assert harness(**config).feed([*late_evening, *small_hours]).alerts == []
    third = enters("c01", night(3, 22) - timedelta(days=1))
    assert len(harness(**config).feed([*late_evening, *small_hours, third]).alerts) == 1


def test_restart_midway_still_raises_exactly_one_alert_per_pattern() -> None:
    h = harness()
    h.feed([enters("c01", night(1)), enters("c01", night(2))])
    h.restart()
    h.feed([enters("c01", night(3)), enters("c02", night(4, 10))])
    h.restart()
    h.feed([enters("c03", night(4, 11))])
    h.restart()
    run = h.feed([enters("c04", night(4, 11, 30))])
    assert [a.community_id for a in run.alerts] == ["c01", "c04"]
    assert "c02 at 10:10" in run.alerts[1].explanation


def test_plate_loses_its_key_once_day_and_night_entries_have_aged_out() -> None:
    h = harness()
    h.feed([enters("c01", T0), enters("c01", night(1)), enters("c09", night(9), "苏E00001")])
    assert PLATE in h.states
    h.feed([enters("c09", night(9, 2, 11), "苏E00001")])
    assert PLATE not in h.states

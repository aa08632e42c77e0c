from datetime import datetime, timedelta
from typing import Any

from schemas.alerts import AlertType, Severity
from schemas.events import DeviceKind, Direction, VehiclePassage
from schemas.reference import Community, Device, distance_km
from streams.rules.cloned_plate import KEPT, ClonedPlateRule, PlateTrail
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, passage

KM_PER_DEGREE = 111.195
PLATE = "鄂A12345"
AT_1402 = T0 + timedelta(hours=4, minutes=2)


def north(km: float) -> float:
    """The latitude `km` north of the district's reference point (30°N, 120°E)."""
    return 30.0 + km / KM_PER_DEGREE


def community(community_id: str, km_north: float) -> Community:
    return Community(
        community_id=community_id,
        name=community_id,
        district="d1",
        lat=north(km_north),
        lon=120.0,
    )


def camera(gate_id: str, name: str, km_north: float) -> Device:
    return Device(
        device_id=f"{gate_id}-anpr",
        community_id=gate_id.split("-")[0],
        device_kind=DeviceKind.CAMERA,
        place=gate_id,
        name=name,
        lat=north(km_north),
        lon=120.0,
    )


C01, C02, C07 = community("c01", 0.0), community("c02", 3.0), community("c07", 18.0)
NORTH_GATE = camera("c01-g1", "北门", 0.0)
SOUTH_GATE = camera("c01-g2", "南门", -0.4)
EAST_GATE = camera("c07-g1", "东门", 18.0)
GATE_KM = distance_km(north(0.0), 120.0, north(18.0), 120.0)


def harness(**overrides: Any) -> RuleHarness:
    reference = StaticReference(
        communities=[C01, C02, C07], devices=[NORTH_GATE, SOUTH_GATE, EAST_GATE]
    )
    return RuleHarness(ClonedPlateRule(), reference, **overrides)


def at_north(at: datetime, direction: Direction = Direction.IN) -> VehiclePassage:
    return passage(PLATE, at, "c01", "c01-g1", direction)


def at_east(at: datetime, direction: Direction = Direction.IN) -> VehiclePassage:
    return passage(PLATE, at, "c07", "c07-g1", direction)


def test_reads_18_km_apart_7_minutes_apart_raise_high_alert() -> None:
    first, second = at_north(AT_1402), at_east(AT_1402 + timedelta(minutes=7))
    run = harness().feed([first, second])
    (alert,) = run.alerts
    assert alert.alert_type is AlertType.CLONED_PLATE
    assert alert.severity is Severity.HIGH
    assert (alert.subject, alert.community_id) == (PLATE, "c07")
    assert [e.event_id for e in alert.evidence] == [first.event_id, second.event_id]
    assert alert.explanation_zh.startswith(
        "鄂A12345 于 14:02 出现在 c01 小区 北门，14:09 出现在相距 18 km 的 c07 小区 东门"
        "（推算时速 154 km/h"
    )
    for text in ("14:02", "北门", "14:09", "东门", "18 km", "154 km/h"):
        assert text in alert.explanation


def test_legal_driving_between_nearby_gates_and_communities_is_quiet() -> None:
    run = harness().feed(
        [
            at_north(T0, Direction.IN),
            passage(PLATE, T0 + timedelta(seconds=5), "c01", "c01-g2", Direction.OUT),
            passage(PLATE, T0 + timedelta(minutes=10), "c02", "c02-g1", Direction.IN),
        ]
    )
    assert run.alerts == []


def test_speed_just_above_the_limit_fires_just_below_does_not() -> None:
    at_limit = timedelta(hours=GATE_KM / 120.0)
    fast = harness().feed([at_north(T0), at_east(T0 + at_limit - timedelta(seconds=1))])
    slow = harness().feed([at_north(T0), at_east(T0 + at_limit + timedelta(seconds=1))])
    assert len(fast.alerts) == 1
    assert slow.alerts == []


def test_pairs_closer_than_min_distance_never_fire() -> None:
    run = harness(min_distance_km=GATE_KM + 0.1).feed(
        [at_north(T0), at_east(T0 + timedelta(minutes=1))]
    )
    assert run.alerts == []


def test_late_read_pairs_with_later_one_and_same_instant_is_infinitely_fast() -> None:
    run = harness().feed([at_east(T0 + timedelta(minutes=3)), at_north(T0 + timedelta(minutes=3))])
    (alert,) = run.alerts
    assert "at the same instant" in alert.explanation
    assert "同一时刻" in alert.explanation_zh
    late = harness().feed([at_east(T0 + timedelta(minutes=5)), at_north(T0)])
    (alert,) = late.alerts
    assert alert.community_id == "c07"
    assert "10:00" in alert.explanation and "10:05" in alert.explanation


def test_gate_without_coordinates_falls_back_to_its_community() -> None:
    reference = StaticReference(communities=[C01, C07])
    run = RuleHarness(ClonedPlateRule(), reference).feed(
        [at_north(T0), at_east(T0 + timedelta(minutes=5))]
    )
    (alert,) = run.alerts
    assert "c01-g1" in alert.explanation and "c07-g1" in alert.explanation


def inside_two(stay: timedelta) -> list[VehiclePassage]:
    """In c01, then (legally, hours later) into c02, then out of c01 after `stay`."""
    return [
        at_north(T0, Direction.IN),
        passage(PLATE, T0 + timedelta(hours=4), "c02", "c02-g1", Direction.IN),
        passage(PLATE, T0 + stay, "c01", "c01-g2", Direction.OUT),
    ]


def test_entering_another_community_while_inside_one_fires_on_the_exit() -> None:
    events = inside_two(timedelta(hours=6))
    run = harness().feed(events)
    (alert,) = run.alerts
    assert alert.community_id == "c01"
    assert [e.event_id for e in alert.evidence] == [e.event_id for e in events]
    for text in ("c02", "14:00", "10:00", "16:00", "北门", "南门", "3.0 km"):
        assert text in alert.explanation
    assert "同时出现在两个小区" in alert.explanation_zh


def test_stay_of_max_inside_hours_fires_one_minute_longer_does_not() -> None:
    assert len(harness().feed(inside_two(timedelta(hours=12))).alerts) == 1
    assert harness().feed(inside_two(timedelta(hours=12, minutes=1))).alerts == []


def test_missed_exit_then_read_re_entry_is_not_two_places_at_once() -> None:
    run = harness().feed(
        [
            at_north(T0, Direction.IN),
            passage(PLATE, T0 + timedelta(hours=2), "c02", "c02-g1", Direction.IN),
            passage(PLATE, T0 + timedelta(hours=3), "c02", "c02-g1", Direction.OUT),
            at_north(T0 + timedelta(hours=4), Direction.IN),
            at_north(T0 + timedelta(hours=5), Direction.OUT),
        ]
    )
    assert run.alerts == []


def test_restart_between_the_two_reads_still_raises_exactly_one_alert() -> None:
    h = harness()
    h.feed([at_north(AT_1402)])
    h.restart()
    h.feed([at_east(AT_1402 + timedelta(minutes=7))])
    h.restart()
    run = h.feed([at_east(AT_1402 + timedelta(minutes=8), Direction.OUT)])
    assert len(run.open_alerts()) == 1
    (alert,) = run.open_alerts().values()
    assert alert.count == 2


def test_state_keeps_only_recent_reads() -> None:
    h = harness()
    h.feed(at_north(T0 + timedelta(minutes=20 * n)) for n in range(100))
    trail = PlateTrail.model_validate_json(h.states[PLATE])
    assert len(trail.sightings) == KEPT
    assert trail.sightings[-1].at == T0 + timedelta(minutes=20 * 99)
    h.feed([at_north(T0 + timedelta(days=3))])
    assert len(PlateTrail.model_validate_json(h.states[PLATE]).sightings) == 1


def test_plate_unseen_for_the_window_loses_its_key() -> None:
    h = harness()
    h.feed([at_north(T0)])
    h.feed([passage("鄂B00001", T0 + timedelta(hours=24, seconds=29))])
    assert PLATE in h.states
    h.feed([passage("鄂B00001", T0 + timedelta(hours=24, seconds=30))])
    assert PLATE not in h.states

from datetime import datetime, timedelta

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import CameraAnalytics, CameraAnalyticsKind
from streams.rules.stray_dog import Sightings, StrayDogRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, analytics


def harness(**overrides: float) -> RuleHarness:
    return RuleHarness(StrayDogRule(), StaticReference(), **overrides)


def dog(camera: str, at: datetime) -> CameraAnalytics:
    return analytics(camera, at, CameraAnalyticsKind.STRAY_DOG)


def test_three_sightings_in_a_day_raise_a_low_alert_on_the_community() -> None:
    run = harness().feed(
        [
            dog("c01-pub1", T0),
            dog("c01-pub2", T0 + timedelta(hours=3)),
            dog("c01-pub1", T0 + timedelta(hours=9)),
        ]
    )
    (alert,) = run.alerts
    assert alert.alert_type is AlertType.STRAY_DOG
    assert alert.severity is Severity.LOW
    assert alert.subject_kind is SubjectKind.COMMUNITY and alert.subject == "c01"
    assert "3 stray-dog sightings" in alert.explanation
    assert "c01-pub1 19:00, c01-pub2 13:00, c01-pub1 10:00" in alert.explanation
    assert len(alert.evidence) == 3


def test_exactly_three_fire_two_do_not() -> None:
    h = harness()
    h.feed([dog("c01-pub1", T0), dog("c01-pub2", T0 + timedelta(minutes=1))])
    assert h.run.findings == []
    h.feed([dog("c01-pub3", T0 + timedelta(minutes=2))])
    assert len(h.run.findings) == 1


def test_one_dog_lingering_at_one_camera_is_a_near_miss() -> None:
    reports = [dog("c01-pub1", T0 + timedelta(minutes=m)) for m in range(0, 60, 4)]
    h = harness()
    assert h.feed(reports).findings == []


def test_same_camera_gap_of_exactly_five_minutes_is_the_same_dog() -> None:
    h = harness()
    h.feed([dog("c01-pub1", T0), dog("c01-pub1", T0 + timedelta(minutes=5))])
    h.feed([dog("c01-pub2", T0 + timedelta(minutes=6))])
    assert h.run.findings == []
    h.feed([dog("c01-pub1", T0 + timedelta(minutes=10, seconds=1))])
    assert len(h.run.findings) == 1


def test_window_of_exactly_twenty_four_hours_counts_a_second_more_does_not() -> None:
    day = timedelta(hours=24)
    inside = [dog("c01-pub1", T0), dog("c01-pub2", T0 + timedelta(hours=12))]
    assert len(harness().feed([*inside, dog("c01-pub3", T0 + day)]).findings) == 1
    late = dog("c01-pub3", T0 + day + timedelta(seconds=1))
    assert harness().feed([*inside, late]).findings == []


def test_restart_keeps_the_sightings_and_later_ones_update_the_one_alert() -> None:
    h = harness()
    h.feed([dog("c01-pub1", T0), dog("c01-pub2", T0 + timedelta(hours=1))])
    h.restart()
    h.feed([dog("c01-pub3", T0 + timedelta(hours=2))])
    h.restart()
    run = h.feed(
        [
            dog("c01-pub3", T0 + timedelta(hours=2, minutes=3)),  # same dog: no finding
            dog("c01-pub4", T0 + timedelta(hours=5)),
        ]
    )
    assert len(run.findings) == 2
    (alert,) = run.open_alerts().values()
    assert alert.count == 2 and "4 stray-dog sightings" in alert.explanation


def test_old_sightings_are_pruned_from_state() -> None:
    h = harness()
    h.feed([dog(f"c01-pub{i}", T0 + timedelta(hours=10 * i)) for i in range(1, 6)])
    state = Sightings.model_validate_json(h.states["c01"])
    assert [s.camera_id for s in state.sightings] == ["c01-pub3", "c01-pub4", "c01-pub5"]

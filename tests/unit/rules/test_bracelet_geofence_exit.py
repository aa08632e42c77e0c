from datetime import timedelta

from schemas.alerts import AlertStatus, AlertType, Severity, SubjectKind
from schemas.events import BraceletReading, Wearer
from schemas.reference import BraceletWearer, GeofenceCircle, distance_km
from streams.rules.bracelet_geofence_exit import BraceletGeofenceExitRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, bracelet

HOME = GeofenceCircle(lat=30.0, lon=120.0, radius_m=300)
SCHOOL_ROUTE = [GeofenceCircle(lat=30.0 + 0.003 * i, lon=120.0, radius_m=200) for i in range(3)]
"""Circles 333 m apart with 200 m radii: a chain from home (30.000) to school (30.006)."""
GRANDMA = BraceletWearer(
    bracelet_id="c01-br01", community_id="c01", wearer=Wearer.ELDERLY, geofence=[HOME]
)
PUPIL = BraceletWearer(
    bracelet_id="c01-br02",
    community_id="c01",
    wearer=Wearer.CHILD,
    name="小明",
    geofence=SCHOOL_ROUTE,
)
DOG = BraceletWearer(bracelet_id="c01-br03", community_id="c01", wearer=Wearer.PET, geofence=[HOME])
UNFENCED = BraceletWearer(bracelet_id="c01-br04", community_id="c01", wearer=Wearer.ELDERLY)
OUT_LAT = 30.005
"""About 556 m north of home: well past its 300 m circle."""


def harness(**overrides: object) -> RuleHarness:
    reference = StaticReference(bracelets=[GRANDMA, PUPIL, DOG, UNFENCED])
    return RuleHarness(BraceletGeofenceExitRule(), reference, **overrides)


def walk(
    bracelet_id: str, *lats: float | None, wearer: Wearer = Wearer.ELDERLY
) -> list[BraceletReading]:
    """One reading a minute from T0 at these latitudes (None: a reading without a fix)."""
    return [
        bracelet(
            bracelet_id,
            T0 + timedelta(minutes=i),
            lat=lat,
            lon=None if lat is None else 120.0,
            wearer=wearer,
        )
        for i, lat in enumerate(lats)
    ]


def test_two_readings_outside_raise_high_alert_and_coming_back_resolves_it() -> None:
    h = harness()
    h.feed(walk("c01-br01", 30.0, OUT_LAT, OUT_LAT))
    (alert,) = h.run.open_alerts().values()
    assert alert.alert_type is AlertType.BRACELET_GEOFENCE_EXIT
    assert alert.severity is Severity.HIGH
    assert (alert.subject_kind, alert.subject) == (SubjectKind.BRACELET, "c01-br01")
    beyond = distance_km(OUT_LAT, 120.0, 30.0, 120.0) * 1000 - 300
    assert f"{beyond:.0f} m beyond the nearest edge" in alert.explanation
    assert "since 10:01" in alert.explanation and f"{beyond:.0f} 米" in alert.explanation_zh

    h.feed([bracelet("c01-br01", T0 + timedelta(minutes=9), lat=30.001, lon=120.0)])
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED
    assert "8 min after leaving at 10:01" in alert.explanation


def test_child_walking_the_school_route_and_a_single_jitter_raise_nothing() -> None:
    h = harness()
    route = [0.0, 0.0015, 0.003, 0.0045, 0.006, 0.0045, 0.003, 0.0015, 0.0]
    h.feed(walk("c01-br02", *(30.0 + d for d in route), wearer=Wearer.CHILD))
    h.feed(walk("c01-br01", 30.0, 30.001, OUT_LAT, 30.001, OUT_LAT, 30.0))
    assert h.run.findings == []


def test_exactly_the_minimum_run_of_readings_outside_fires() -> None:
    h = harness()
    h.feed(walk("c01-br01", OUT_LAT))
    assert h.run.findings == []
    h.feed([bracelet("c01-br01", T0 + timedelta(minutes=1), lat=OUT_LAT, lon=120.0)])
    assert len(h.run.findings) == 1

    h = harness(min_outside_readings=3)
    h.feed(walk("c01-br01", OUT_LAT, OUT_LAT))
    assert h.run.findings == []


def test_restart_mid_exit_keeps_the_run_and_one_alert_that_tracks_the_wearer() -> None:
    h = harness()
    readings = walk("c01-br02", 30.0, 30.01, 30.011, 30.012, 30.013, 30.006, wearer=Wearer.CHILD)
    h.feed(readings[:2])
    h.restart()
    h.feed(readings[2:3])
    assert len(h.run.findings) == 1
    h.restart()
    h.feed(readings[3:5])
    (alert,) = h.run.open_alerts().values()
    assert alert.count == 1
    assert [e.event_id for e in alert.evidence] == [r.event_id for r in readings[2:5]]
    assert "小明" in alert.explanation_zh and "3 circles" in alert.explanation

    h.feed(readings[5:])
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED


def test_readings_without_a_fix_are_ignored_and_do_not_break_the_run() -> None:
    h = harness()
    h.feed(walk("c01-br01", OUT_LAT, None, OUT_LAT))
    assert len(h.run.findings) == 1


def test_pet_is_low_and_unknown_or_unfenced_bracelets_never_fire() -> None:
    h = harness()
    h.feed(walk("c01-br03", OUT_LAT, OUT_LAT, wearer=Wearer.PET))
    assert [f.severity for f in h.run.findings] == [Severity.LOW]
    h.feed(walk("c01-br04", OUT_LAT, OUT_LAT, OUT_LAT))
    h.feed(walk("c01-br99", OUT_LAT, OUT_LAT, OUT_LAT))
    assert len(h.run.findings) == 1

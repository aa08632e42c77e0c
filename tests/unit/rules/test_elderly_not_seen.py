from datetime import datetime, timedelta

import pytest

from schemas.alerts import AlertStatus, AlertType, Severity, SubjectKind
from schemas.events import DoorKind, Event
from schemas.reference import Resident
from streams.rules.elderly_not_seen import ElderlyNotSeenRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, door, face
from tests.unit.rules.test_visitor_gallery import Faces

HOME = "c01-b02-u1"
DAY = timedelta(hours=24)
LATENESS = timedelta(seconds=30)


def resident(person_id: str, age: int | None = 78, lives_alone: bool = True) -> Resident:
    return Resident(
        person_id=person_id,
        community_id="c01",
        unit_door_id=HOME,
        age=age,
        lives_alone=lives_alone,
    )


def harness(*residents: Resident) -> RuleHarness:
    reference = StaticReference(residents=list(residents) or [resident("p-gran")])
    return RuleHarness(ElderlyNotSeenRule(), reference)


def tick(at: datetime) -> Event:
    """Other traffic: moves the watermark to `at` minus the lateness."""
    return door("c01-pg1", at, door_kind=DoorKind.GATE)


def test_not_seen_for_a_day_raises_one_medium_alert_with_the_last_sighting() -> None:
    h = harness()
    seen = door(HOME, T0, person_id="p-gran")
    h.feed([seen, tick(T0 + timedelta(hours=12)), tick(T0 + DAY + LATENESS)])
    h.feed([tick(T0 + 2 * DAY)])
    (finding,) = h.run.of(AlertType.ELDERLY_NOT_SEEN)
    assert finding.occurred_at == T0 + DAY
    (alert,) = h.run.alerts
    assert alert.severity is Severity.MEDIUM
    assert (alert.subject_kind, alert.subject) == (SubjectKind.PERSON, "p-gran")
    assert "not been seen by any door or camera for 24 h" in alert.explanation
    assert f"last seen at {HOME} on 11-20 10:00" in alert.explanation
    assert "独居老人 p-gran（78 岁" in alert.explanation_zh
    assert alert.evidence[0].event_id == seen.event_id


@pytest.mark.parametrize(("after", "fires"), [(DAY, True), (DAY - timedelta(seconds=1), False)])
def test_fires_once_the_watermark_reaches_a_full_day(after: timedelta, fires: bool) -> None:
    h = harness()
    h.feed([door(HOME, T0, person_id="p-gran"), tick(T0 + after + LATENESS)])
    assert bool(h.run.findings) is fires


@pytest.mark.parametrize(("age", "fires"), [(70, True), (69, False), (None, False)])
def test_only_residents_of_seventy_and_over(age: int | None, fires: bool) -> None:
    h = harness(resident("p-gran", age=age))
    h.feed([door(HOME, T0, person_id="p-gran"), tick(T0 + 2 * DAY)])
    assert bool(h.run.findings) is fires


def test_residents_living_with_family_or_unknown_are_not_tracked() -> None:
    h = harness(resident("p-grandad", age=85, lives_alone=False))
    h.feed([door(HOME, T0, person_id="p-grandad"), door(HOME, T0, person_id="p-guest")])
    h.feed([tick(T0 + 2 * DAY)])
    assert h.run.findings == []
    assert h.states == {}


def test_seen_again_resolves_the_alert() -> None:
    h = harness()
    h.feed([door(HOME, T0, person_id="p-gran"), tick(T0 + DAY + LATENESS)])
    back = face("c01-pg1-cam", T0 + 30 * timedelta(hours=1), Faces().capture("gran"), "p-gran")
    h.feed([back])
    (clearance,) = h.run.clearances
    assert clearance.subject == "p-gran"
    assert "seen at c01-pg1 on 11-21 16:00, 30 h after" in clearance.explanation.en
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED


def test_seen_every_half_day_never_alerts() -> None:
    h = harness()
    h.feed(door(HOME, T0 + k * timedelta(hours=12), person_id="p-gran") for k in range(10))
    assert h.run.findings == []


def test_an_older_sighting_arriving_late_changes_nothing() -> None:
    h = harness()
    h.feed([door(HOME, T0, person_id="p-gran"), door(HOME, T0 - DAY, person_id="p-gran")])
    h.feed([tick(T0 + DAY + LATENESS)])
    (finding,) = h.run.findings
    assert finding.occurred_at == T0 + DAY


def test_nothing_before_the_first_sighting() -> None:
    h = harness()
    h.feed([tick(T0), tick(T0 + 3 * DAY)])
    assert h.run.findings == []


def test_restart_while_waiting_still_alerts_once() -> None:
    h = harness()
    h.feed([door(HOME, T0, person_id="p-gran"), tick(T0 + timedelta(hours=12))])
    h.restart()
    h.feed([tick(T0 + DAY + LATENESS)])
    h.restart()
    h.feed([tick(T0 + 2 * DAY)])
    assert len(h.run.findings) == 1
    assert len(h.run.open_alerts()) == 1

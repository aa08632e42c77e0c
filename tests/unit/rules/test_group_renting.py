from datetime import datetime, timedelta

import pytest

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import DoorKind, Event
from schemas.reference import DISTRICT_TZ, Resident
from streams.rules.group_renting import GroupRentingRule, GroupRentingState
from tests.unit.rules.harness import RuleHarness, StaticReference, door, face
from tests.unit.rules.test_visitor_gallery import Faces

UNIT = "c01-b05-u1"
CAM = f"{UNIT}-cam"
RESIDENTS = ["p-wang", "p-li", "p-zhao"]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """Local wall time `day` days after Friday 2026-11-20."""
    return datetime(2026, 11, 20, hour, minute, tzinfo=DISTRICT_TZ) + timedelta(days=day)


def harness(residents: list[str] = RESIDENTS) -> tuple[RuleHarness, Faces]:
    reference = StaticReference(
        residents=[Resident(person_id=p, community_id="c01", unit_door_id=UNIT) for p in residents]
    )
    return RuleHarness(GroupRentingRule(), reference), Faces()


def night(
    faces: Faces,
    n: int,
    residents: list[str],
    visitors: list[str],
    hour: int = 23,
    minute: int = 0,
) -> list[Event]:
    """Residents badge in at the unit door, visitors' faces are captured there, a minute apart."""
    start = local(n, hour, minute)
    events: list[Event] = [
        door(UNIT, start + timedelta(minutes=i), person_id=p) for i, p in enumerate(residents)
    ]
    events += [
        face(CAM, start + timedelta(minutes=len(residents) + i), faces.capture(v))
        for i, v in enumerate(visitors)
    ]
    return events


def morning(n: int) -> Event:
    """Anything after night `n` ended moves the watermark past its 06:00."""
    return door("c01-pg1", local(n + 1, 6, 1), door_kind=DoorKind.GATE)


def tenants(count: int) -> list[str]:
    return [f"tenant{i}" for i in range(count)]


def test_eight_people_staying_three_nights_raise_one_medium_alert_after_the_third() -> None:
    h, faces = harness()
    for n in range(3):
        h.feed(night(faces, n, RESIDENTS, tenants(5)))
        assert h.run.findings == []
        h.feed([morning(n)])
    (finding,) = h.run.of(AlertType.GROUP_RENTING)
    assert finding.occurred_at == local(3, 6)
    (alert,) = h.run.open_alerts().values()
    assert alert.severity is Severity.MEDIUM
    assert (alert.subject_kind, alert.subject) == (SubjectKind.UNIT, UNIT)
    assert "on 3 of the last 7 nights" in alert.explanation
    assert "night of 11-20: 8; night of 11-21: 8; night of 11-22: 8" in alert.explanation
    assert "3 registered residents, 5 recurring visitors" in alert.explanation
    assert "疑似群租" in alert.explanation_zh
    assert len(alert.evidence) == 3
    assert alert.evidence[0].summary.startswith("night of 11-20: 8 people entered")


def test_each_further_crowded_night_updates_the_open_alert() -> None:
    h, faces = harness()
    for n in range(4):
        h.feed([*night(faces, n, RESIDENTS, tenants(5)), morning(n)])
    assert len(h.run.findings) == 2
    (alert,) = h.run.open_alerts().values()
    assert alert.count == 2


@pytest.mark.parametrize(("people", "fires"), [(8, True), (7, False)])
def test_eight_people_fire_and_seven_do_not(people: int, fires: bool) -> None:
    h, faces = harness()
    for n in range(3):
        h.feed([*night(faces, n, RESIDENTS, tenants(people - 3)), morning(n)])
    assert bool(h.run.findings) is fires


@pytest.mark.parametrize(("nights", "fires"), [((0, 3, 6), True), ((0, 4, 7), False)])
def test_three_crowded_nights_must_fall_within_seven(nights: tuple[int, ...], fires: bool) -> None:
    h, faces = harness()
    for n in nights:
        h.feed([*night(faces, n, RESIDENTS, tenants(5)), morning(n)])
    assert bool(h.run.findings) is fires


@pytest.mark.parametrize(("hour", "minute", "fires"), [(22, 0, True), (21, 50, False)])
def test_only_entries_after_night_start_count(hour: int, minute: int, fires: bool) -> None:
    """Everyone but the first resident comes late; the first comes at the given time."""
    h, faces = harness()
    for n in range(3):
        early = door(UNIT, local(n, hour, minute), person_id=RESIDENTS[0])
        h.feed([early, *night(faces, n, RESIDENTS[1:], tenants(5)), morning(n)])
    assert bool(h.run.findings) is fires


def test_a_resident_seen_at_a_gate_later_that_night_has_left() -> None:
    h, faces = harness()
    for n in range(3):
        leaving = face(
            "c01-pg1-cam", local(n + 1, 3), faces.capture("wang"), matched_person_id="p-wang"
        )
        h.feed([*night(faces, n, RESIDENTS, tenants(5)), leaving, morning(n)])
    assert h.run.findings == []


def test_a_resident_who_went_out_and_came_back_stays() -> None:
    h, faces = harness()
    for n in range(3):
        out = door("c01-pg1", local(n, 23, 30), person_id="p-wang", door_kind=DoorKind.GATE)
        back = door(UNIT, local(n + 1, 1), person_id="p-wang")
        h.feed([*night(faces, n, RESIDENTS, tenants(5)), out, back, morning(n)])
    assert len(h.run.findings) == 1


def test_different_late_guests_every_night_are_not_tenants() -> None:
    h, faces = harness()
    for n in range(5):
        guests = [f"night{n}-guest{i}" for i in range(6)]
        h.feed([*night(faces, n, RESIDENTS, guests), morning(n)])
    assert h.run.findings == []


def test_night_shift_resident_coming_home_at_two_every_night_stays_quiet() -> None:
    h, _ = harness(["p-nurse"])
    for n in range(7):
        h.feed([door(UNIT, local(n + 1, 2), person_id="p-nurse"), morning(n)])
    assert h.run.findings == []


def test_family_of_five_stays_quiet() -> None:
    family = ["p-dad", "p-mum", "p-gran", "p-son", "p-daughter"]
    h, faces = harness(family)
    for n in range(7):
        h.feed([*night(faces, n, family, [], hour=22, minute=30), morning(n)])
    assert h.run.findings == []


def test_anonymous_openings_are_not_counted_and_people_count_at_the_door_they_enter() -> None:
    """Ten people badging in at the neighbouring unit every night crowd that unit, not ours."""
    h, _ = harness()
    for n in range(3):
        h.feed(door(UNIT, local(n, 23, i)) for i in range(10))
        h.feed(door("c01-b05-u2", local(n, 23, i), person_id=f"p-x{i}") for i in range(10))
        h.feed([morning(n)])
    assert [f.subject for f in h.run.findings] == ["c01-b05-u2"]
    assert UNIT not in h.states


def test_restart_between_nights_still_alerts_once() -> None:
    h, faces = harness()
    for n in range(2):
        h.feed([*night(faces, n, RESIDENTS, tenants(5)), morning(n)])
    h.restart()
    h.feed(night(faces, 2, RESIDENTS, tenants(5)))
    h.restart()
    h.feed([morning(2)])
    (finding,) = h.run.findings
    assert "5 recurring visitors" in finding.explanation.en


def test_state_is_forgotten_once_its_last_night_leaves_the_window() -> None:
    h, faces = harness()
    h.feed([*night(faces, 0, RESIDENTS, tenants(2)), morning(0)])
    state = GroupRentingState.model_validate_json(h.states[UNIT])
    assert state.judged is not None and len(state.gallery.visitors) == 2
    h.feed([morning(7)])
    assert UNIT not in h.states

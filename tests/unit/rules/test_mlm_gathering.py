from datetime import datetime, timedelta

import pytest

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import FaceCapture
from schemas.reference import DISTRICT_TZ
from streams.rules.mlm_gathering import MlmGatheringRule, MlmState, busiest_window
from streams.rules.visitor_gallery import visitor_id
from tests.unit.rules.harness import RuleHarness, face
from tests.unit.rules.test_visitor_gallery import Faces

UNIT = "c01-b03-u2"
CAM = f"{UNIT}-cam"


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """Local wall time `day` days after Friday 2026-11-20."""
    return datetime(2026, 11, 20, hour, minute, tzinfo=DISTRICT_TZ) + timedelta(days=day)


def crowd(day: int, new: int, regulars: int = 10) -> list[str]:
    """The scheme's regulars, who come every day, and newcomers of that day."""
    return [f"regular{i}" for i in range(regulars)] + [f"day{day}-new{i}" for i in range(new)]


def arrivals(
    faces: Faces, names: list[str], day: int, hour: int = 9, every: int = 3, camera: str = CAM
) -> list[FaceCapture]:
    start = local(day, hour)
    return [
        face(camera, start + timedelta(minutes=every * i), faces.capture(name))
        for i, name in enumerate(names)
    ]


def harness() -> tuple[RuleHarness, Faces]:
    return RuleHarness(MlmGatheringRule()), Faces()


def test_same_crowd_arriving_together_on_three_days_raises_one_high_alert() -> None:
    h, faces = harness()
    first_day = arrivals(faces, crowd(0, new=5), 0)
    h.feed(first_day)
    h.feed(arrivals(faces, crowd(1, new=5), 1))
    h.feed(arrivals(faces, crowd(2, new=5), 2))
    (finding,) = h.run.of(AlertType.MLM_GATHERING)
    assert finding.occurred_at == local(2, 9, 42)
    (alert,) = h.run.open_alerts().values()
    assert alert.severity is Severity.HIGH
    assert (alert.subject_kind, alert.subject) == (SubjectKind.UNIT, UNIT)
    assert "on 3 of the last 5 days" in alert.explanation
    assert "11-20 15 visitors, 15 arriving 09:00–11:00" in alert.explanation
    assert "10 came on 2+ days" in alert.explanation
    assert visitor_id(first_day[0].event_id) in alert.explanation
    assert "疑似传销聚集" in alert.explanation_zh
    assert alert.evidence[0].event_id == first_day[0].event_id
    assert len(alert.evidence) == 4
    assert "11-20: 15 unknown visitors" in alert.evidence[0].summary


def test_at_most_one_finding_a_day_and_later_days_update_the_open_alert() -> None:
    h, faces = harness()
    for day in range(3):
        h.feed(arrivals(faces, crowd(day, new=15), day))
    assert len(h.run.findings) == 1
    h.feed(arrivals(faces, crowd(3, new=5), 3))
    assert len(h.run.findings) == 2
    (alert,) = h.run.open_alerts().values()
    assert alert.count == 2


@pytest.mark.parametrize(("newcomers", "fires"), [(5, True), (4, False)])
def test_fifteen_visitors_on_the_third_day_fire_and_fourteen_do_not(
    newcomers: int, fires: bool
) -> None:
    h, faces = harness()
    h.feed(arrivals(faces, crowd(0, new=5), 0))
    h.feed(arrivals(faces, crowd(1, new=5), 1))
    h.feed(arrivals(faces, crowd(2, new=newcomers), 2))
    assert bool(h.run.findings) is fires


@pytest.mark.parametrize(("days", "fires"), [((0, 2, 4), True), ((0, 1, 5), False)])
def test_three_qualifying_days_must_fall_within_five(days: tuple[int, ...], fires: bool) -> None:
    h, faces = harness()
    for day in days:
        h.feed(arrivals(faces, crowd(day, new=5), day))
    assert bool(h.run.findings) is fires


@pytest.mark.parametrize(("regulars", "fires"), [(5, True), (4, False)])
def test_needs_five_visitors_coming_back(regulars: int, fires: bool) -> None:
    h, faces = harness()
    for day in range(3):
        h.feed(arrivals(faces, crowd(day, new=15 - regulars, regulars=regulars), day))
    assert bool(h.run.findings) is fires


@pytest.mark.parametrize(("together", "fires"), [(9, True), (8, False)])
def test_most_visitors_must_arrive_within_two_hours(together: int, fires: bool) -> None:
    """60 % of 15 is 9: the rest arrive one by one, more than two hours apart."""
    h, faces = harness()
    for day in range(3):
        names = crowd(day, new=5)
        events = arrivals(faces, names[:together], day, hour=8, every=7)
        events += arrivals(faces, names[together:], day, hour=11, every=130)
        h.feed(events)
    assert bool(h.run.findings) is fires


def test_delivery_rider_at_many_units_every_day_is_one_visitor_per_unit() -> None:
    h, faces = harness()
    units = [f"c01-b{b:02d}-u{u}" for b in range(1, 6) for u in range(1, 5)]
    for day in range(5):
        start = local(day, 10)
        h.feed(
            face(f"{unit}-cam", start + timedelta(minutes=3 * i), faces.capture("rider"))
            for i, unit in enumerate(units)
        )
    assert h.run.findings == []
    assert len(h.states) == len(units)


def test_spring_festival_family_gathering_on_two_days_stays_quiet() -> None:
    h, faces = harness()
    relatives = [f"relative{i}" for i in range(20)]
    h.feed(arrivals(faces, relatives, 0, hour=11))
    h.feed(arrivals(faces, relatives, 1, hour=11))
    for day in range(2, 5):
        h.feed(arrivals(faces, relatives[:2], day, hour=15))
    assert h.run.findings == []


def test_a_few_visitors_a_day_stay_quiet() -> None:
    h, faces = harness()
    for day in range(5):
        h.feed(arrivals(faces, ["friend", "cleaner", f"courier{day}"], day, hour=9, every=40))
    assert h.run.findings == []


def test_residents_and_cameras_away_from_unit_doors_are_ignored() -> None:
    h, faces = harness()
    for day in range(3):
        for camera in ("c01-pg1-cam", "c01-b03-elev"):
            h.feed(arrivals(faces, crowd(day, new=5), day, camera=camera))
        h.feed(
            face(CAM, local(day, 9, i), faces.capture(f"resident{i}"), matched_person_id=f"p{i}")
            for i in range(20)
        )
    assert h.run.findings == []
    assert h.states == {}


def test_restart_mid_window_still_alerts_once_with_the_same_visitors() -> None:
    h, faces = harness()
    first_day = arrivals(faces, crowd(0, new=5), 0)
    h.feed(first_day)
    h.feed(arrivals(faces, crowd(1, new=5), 1))
    h.restart()
    h.feed(arrivals(faces, crowd(2, new=5), 2))
    (finding,) = h.run.findings
    assert "10 came on 2+ days" in finding.explanation.en
    assert visitor_id(first_day[0].event_id) in finding.explanation.en
    h.restart()
    h.feed(arrivals(faces, crowd(3, new=5), 3))
    assert len(h.run.open_alerts()) == 1


def test_days_and_visitors_older_than_the_window_are_pruned() -> None:
    h, faces = harness()
    h.feed(arrivals(faces, crowd(0, new=5), 0))
    h.feed(arrivals(faces, ["stranger"], 5))
    state = MlmState.model_validate_json(h.states[UNIT])
    assert [d.isoformat() for d in state.days] == ["2026-11-25"]
    assert len(state.gallery.visitors) == 1


def test_state_of_thirty_visitors_stays_small() -> None:
    h, faces = harness()
    h.feed(arrivals(faces, crowd(0, new=20), 0, every=2))
    assert len(MlmState.model_validate_json(h.states[UNIT]).gallery.visitors) == 30
    assert len(h.states[UNIT]) < 16_000


def test_busiest_window_counts_arrivals_within_its_width() -> None:
    assert busiest_window([0, 60, 119, 120, 300], 120) == (0, 3)
    assert busiest_window([0, 200, 210, 250], 120) == (200, 3)
    assert busiest_window([], 120) == (0, 0)

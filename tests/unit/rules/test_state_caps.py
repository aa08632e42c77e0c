"""Bounded rule state: visitors per door, entries per plate, and the size of a state record.

A changelog record over Kafka's message size would crash-loop the worker, so no state is
ever written over the cap: the rule drops its oldest records, counts them, and its next
explanation says so.
"""

from datetime import date, timedelta

from schemas.alerts import AlertType
from schemas.events import Direction
from streams.engine import capped
from streams.rules.group_renting import GroupRentingRule, GroupRentingState, Night
from streams.rules.mlm_gathering import MlmGatheringRule, MlmState, VisitDay
from streams.rules.roaming_vehicle import MAX_ENTRIES, Entry, RoamingState, RoamingVehicleRule
from streams.rules.rule import dropped_note
from streams.rules.visitor_gallery import (
    MAX_VISITORS_PER_DOOR,
    Visitor,
    VisitorGallery,
    encode,
    normalised,
    visitor_id,
)
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, passage
from tests.unit.rules.test_group_renting import RESIDENTS, UNIT, morning, night, tenants
from tests.unit.rules.test_group_renting import harness as group_renting_harness
from tests.unit.rules.test_mlm_gathering import arrivals, crowd
from tests.unit.rules.test_mlm_gathering import harness as mlm_harness
from tests.unit.rules.test_visitor_gallery import Faces

MAX_BYTES = 512 * 1024


def gallery_of(count: int, faces: Faces) -> VisitorGallery:
    visitors = [
        Visitor(visitor_id=visitor_id(f"e{n}"), centroid=encode(normalised(faces.person(f"p{n}"))))
        for n in range(count)
    ]
    return VisitorGallery(visitors=visitors)


def test_a_door_keeps_its_newest_visitors_and_counts_the_oldest_it_dropped() -> None:
    faces = Faces()
    gallery = gallery_of(MAX_VISITORS_PER_DOOR, faces)
    for n in range(3):
        gallery, _ = gallery.identified(faces.capture(f"new{n}"), f"new-e{n}", 0.4)
    ids = [v.visitor_id for v in gallery.visitors]
    assert len(ids) == MAX_VISITORS_PER_DOOR
    assert gallery.dropped == 3
    assert visitor_id("e0") not in ids and visitor_id("e3") in ids
    assert ids[-1] == visitor_id("new-e2")


def test_a_known_face_at_a_full_door_drops_nobody() -> None:
    faces = Faces()
    gallery = gallery_of(MAX_VISITORS_PER_DOOR, faces)
    gallery, known = gallery.identified(faces.capture("p0"), "again", 0.4)
    assert known == visitor_id("e0") and gallery.dropped == 0


def test_the_dropped_note_reads_in_both_languages() -> None:
    note = dropped_note(12, "visitor records", "访客记录")
    assert note.en == " (12 oldest visitor records dropped)"
    assert note.zh == "（已丢弃 12 条最早的访客记录）"
    assert dropped_note(0, "visitor records", "访客记录").en == ""


def test_mlm_explanation_says_how_many_visitors_were_dropped() -> None:
    h, faces = mlm_harness()
    unit = "c01-b03-u2"
    h.states[unit] = MlmState(gallery=VisitorGallery(dropped=12)).model_dump_json().encode()
    for day in range(3):
        h.feed(arrivals(faces, crowd(day, new=5), day))
    (alert,) = h.run.open_alerts().values()
    assert alert.explanation.endswith("(MLM) gathering. (12 oldest visitor records dropped)")
    assert alert.explanation_zh.endswith("疑似传销聚集（已丢弃 12 条最早的访客记录）")


def test_group_renting_explanation_says_how_many_visitors_were_dropped() -> None:
    h, faces = group_renting_harness()
    state = GroupRentingState(gallery=VisitorGallery(dropped=4), dropped=3, community_id="c01")
    h.states[UNIT] = state.model_dump_json().encode()
    for n in range(3):
        h.feed([*night(faces, n, RESIDENTS, tenants(5)), morning(n)])
    (alert,) = h.run.open_alerts().values()
    assert alert.explanation.endswith("group renting. (7 oldest visitor records dropped)")
    assert alert.explanation_zh.endswith("疑似群租（已丢弃 7 条最早的访客记录）")


def entry(n: int, community: str = "c01") -> Entry:
    return Entry(
        event_id=f"old{n}",
        community_id=community,
        gate_id=f"{community}-g1",
        at=T0 + timedelta(seconds=n),
    )


def test_a_plate_keeps_its_newest_entries_and_says_how_many_went() -> None:
    """A shuttle through the same gate all morning, then two more communities: the alert
    still comes, from the newest entries, and says the oldest were dropped."""
    rule = RoamingVehicleRule()
    state = RoamingState(entries=[entry(n) for n in range(MAX_ENTRIES)])
    config = rule.Config()
    reference = StaticReference()
    at = T0 + timedelta(minutes=30)
    first = rule.apply(state, passage("苏E1", at, "c02"), config, reference)
    assert first.state is not None
    assert len(first.state.entries) == MAX_ENTRIES and first.state.dropped == 1
    assert first.state.entries[0].event_id == "old1"
    second = rule.apply(first.state, passage("苏E1", at, "c03"), config, reference)
    (finding,) = second.findings
    assert finding.alert_type is AlertType.ROAMING_VEHICLE
    assert finding.explanation.en.endswith("(2 oldest entries dropped)")
    assert finding.explanation.zh.endswith("（已丢弃 2 条最早的驶入记录）")


def test_exits_are_not_kept_at_all() -> None:
    h = RuleHarness(RoamingVehicleRule())
    h.feed([passage("苏E2", T0, direction=Direction.OUT)])
    assert h.states == {}


def big_mlm_state(faces: Faces) -> MlmState:
    """Far over the cap: a full gallery and a month of days with thousands of arrivals."""
    days = {
        date(2026, 11, 1) + timedelta(days=d): VisitDay(
            arrivals={f"v-{d:02d}{n:06d}": n % 1440 for n in range(3000)}
        )
        for d in range(31)
    }
    return MlmState(gallery=gallery_of(MAX_VISITORS_PER_DOOR, faces), days=days, community_id="c01")


def test_a_state_over_the_size_cap_is_trimmed_oldest_first_and_still_reads_back() -> None:
    state = big_mlm_state(Faces())
    state.applied = {"pingan.faces": 41}
    assert len(state.model_dump_json()) > 3 * MAX_BYTES
    trimmed, value = capped(MlmGatheringRule(), state, MAX_BYTES)
    assert trimmed is not None and value is not None
    assert len(value) <= MAX_BYTES
    back = MlmState.model_validate_json(value)
    assert back == trimmed
    assert back.applied == {"pingan.faces": 41} and back.community_id == "c01"
    assert max(back.days) == max(state.days), "the newest day stays"
    assert min(back.days) > min(state.days), "the oldest days went first"
    assert back.gallery.dropped > 0 and back.dropped > 0


def test_one_huge_day_is_cut_to_its_latest_arrivals() -> None:
    day = date(2026, 11, 20)
    arrivals = {f"v-{n:08d}": n % 1440 for n in range(60_000)}
    state = MlmState(days={day: VisitDay(arrivals=arrivals)})
    trimmed, value = capped(MlmGatheringRule(), state, MAX_BYTES)
    assert trimmed is not None and value is not None and len(value) <= MAX_BYTES
    assert isinstance(trimmed, MlmState)
    kept = trimmed.days[day].arrivals
    assert trimmed.dropped == len(arrivals) - len(kept)
    assert min(kept.values()) >= max(m for v, m in arrivals.items() if v not in kept)


def test_group_renting_state_over_the_cap_drops_whole_nights_first() -> None:
    nights = {
        date(2026, 11, 1) + timedelta(days=d): Night(
            at_unit={f"v-{d:02d}{n:06d}": n % 480 for n in range(4000)}
        )
        for d in range(31)
    }
    state = GroupRentingState(gallery=gallery_of(MAX_VISITORS_PER_DOOR, Faces()), nights=nights)
    trimmed, value = capped(GroupRentingRule(), state, MAX_BYTES)
    assert trimmed is not None and value is not None and len(value) <= MAX_BYTES
    assert isinstance(trimmed, GroupRentingState)
    assert max(trimmed.nights) == max(nights) and min(trimmed.nights) > min(nights)
    assert GroupRentingState.model_validate_json(value) == trimmed


def test_a_state_its_rule_cannot_shrink_is_dropped_never_written_over_the_cap() -> None:
    plate_state = RoamingState(entries=[entry(0)], community_id="c01")
    assert capped(RoamingVehicleRule(), plate_state, 100) == (None, None)


def test_roaming_state_over_the_cap_halves_its_longer_list() -> None:
    state = RoamingState(entries=[entry(n) for n in range(8000)])
    trimmed, value = capped(RoamingVehicleRule(), state, 64 * 1024)
    assert trimmed is not None and value is not None and len(value) <= 64 * 1024
    assert isinstance(trimmed, RoamingState)
    assert trimmed.entries[-1].event_id == "old7999"
    assert trimmed.dropped == 8000 - len(trimmed.entries)

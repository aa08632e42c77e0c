"""The district simulator as pure logic: determinism, validity, realism and labels (no Kafka)."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from ingest.simulator import District, DistrictSize, Malformation, SimClock, Simulator
from ingest.simulator.incidents import OFFICER_INCIDENTS
from ingest.simulator.malformed import MALFORMED_HEADER
from ingest.simulator.rhythm import PER_COMMUNITY_DAY, Occasion, local_hour
from pingan.platform.district import community_ids, load_communities
from schemas.alerts import WatchlistFace, WatchlistPlate
from schemas.codec import DecodeError, decode, encode
from schemas.events import (
    AccessMethod,
    BraceletReading,
    CameraAnalytics,
    DeviceTelemetry,
    DoorAccess,
    Event,
    FaceCapture,
    PerimeterAlarm,
    Record,
    VehiclePassage,
    normalise_plate,
)
from schemas.reference import BraceletWearer, Device, Resident, ResidentVehicle
from schemas.topics import TOPIC_FOR_RECORD, VEHICLE_PASSAGES, Topic

TEN_AM_LOCAL = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


ACTIVITY_HEARTBEAT_S = 86_400.0
"""Tests of everyday activity leave heartbeats (which come first out of the budget) rare."""


def simulator(
    seed: int = 7, speed: float = 1.0, heartbeat_s: float = ACTIVITY_HEARTBEAT_S, **options: object
) -> Simulator:
    clock = SimClock(TEN_AM_LOCAL, speed)
    return Simulator(District.build(seed), clock, heartbeat_s=heartbeat_s, **options)  # type: ignore[arg-type]


def events(sim: Simulator, n: int = 3000, seconds: float = 10.0) -> list[Event]:
    return sim.batch(0.0, seconds, n, received_at=RECEIVED).events


def activity(produced: list[Event]) -> list[Event]:
    """Drawn from the everyday mix: not scheduled (heartbeats, departures) nor injected."""
    return [e for e in produced if e.event_id.rsplit("-", 1)[1].isdigit()]


def at_local_hour(local_hour: int) -> Simulator:
    start = datetime(2026, 11, 24, local_hour, tzinfo=UTC) - timedelta(hours=8)
    return Simulator(District.build(3), SimClock(start), heartbeat_s=ACTIVITY_HEARTBEAT_S)


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_same_seed_gives_the_same_events() -> None:
    first = [e.model_dump() for e in events(simulator(seed=7))]
    second = [e.model_dump() for e in events(simulator(seed=7))]
    assert first == second
    assert simulator(seed=7).labels == simulator(seed=7).labels


def test_different_seed_gives_different_events() -> None:
    first = events(simulator(seed=7))
    second = events(simulator(seed=8))
    assert [e.model_dump(exclude={"event_id"}) for e in first] != [
        e.model_dump(exclude={"event_id"}) for e in second
    ]


def test_event_ids_are_unique_and_carry_seed_and_start() -> None:
    produced = events(simulator(seed=7))
    ids = [e.event_id for e in produced]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("sim-7-20261124T020000-") for i in ids)


def test_every_event_validates_and_round_trips_through_the_codec() -> None:
    for event in events(simulator()):
        record_type = type(event)
        assert record_type in TOPIC_FOR_RECORD
        assert record_type.model_validate(event.model_dump()) == event
        assert decode(encode(event), record_type) == event


def test_community_ids_come_from_the_reference_list() -> None:
    produced = events(simulator())
    assert {e.community_id for e in produced} <= community_ids()
    assert len({e.community_id for e in produced}) == len(load_communities())


def test_subset_of_communities() -> None:
    district = District.build(1, load_communities()[:3])
    sim = Simulator(district, SimClock(TEN_AM_LOCAL))
    assert {e.community_id for e in events(sim, 500)} == {"c01", "c02", "c03"}


def test_event_time_is_monotone_and_follows_the_speed() -> None:
    sim = simulator(speed=60.0)
    first = sim.events_between(0.0, 2.0, 400)
    second = sim.events_between(2.0, 5.0, 600)
    times = [e.occurred_at for e in (*first, *second)]
    assert times == sorted(times)
    assert times[0] > TEN_AM_LOCAL
    assert first[-1].occurred_at == TEN_AM_LOCAL + timedelta(seconds=2.0 * 60.0)
    assert second[-1].occurred_at == TEN_AM_LOCAL + timedelta(seconds=5.0 * 60.0)


def test_daytime_mix_roughly_matches_the_brief() -> None:
    """Device telemetry and occasions are scheduled, not drawn: the mix is people and
    bracelets."""
    counts = Counter(e.kind for e in activity(events(simulator(), n=20_000, seconds=600.0)))
    total = sum(counts.values())
    expected = {
        "door_access": 0.35,
        "face_capture": 0.20,
        "vehicle_passage": 0.20,
        "bracelet_reading": 0.07,
    }
    assert set(counts) == set(expected)
    for kind, share in expected.items():
        assert counts[kind] / total == pytest.approx(share / 0.82, abs=0.015), kind


def occasion_of(event: Event) -> Occasion | None:
    if isinstance(event, PerimeterAlarm):
        return Occasion.FENCE_ALARM
    if isinstance(event, BraceletReading) and event.sos:
        return Occasion.SOS_PRESS
    if isinstance(event, CameraAnalytics):
        return Occasion(event.analytics_kind.value)
    return None


def a_month_of_six_communities() -> list[Event]:
    """Thirty days of event time in 30 wall seconds, heartbeats out of the way."""
    clock = SimClock(TEN_AM_LOCAL, speed=86_400.0)
    sim = Simulator(District.build(7, load_communities()[:6]), clock, heartbeat_s=60 * 86_400.0)
    return sim.batch(0.0, 30.0, 0, received_at=RECEIVED).events


def test_occasions_happen_at_their_daily_figures_per_community() -> None:
    counts = Counter(occasion_of(e) for e in a_month_of_six_communities())
    for occasion, per_day in PER_COMMUNITY_DAY.items():
        assert counts[occasion] / (6 * 30) == pytest.approx(per_day, rel=0.2), occasion


def test_occasions_people_cause_follow_their_hours() -> None:
    def hour_of(event: Event) -> int:
        return local_hour(event.occurred_at.timestamp())

    month = a_month_of_six_communities()
    ebikes = Counter(hour_of(e) for e in month if occasion_of(e) is Occasion.EBIKE_IN_ELEVATOR)
    alarms = Counter(hour_of(e) for e in month if occasion_of(e) is Occasion.FENCE_ALARM)
    assert sum(ebikes[h] for h in range(1, 5)) * 5 < sum(ebikes[h] for h in range(17, 21))
    assert sum(alarms[h] for h in range(1, 5)) * 2 > sum(alarms[h] for h in range(17, 21))


def test_a_minute_and_a_half_of_the_whole_district_is_not_a_flood() -> None:
    """What `make run` sent in 90 s used to raise 90 alerts a minute: now a day holds a few
    occasions per community, so 90 s of 42 communities hold one or two at most."""
    sim = simulator(heartbeat_s=60.0)
    produced = [e for i in range(90) for e in sim.batch(i, i + 1.0, 200, RECEIVED).events]
    assert len(produced) >= 90 * 200
    assert sum(occasion_of(e) is not None for e in produced) <= 2


def test_sos_presses_and_analytics_are_valid_and_at_their_places() -> None:
    district = District.build(7, load_communities()[:6])
    cameras = {c for site in district.sites for group in site.cameras.values() for c in group}
    zones = {z for site in district.sites for z in site.fence_zones}
    wearers = {
        r.bracelet_id: r for r in district.reference_records() if isinstance(r, BraceletWearer)
    }
    for event in a_month_of_six_communities():
        if isinstance(event, CameraAnalytics):
            assert event.camera_id in cameras
        elif isinstance(event, PerimeterAlarm):
            assert event.fence_zone in zones
        elif isinstance(event, BraceletReading):
            assert event.sos and event.zone == "inside"
            assert wearers[event.bracelet_id].inside(event.lat, event.lon)


def test_residents_sleep_at_night_and_rush_in_the_evening() -> None:
    def people_share(local_hour: int) -> float:
        produced = activity(at_local_hour(local_hour).batch(0.0, 60.0, 5000, RECEIVED).events)
        people = sum(isinstance(e, DoorAccess | FaceCapture | VehiclePassage) for e in produced)
        return people / len(produced)

    assert people_share(3) < 0.5 < people_share(10) < people_share(18)


def test_morning_traffic_leaves_and_evening_traffic_returns() -> None:
    """Residents' cars follow the day; visitors arrive and leave on their own schedule."""

    def outbound_share(local_hour: int) -> float:
        sim = at_local_hour(local_hour)
        resident_plates = {v.plate for site in sim.district.sites for v in site.vehicles}
        passages = [
            e
            for e in sim.batch(0.0, 60.0, 8000, received_at=RECEIVED).events
            if isinstance(e, VehiclePassage) and e.plate in resident_plates
        ]
        return sum(p.direction == "out" for p in passages) / len(passages)

    assert outbound_share(18) < 0.45 < 0.65 < outbound_share(8)


def test_a_resident_car_alternates_in_and_out() -> None:
    sim = simulator()
    resident_plates = {
        v.plate
        for site in sim.district.sites
        for v in (*site.vehicles_inside, *site.vehicles_outside)
    }
    last: dict[str, str] = {}
    for event in events(sim, n=20_000, seconds=3600.0):
        if isinstance(event, VehiclePassage) and event.plate in resident_plates:
            assert last.get(event.plate) != event.direction, event.plate
            last[event.plate] = event.direction
    assert last


def test_plates_are_normalised_province_letter_and_five_alnum() -> None:
    for event in events(simulator()):
        if isinstance(event, VehiclePassage):
            plate = event.plate
            assert plate == normalise_plate(plate)
            assert ord(plate[0]) > 127 and plate[1].isascii() and plate[1].isupper()
            assert len(plate) == 7 and plate[2:].isascii() and plate[2:].isalnum()


def test_face_captures_of_one_resident_are_similar_and_of_others_not() -> None:
    sim = simulator()
    by_person: dict[str, list[list[float]]] = defaultdict(list)
    for event in events(sim, n=20_000, seconds=600.0):
        if isinstance(event, FaceCapture) and event.matched_person_id:
            by_person[event.matched_person_id].append(event.embedding)
            enrolled = sim.district.face(event.matched_person_id)
            assert cosine(enrolled, event.embedding) > 0.8
            assert event.match_score == pytest.approx(cosine(enrolled, event.embedding), abs=1e-3)
    repeated = [captures for captures in by_person.values() if len(captures) >= 2]
    assert repeated
    for captures in repeated:
        assert cosine(captures[0], captures[1]) > 0.8
    for a, b in itertools.pairwise(by_person):
        assert abs(cosine(by_person[a][0], by_person[b][0])) < 0.5


def test_embeddings_are_128_dimensional_unit_vectors() -> None:
    for event in events(simulator()):
        if isinstance(event, FaceCapture):
            assert len(event.embedding) == 128
            assert math.sqrt(sum(v * v for v in event.embedding)) == pytest.approx(1.0, abs=1e-3)


def test_residents_use_other_methods_than_face_and_visitors_are_unknown() -> None:
    accesses = [e for e in events(simulator(), n=5000) if isinstance(e, DoorAccess)]
    resident_methods = Counter(a.method for a in accesses if a.person_id is not None)
    assert set(resident_methods) == set(AccessMethod)
    assert resident_methods[AccessMethod.FACE] < 0.5 * sum(resident_methods.values())
    visitor_methods = {a.method for a in accesses if a.person_id is None}
    assert visitor_methods == {AccessMethod.QR, AccessMethod.PASSWORD}


def test_unknown_faces_have_no_person() -> None:
    captures = [e for e in events(simulator(), n=5000) if isinstance(e, FaceCapture)]
    unknown = [c for c in captures if c.matched_person_id is None]
    assert unknown
    assert all(c.match_score is None for c in unknown)


def small_town() -> District:
    return District.build(4, load_communities()[:1], DistrictSize(unit_doors=8))


@pytest.fixture(scope="module")
def afternoon_in_small_town() -> list[Event]:
    """Four hours of one small community at real speed, heartbeats every minute included."""
    sim = Simulator(small_town(), SimClock(TEN_AM_LOCAL), heartbeat_s=60.0)
    produced: list[Event] = []
    for hour in range(4):
        produced += sim.batch(3600.0 * hour, 3600.0 * (hour + 1), 3 * 3600, RECEIVED).events
    return produced


def test_every_device_reports_on_its_own_fixed_heartbeat(
    afternoon_in_small_town: list[Event],
) -> None:
    """DEVICE_OFFLINE fires after 5 min of silence: a device must never miss a beat."""
    devices = {d.device_id for site in small_town().sites for d in site.devices}
    times: dict[str, list[datetime]] = defaultdict(list)
    for event in afternoon_in_small_town:
        if isinstance(event, DeviceTelemetry):
            times[event.device_id].append(event.occurred_at)
    assert set(times) == devices
    for device, seen in times.items():
        gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(seen)}
        assert max(gaps) <= 60.001 and min(gaps) >= 59.999, device
        assert seen[0] <= TEN_AM_LOCAL + timedelta(seconds=60)


def test_charging_slots_stay_cool_and_warm_slowly(afternoon_in_small_town: list[Event]) -> None:
    """CHARGING_OVERHEAT: above 60 °C, or rising faster than 5 °C/min."""
    slots: dict[str, list[DeviceTelemetry]] = defaultdict(list)
    for event in afternoon_in_small_town:
        if isinstance(event, DeviceTelemetry) and event.device_kind == "charging_shed":
            slots[event.device_id].append(event)
    assert slots
    charged = False
    for readings in slots.values():
        for reading in readings:
            assert {"temperature_c", "current_a", "voltage_v", "slot", "smoke"} <= set(
                reading.metrics
            )
            assert 0.0 < reading.metrics["temperature_c"] < 50.0
            assert reading.metrics["smoke"] == 0.0
            assert reading.metrics["current_a"] < 8.0
            charged |= reading.metrics["charging"] == 1.0
        for a, b in itertools.pairwise(readings):
            minutes = (b.occurred_at - a.occurred_at).total_seconds() / 60
            assert (b.metrics["temperature_c"] - a.metrics["temperature_c"]) / minutes < 2.5
    assert charged


def test_visitors_leave_within_hours(afternoon_in_small_town: list[Event]) -> None:
    """OVERSTAY_VEHICLE fires after 24 h inside: every stranger's car leaves the same day."""
    residents = {v.plate for site in small_town().sites for v in site.vehicles}
    arrived: dict[str, datetime] = {}
    stays = []
    for event in afternoon_in_small_town:
        if isinstance(event, VehiclePassage) and event.plate not in residents:
            if event.direction == "in":
                assert event.plate not in arrived, "a visitor plate came back"
                arrived[event.plate] = event.occurred_at
            else:
                stays.append(event.occurred_at - arrived.pop(event.plate))
    assert len(stays) > 50
    assert max(stays) <= timedelta(hours=2)
    last = afternoon_in_small_town[-1].occurred_at
    assert all(last - at <= timedelta(hours=2) for at in arrived.values())


def test_riders_are_seen_at_the_pedestrian_gates_only(afternoon_in_small_town: list[Event]) -> None:
    """A rider's face recurs every day; at a unit door it would look like a pyramid meeting."""
    district = small_town()
    riders = [district.face(f"rider-{n}") for n in range(district.riders)]
    unknown_at_units = [
        e
        for e in afternoon_in_small_town
        if isinstance(e, FaceCapture) and e.matched_person_id is None and "-pg" not in e.camera_id
    ]
    assert unknown_at_units
    for capture in unknown_at_units:
        assert max(cosine(capture.embedding, list(rider)) for rider in riders) < 0.5


def test_a_unit_door_sees_a_few_strangers_a_day_whatever_the_rate() -> None:
    """Dozens of unknown faces a day at one door is what a pyramid-selling meeting looks like."""
    district = small_town()
    site = district.sites[0]
    sim = Simulator(district, SimClock(TEN_AM_LOCAL), heartbeat_s=ACTIVITY_HEARTBEAT_S)
    unknown = [
        e
        for e in sim.batch(0.0, 600.0, 8000, RECEIVED).events
        if isinstance(e, FaceCapture) and e.matched_person_id is None
    ]
    residents = np.array([district.face(r.person_id) for r in site.residents])
    similarity = np.array([c.embedding for c in unknown]) @ residents.T
    strangers = Counter(
        c.camera_id for c, s in zip(unknown, similarity, strict=True) if s.max() < 0.5
    )
    at_units = [strangers[f"{door}-cam"] for door in site.unit_doors]
    assert max(at_units) == 5
    assert sum(strangers[f"{gate}-cam"] for gate in site.pedestrian_gates) > 100


def test_bracelets_stay_inside_their_geofence_with_charge_to_spare(
    afternoon_in_small_town: list[Event],
) -> None:
    wearers = {
        r.bracelet_id: r for r in small_town().reference_records() if isinstance(r, BraceletWearer)
    }
    readings = [e for e in afternoon_in_small_town if isinstance(e, BraceletReading)]
    assert len(readings) > 1000
    for reading in readings:
        assert wearers[reading.bracelet_id].inside(reading.lat, reading.lon)
        assert reading.zone == "inside"
        assert reading.battery >= 0.19
        assert not reading.sos


def test_bracelets_stay_near_their_community() -> None:
    sim = simulator()
    by_id = {c.community_id: c for c in load_communities()}
    readings = [e for e in events(sim, n=10_000, seconds=3600) if e.kind == "bracelet_reading"]
    assert readings
    for reading in readings:
        community = by_id[reading.community_id]
        assert abs(reading.lat - community.lat) < 0.01
        assert abs(reading.lon - community.lon) < 0.01


def test_incident_labels_match_their_events() -> None:
    sim = simulator(incident_every=5.0)
    produced = [*sim.events_between(0.0, 0.5, 100), *sim.events_between(0.5, 30.0, 3000)]
    by_id = {e.event_id: e for e in produced}
    assert len(sim.labels) == 6  # at 1, 6, 11, 16, 21, 26 s
    watchlist = {entry.plate: entry.category for entry in sim.district.watchlist}
    directions: dict[str, list[str]] = defaultdict(list)
    communities: dict[str, set[str]] = defaultdict(set)
    for label in sim.labels:
        event = by_id[label.event_id]
        assert isinstance(event, VehiclePassage)
        assert label.kind == "WATCHLIST_PLATE"
        assert event.plate == label.subject
        assert event.community_id == label.community_id
        assert event.occurred_at == label.occurred_at
        assert label.note.startswith(f"watchlisted ({watchlist[label.subject]})")
        directions[event.plate].append(event.direction)
        communities[event.plate].add(event.community_id)
    for plate, seen in directions.items():
        assert seen == ["in", "out", "in", "out", "in", "out"][: len(seen)], plate
        assert len(communities[plate]) == 1, "a watchlisted car keeps to one community"


def test_officer_incidents_come_in_turn_and_open_their_alerts() -> None:
    """What `pingan run` injects: a fence crossing (with the climber's face at the zone's
    camera), a watchlisted car, an SOS press and a throw from a known window."""
    sim = simulator(incident_every=5.0, incident_kinds=OFFICER_INCIDENTS)
    produced = sim.events_between(0.0, 40.0, 400)
    by_id = {e.event_id: e for e in produced}
    assert [label.kind for label in sim.labels] == [str(k) for k in OFFICER_INCIDENTS] * 2
    places = {d.device_id: d.place for site in sim.district.sites for d in site.devices}
    for label in sim.labels:
        event = by_id[label.event_id]
        assert (event.community_id, event.occurred_at) == (label.community_id, label.occurred_at)
        if isinstance(event, PerimeterAlarm):
            assert (event.alarm_kind, event.fence_zone) == ("cross", label.subject)
            face = by_id[f"{label.event_id}-face"]
            assert isinstance(face, FaceCapture) and face.matched_person_id is None
            assert places[face.camera_id] == event.fence_zone
            assert face.occurred_at > event.occurred_at
        elif isinstance(event, BraceletReading):
            assert event.sos and event.bracelet_id == label.subject
        elif isinstance(event, CameraAnalytics):
            assert event.analytics_kind == "high_altitude_throw"
            assert event.camera_id == label.subject
            assert event.floor is not None and event.window_column is not None
        else:
            assert isinstance(event, VehiclePassage) and event.plate == label.subject


def test_first_incident_comes_within_the_first_seconds() -> None:
    sim = simulator()
    sim.events_between(0.0, 0.9, 10)
    assert not sim.labels
    sim.events_between(0.9, 1.5, 10)
    assert len(sim.labels) == 1
    sim.events_between(1.5, 15.9, 10)
    assert len(sim.labels) == 1
    sim.events_between(15.9, 16.1, 10)
    assert len(sim.labels) == 2


def test_watchlist_plates_only_pass_as_labelled_incidents() -> None:
    sim = simulator(incident_every=2.0)
    watchlisted = {entry.plate for entry in sim.district.watchlist}
    produced = events(sim, n=20_000, seconds=60.0)
    hits = {
        e.event_id for e in produced if isinstance(e, VehiclePassage) and e.plate in watchlisted
    }
    assert hits == {label.event_id for label in sim.labels}


def test_incidents_and_malformed_leave_the_everyday_sequence_unchanged() -> None:
    plain_sim = simulator(incident_every=1000.0)
    plain = events(plain_sim)
    busy_sim = simulator(incident_every=0.5, malformed_every=3)
    busy = events(busy_sim)
    assert len(busy_sim.labels) == 20
    assert [e.model_dump() for e in busy if "-w" not in e.event_id] == [
        e.model_dump() for e in plain if "-w" not in e.event_id
    ]


def test_labels_are_appended_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "labels" / "run.jsonl"
    sim = simulator(incident_every=2.0, labels_path=path)
    events(sim, n=100, seconds=10.0)
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert len(lines) == len(sim.labels) == 5
    assert lines[0]["kind"] == "WATCHLIST_PLATE"
    assert lines[0]["event_id"] == sim.labels[0].event_id
    assert lines[0]["subject"] == sim.labels[0].subject
    assert datetime.fromisoformat(lines[0]["occurred_at"]) == sim.labels[0].occurred_at


def test_malformed_messages_rotate_through_the_variants() -> None:
    sim = simulator(malformed_every=10)
    batch = sim.batch(0.0, 10.0, 100, received_at=RECEIVED)
    assert len(batch.malformed) == len(activity(batch.events)) // 10 >= 9
    kinds = [m.malformation for m in batch.malformed]
    assert kinds[:4] == list(Malformation)
    not_json, missing, stray, future = batch.malformed[:4]
    with pytest.raises(DecodeError, match="not JSON"):
        decode(not_json.value, VehiclePassage)
    with pytest.raises(DecodeError, match="occurred_at"):
        decode(missing.value, VehiclePassage)
    assert decode(stray.value, VehiclePassage).community_id == "c99"
    assert stray.key == b"c99"
    ahead = decode(future.value, VehiclePassage).occurred_at - TEN_AM_LOCAL
    assert ahead > timedelta(hours=23)
    assert all(m.headers[0][0] == MALFORMED_HEADER for m in batch.malformed)


def test_clock_defaults_to_now_at_real_speed() -> None:
    now = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    clock = SimClock.plan(now=now)
    assert clock.start == now
    assert clock.at(10.0) == now + timedelta(seconds=10)


def test_fast_clock_ends_at_now() -> None:
    now = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    clock = SimClock.plan(speed=60.0, duration=30.0, now=now)
    assert clock.start == now - timedelta(minutes=30)
    assert clock.at(30.0) == now


def test_fast_clock_needs_a_duration_or_a_start() -> None:
    with pytest.raises(ValueError, match="duration"):
        SimClock.plan(speed=10.0)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert SimClock.plan(speed=10.0, start=start).start == start


def test_district_size_is_a_parameter() -> None:
    small = District.build(1, load_communities()[:2], DistrictSize(unit_doors=5))
    assert [len(site.unit_doors) for site in small.sites] == [5, 5]
    default = District.build(1, load_communities()[:1])
    site = default.sites[0]
    assert len(site.unit_doors) == 30
    assert 2 <= len(site.gates) <= 4
    assert {d.kind for d in site.devices} >= {"camera", "door", "charging_shed", "smoke_detector"}


class RecordingPublisher:
    """Stands in for Publisher: keeps what would have been sent."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.raw: list[tuple[Topic, bytes | None, bytes | None]] = []

    async def publish_many(self, records: list[Record]) -> int:
        self.records.extend(records)
        return len(records)

    async def publish_raw(
        self,
        topic: Topic,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        self.raw.append((topic, key, value))


async def test_run_paces_to_the_rate_and_reports_what_it_sent() -> None:
    sim = Simulator(District.build(5), SimClock.plan(), incident_every=0.5, malformed_every=50)
    publisher = RecordingPublisher()
    report = await sim.run(publisher, rate=1000.0, duration=1.2)  # type: ignore[arg-type]
    reference = list(itertools.takewhile(lambda r: not isinstance(r, Event), publisher.records))
    watchlist = [r for r in reference if isinstance(r, WatchlistPlate)]
    published = [r for r in publisher.records if isinstance(r, Event)]
    assert len(reference) + len(published) == len(publisher.records)
    assert report.reference == len(reference) == len(sim.district.reference_records())
    assert {type(r) for r in reference} == {
        Resident,
        ResidentVehicle,
        Device,
        BraceletWearer,
        WatchlistPlate,
        WatchlistFace,
    }
    assert len(watchlist) == report.watchlist == len(sim.district.watchlist)
    assert all(w.added_by == "simulator" for w in watchlist)
    assert report.events == len(published) == 1200 + report.incidents
    assert report.incidents == len(sim.labels) == 2  # at 0.5 and 1.0 s
    heartbeats = sum(isinstance(e, DeviceTelemetry) for e in published)
    assert heartbeats == pytest.approx(sim.heartbeats_per_second * 1.2, rel=0.1)
    assert report.malformed == len(publisher.raw) == len(activity(published)) // 50
    assert {topic for topic, _, _ in publisher.raw} == {VEHICLE_PASSAGES}
    assert Counter(e.kind for e in published) == report.counts
    assert all(e.occurred_at <= e.received_at + timedelta(seconds=1) for e in published)


async def test_run_stops_on_the_stop_event() -> None:
    """Stopped 0.3 s after the reference data is out (publishing it takes its own time)."""
    sim = Simulator(District.build(5), SimClock.plan())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    publisher = RecordingPublisher()
    publish_many = publisher.publish_many

    async def arm_after_reference(records: list[Record]) -> int:
        if not publisher.records:
            loop.call_later(0.3, stop.set)
        return await publish_many(records)

    publisher.publish_many = arm_after_reference  # type: ignore[method-assign]
    report = await sim.run(publisher, rate=500.0, stop_event=stop)  # type: ignore[arg-type]
    assert 0.25 < report.wall_seconds < 1.0
    assert 100 < report.events < 500


def test_clock_knows_when_it_overtakes_real_time() -> None:
    now = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    assert SimClock(now).overtakes_real_time_after(now) is None
    assert SimClock(now + timedelta(hours=1)).overtakes_real_time_after(now) == 0.0
    hour_ago = SimClock(now - timedelta(hours=1), speed=61.0)
    assert hour_ago.overtakes_real_time_after(now) == pytest.approx(60.0)

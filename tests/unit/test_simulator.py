"""The district simulator as pure logic: determinism, validity, realism and labels (no Kafka)."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from ingest.reference import community_ids, load_communities
from ingest.simulator import District, DistrictSize, Malformation, SimClock, Simulator
from ingest.simulator.malformed import MALFORMED_HEADER
from schemas.alerts import WatchlistPlate
from schemas.codec import DecodeError, decode, encode
from schemas.events import (
    AccessMethod,
    DoorAccess,
    Event,
    FaceCapture,
    Record,
    VehiclePassage,
    normalise_plate,
)
from schemas.topics import TOPIC_FOR_RECORD, VEHICLE_PASSAGES, Topic

TEN_AM_LOCAL = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def simulator(seed: int = 7, speed: float = 1.0, **options: object) -> Simulator:
    clock = SimClock(TEN_AM_LOCAL, speed)
    return Simulator(District.build(seed), clock, **options)  # type: ignore[arg-type]


def events(sim: Simulator, n: int = 3000, seconds: float = 10.0) -> list[Event]:
    return sim.batch(0.0, seconds, n, received_at=RECEIVED).events


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
    counts = Counter(e.kind for e in events(simulator(), n=20_000, seconds=600.0))
    total = sum(counts.values())
    expected = {
        "door_access": 0.35,
        "face_capture": 0.20,
        "vehicle_passage": 0.20,
        "device_telemetry": 0.15,
        "bracelet_reading": 0.07,
        "camera_analytics": 0.02,
        "perimeter_alarm": 0.01,
    }
    for kind, share in expected.items():
        assert counts[kind] / total == pytest.approx(share, abs=0.015), kind


def test_residents_sleep_at_night_and_rush_in_the_evening() -> None:
    def people_share(local_hour: int) -> float:
        start = datetime(2026, 11, 24, local_hour, tzinfo=UTC) - timedelta(hours=8)
        sim = Simulator(District.build(3), SimClock(start))
        produced = sim.batch(0.0, 60.0, 5000, received_at=RECEIVED).events
        people = sum(isinstance(e, DoorAccess | FaceCapture | VehiclePassage) for e in produced)
        return people / len(produced)

    assert people_share(3) < 0.3 < people_share(10) < people_share(18)


def test_morning_traffic_leaves_and_evening_traffic_returns() -> None:
    def outbound_share(local_hour: int) -> float:
        start = datetime(2026, 11, 24, local_hour, tzinfo=UTC) - timedelta(hours=8)
        sim = Simulator(District.build(3), SimClock(start))
        passages = [
            e
            for e in sim.batch(0.0, 60.0, 8000, received_at=RECEIVED).events
            if isinstance(e, VehiclePassage)
        ]
        return sum(p.direction == "out" for p in passages) / len(passages)

    assert outbound_share(8) > 0.65
    assert outbound_share(18) < 0.35


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


def test_charging_slots_report_temperature_current_and_voltage() -> None:
    slots = [
        e
        for e in events(simulator(), n=10_000)
        if e.kind == "device_telemetry" and e.device_kind == "charging_shed"
    ]
    assert slots
    for reading in slots:
        assert {"temperature_c", "current_a", "voltage_v", "slot"} <= set(reading.metrics)
        assert 0.0 < reading.metrics["temperature_c"] < 60.0


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
    for label in sim.labels:
        event = by_id[label.event_id]
        assert isinstance(event, VehiclePassage)
        assert event.plate == label.plate
        assert event.community_id == label.community_id
        assert event.occurred_at == label.occurred_at
        assert event.direction == "in"
        assert watchlist[label.plate] == label.category


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
    assert datetime.fromisoformat(lines[0]["occurred_at"]) == sim.labels[0].occurred_at


def test_malformed_messages_rotate_through_the_variants() -> None:
    sim = simulator(malformed_every=10)
    batch = sim.batch(0.0, 10.0, 100, received_at=RECEIVED)
    assert len(batch.malformed) == 10
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
    watchlist = [r for r in publisher.records if isinstance(r, WatchlistPlate)]
    published = [r for r in publisher.records if isinstance(r, Event)]
    assert publisher.records[: len(watchlist)] == watchlist
    assert len(watchlist) == report.watchlist == len(sim.district.watchlist)
    assert all(w.added_by == "simulator" for w in watchlist)
    assert report.events == len(published) == 1200 + report.incidents
    assert report.incidents == len(sim.labels) == 2  # at 0.5 and 1.0 s
    assert report.malformed == len(publisher.raw) == 24
    assert {topic for topic, _, _ in publisher.raw} == {VEHICLE_PASSAGES}
    assert Counter(e.kind for e in published) == report.counts
    assert all(e.occurred_at <= e.received_at + timedelta(seconds=1) for e in published)


async def test_run_stops_on_the_stop_event() -> None:
    sim = Simulator(District.build(5), SimClock.plan())
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    report = await sim.run(RecordingPublisher(), rate=500.0, stop_event=stop)  # type: ignore[arg-type]
    assert 0.25 < report.wall_seconds < 1.0
    assert 100 < report.events < 500


def test_clock_knows_when_it_overtakes_real_time() -> None:
    now = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    assert SimClock(now).overtakes_real_time_after(now) is None
    assert SimClock(now + timedelta(hours=1)).overtakes_real_time_after(now) == 0.0
    hour_ago = SimClock(now - timedelta(hours=1), speed=61.0)
    assert hour_ago.overtakes_real_time_after(now) == pytest.approx(60.0)

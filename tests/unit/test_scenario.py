"""The labelled scenario and its scoring, without Kafka.

`Oracle` applies each rule's condition as the brief defines it, independently of the
rules in streams/rules: on the default scenario it must fire exactly on the labelled
subjects, inside each label's window (the background raises nothing, every incident
is caught where its label says).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from ingest.simulator.district import plates_resemble
from ingest.simulator.scenario import DEFAULT_DURATION, EVENT_BUDGET, Scenario
from ingest.simulator.scoring import TOLERANCE, Label, RuleScore, score
from schemas.alerts import (
    RULE_ALERT_TYPES,
    Alert,
    AlertType,
    Severity,
    WatchlistFace,
    WatchlistPlate,
)
from schemas.events import (
    BraceletReading,
    CameraAnalytics,
    DeviceTelemetry,
    DoorAccess,
    Event,
    FaceCapture,
    PerimeterAlarm,
    VehiclePassage,
)
from schemas.reference import (
    DISTRICT_TZ,
    BraceletWearer,
    Device,
    Resident,
    ResidentVehicle,
    distance_km,
)
from schemas.topics import EVENT_TOPICS, TOPIC_FOR_RECORD

END = datetime(2026, 11, 24, 7, 30, 0, 123000, tzinfo=UTC)
"""15:30 local on a Tuesday."""
SEED = 7
SAME_FACE = 0.8


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.build(SEED, DEFAULT_DURATION, END)


def local(at: datetime) -> datetime:
    return at.astimezone(DISTRICT_TZ)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@dataclass
class Observed:
    """One pass over the events, keeping what the oracle needs (not every heartbeat)."""

    count: int = 0
    ids: set[str] = field(default_factory=set)
    in_order: bool = True
    first: datetime | None = None
    last: datetime | None = None
    kinds: Counter[str] = field(default_factory=Counter)
    telemetry_devices: set[str] = field(default_factory=set)
    silences: dict[str, list[datetime]] = field(default_factory=lambda: defaultdict(list))
    """Device → last report before each gap over 5 min."""
    slots: dict[str, list[DeviceTelemetry]] = field(default_factory=lambda: defaultdict(list))
    readings: dict[str, list[BraceletReading]] = field(default_factory=lambda: defaultdict(list))
    passages: list[VehiclePassage] = field(default_factory=list)
    doors: list[DoorAccess] = field(default_factory=list)
    faces: list[FaceCapture] = field(default_factory=list)
    analytics: list[CameraAnalytics] = field(default_factory=list)
    alarms: list[PerimeterAlarm] = field(default_factory=list)
    late_receipt: int = 0

    def add(self, event: Event, last_report: dict[str, datetime]) -> None:
        self.count += 1
        self.ids.add(event.event_id)
        if self.last is not None and event.occurred_at < self.last:
            self.in_order = False
        self.first = self.first or event.occurred_at
        self.last = event.occurred_at
        self.kinds[event.kind] += 1
        delay = event.received_at - event.occurred_at
        self.late_receipt += not timedelta(0) < delay < timedelta(seconds=1)
        if isinstance(event, DeviceTelemetry):
            self.telemetry_devices.add(event.device_id)
            previous = last_report.get(event.device_id)
            if previous and event.occurred_at - previous > timedelta(minutes=5):
                self.silences[event.device_id].append(previous)
            last_report[event.device_id] = event.occurred_at
            if event.device_kind == "charging_shed":
                self.slots[event.device_id].append(event)
        elif isinstance(event, BraceletReading):
            self.readings[event.bracelet_id].append(event)
        elif isinstance(event, VehiclePassage):
            self.passages.append(event)
        elif isinstance(event, DoorAccess):
            self.doors.append(event)
        elif isinstance(event, FaceCapture):
            self.faces.append(event)
        elif isinstance(event, CameraAnalytics):
            self.analytics.append(event)
        elif isinstance(event, PerimeterAlarm):
            self.alarms.append(event)


def observe(events: Iterable[Event]) -> Observed:
    observed = Observed()
    last_report: dict[str, datetime] = {}
    for event in events:
        observed.add(event, last_report)
    return observed


@pytest.fixture(scope="module")
def observed(scenario: Scenario) -> Observed:
    return observe(scenario.events())


Findings = dict[str, datetime]
"""Subject → when the rule's condition first holds."""


def first(findings: Findings, subject: str, at: datetime) -> None:
    if subject not in findings or at < findings[subject]:
        findings[subject] = at


class Oracle:
    """Each alert type's condition, straight from the brief's definitions."""

    def __init__(self, scenario: Scenario, seen: Observed) -> None:
        self.seen = seen
        self.start, self.end = scenario.start, scenario.end
        ref = scenario.reference
        self.watchlist = [r.plate for r in ref if isinstance(r, WatchlistPlate)]
        self.faces = [r for r in ref if isinstance(r, WatchlistFace)]
        self.resident_plates = {r.plate for r in ref if isinstance(r, ResidentVehicle)}
        self.residents = [r for r in ref if isinstance(r, Resident)]
        self.devices = {r.device_id: r for r in ref if isinstance(r, Device)}
        self.wearers = {r.bracelet_id: r for r in ref if isinstance(r, BraceletWearer)}
        self.gates = {d.place: (d.lat, d.lon) for d in self.devices.values() if d.lat}
        self.unit_doors = {r.unit_door_id for r in self.residents}
        self.identities = self._identities()

    def _identities(self) -> dict[str, int]:
        """Unknown faces grouped into people by embedding: capture id → person number."""
        people: list[list[float]] = []
        identity = {}
        for capture in self.seen.faces:
            if capture.matched_person_id:
                continue
            match = next(
                (n for n, p in enumerate(people) if cosine(p, capture.embedding) > SAME_FACE), None
            )
            if match is None:
                people.append(capture.embedding)
                match = len(people) - 1
            identity[capture.event_id] = match
        return identity

    def findings(self, alert_type: AlertType) -> Findings:
        return getattr(self, alert_type.value.lower())()

    def watchlist_plate(self) -> Findings:
        found: Findings = {}
        for p in self.seen.passages:
            if p.plate in self.watchlist:
                first(found, p.plate, p.occurred_at)
        return found

    def possible_watchlist_plate(self) -> Findings:
        found: Findings = {}
        for p in self.seen.passages:
            if p.plate not in self.watchlist and any(
                plates_resemble(p.plate, w, max_differences=1) for w in self.watchlist
            ):
                first(found, p.plate, p.occurred_at)
        return found

    def by_plate(self) -> dict[str, list[VehiclePassage]]:
        plates: dict[str, list[VehiclePassage]] = defaultdict(list)
        for p in self.seen.passages:
            plates[p.plate].append(p)
        return plates

    def cloned_plate(self) -> Findings:
        found: Findings = {}
        for plate, passages in self.by_plate().items():
            inside: set[str] = set()
            for a, b in zip([None, *passages], passages, strict=False):
                if b.direction == "in" and inside - {b.community_id}:
                    first(found, plate, b.occurred_at)
                (inside.add if b.direction == "in" else inside.discard)(b.community_id)
                if a is None or a.community_id == b.community_id:
                    continue
                km = distance_km(*self.gates[a.gate_id], *self.gates[b.gate_id])
                hours = (b.occurred_at - a.occurred_at).total_seconds() / 3600
                if km / max(hours, 1e-9) > 120:
                    first(found, plate, b.occurred_at)
        return found

    def roaming_vehicle(self) -> Findings:
        found: Findings = {}
        for plate, passages in self.by_plate().items():
            if plate in self.resident_plates:
                continue
            entries = [p for p in passages if p.direction == "in"]
            for p in entries:
                recent = {
                    q.community_id
                    for q in entries
                    if timedelta(0) <= p.occurred_at - q.occurred_at <= timedelta(hours=2)
                }
                nights = {
                    local(q.occurred_at).date()
                    for q in entries
                    if q.community_id == p.community_id
                    and local(q.occurred_at).hour < 5
                    and timedelta(0) <= p.occurred_at - q.occurred_at <= timedelta(days=7)
                }
                if len(recent) >= 3 or (local(p.occurred_at).hour < 5 and len(nights) >= 3):
                    first(found, plate, p.occurred_at)
        return found

    def overstay_vehicle(self) -> Findings:
        found: Findings = {}
        for plate, passages in self.by_plate().items():
            if plate in self.resident_plates:
                continue
            entered: dict[str, datetime] = {}
            for p in [*passages, None]:
                for community, since in list(entered.items()):
                    until = self.end if p is None else p.occurred_at
                    if until - since > timedelta(days=1) and (
                        p is None or p.community_id == community
                    ):
                        first(found, plate, since + timedelta(days=1))
                if p is None:
                    break
                if p.direction == "in":
                    entered[p.community_id] = p.occurred_at
                else:
                    entered.pop(p.community_id, None)
        return found

    def unit_visitors(self) -> dict[str, list[tuple[datetime, int]]]:
        """Unit door → (time, unknown person) at its camera."""
        visits: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
        for c in self.seen.faces:
            door = c.camera_id.removesuffix("-cam")
            if door in self.unit_doors and c.event_id in self.identities:
                visits[door].append((c.occurred_at, self.identities[c.event_id]))
        return visits

    def mlm_gathering(self) -> Findings:
        found: Findings = {}
        for door, visits in self.unit_visitors().items():
            days: dict[date, list[tuple[datetime, int]]] = defaultdict(list)
            for at, person in visits:
                days[local(at).date()].append((at, person))
            busy: dict[date, tuple[set[int], datetime]] = {}
            for day, arrivals in sorted(days.items()):
                people = {p for _, p in arrivals}
                times = sorted(at for at, _ in arrivals)
                clustered = max(sum(t <= u < t + timedelta(hours=2) for u in times) for t in times)
                if len(people) >= 15 and clustered >= len(times) / 2:
                    seen: set[int] = set()
                    for at, person in sorted(arrivals):
                        seen.add(person)
                        if len(seen) == 15:
                            busy[day] = (people, at)
                            break
            for day, (_, at) in sorted(busy.items()):
                window = [busy[d][0] for d in busy if timedelta(0) <= day - d <= timedelta(days=4)]
                repeat = Counter(p for people in window for p in people)
                if len(window) >= 3 and sum(n >= 2 for n in repeat.values()) >= 5:
                    first(found, door, at)
        return found

    def group_renting(self) -> Findings:
        found: Findings = {}
        residents = {r.person_id: r.unit_door_id for r in self.residents}
        sightings = [
            (d.occurred_at, d.door_id, f"p:{d.person_id}") for d in self.seen.doors if d.person_id
        ]
        sightings += [
            (c.occurred_at, c.camera_id.removesuffix("-cam"), f"u:{self.identities[c.event_id]}")
            for c in self.seen.faces
            if c.event_id in self.identities
        ]
        sightings.sort()
        for door in self.unit_doors:
            nights = []
            for night in sorted({local(at).date() - timedelta(days=local(at).hour < 6)
                                 for at, _, _ in sightings}):  # fmt: skip
                evening = datetime.combine(night, datetime.min.time(), DISTRICT_TZ)
                begin, morning = evening + timedelta(hours=22), evening + timedelta(hours=30)
                entered: dict[str, datetime] = {}
                for at, where, who in sightings:
                    if not begin <= at < morning or where != door:
                        continue
                    if who.startswith("p:") and residents.get(who[2:]) != door:
                        continue
                    entered.setdefault(who, at)
                elsewhere = {
                    who
                    for at, where, who in sightings
                    if who in entered and where != door and entered[who] < at < morning
                }
                stayed = sorted(at for who, at in entered.items() if who not in elsewhere)
                if len(stayed) >= 8:
                    nights.append((night, stayed[7]))
            for k in range(2, len(nights)):
                if nights[k][0] - nights[k - 2][0] <= timedelta(days=6):
                    first(found, door, nights[k][1])
        return found

    def known_mlm_return(self) -> Findings:
        found: Findings = {}
        for c in self.seen.faces:
            for face in self.faces:
                if cosine(face.embedding, c.embedding) > SAME_FACE:
                    first(found, face.face_id, c.occurred_at)
        return found

    def charging_overheat(self) -> Findings:
        found: Findings = {}
        for slot, readings in self.seen.slots.items():
            rated = self.devices[slot].rated_current_a or math.inf
            for a, b in zip([None, *readings], readings, strict=False):
                m = b.metrics
                rising = a is not None and (
                    (m["temperature_c"] - a.metrics["temperature_c"])
                    / ((b.occurred_at - a.occurred_at).total_seconds() / 60)
                    > 5.0
                )
                if m["temperature_c"] > 60 or m["current_a"] > rated or m["smoke"] or rising:
                    first(found, slot, b.occurred_at)
        return found

    def analytics_of(self, kind: str) -> list[CameraAnalytics]:
        return [a for a in self.seen.analytics if a.analytics_kind == kind]

    def ebike_in_elevator(self) -> Findings:
        found: Findings = {}
        for a in self.analytics_of("ebike_in_elevator"):
            first(found, a.camera_id, a.occurred_at)
        return found

    def high_altitude_throw(self) -> Findings:
        found: Findings = {}
        for a in self.analytics_of("high_altitude_throw"):
            assert a.floor is not None and a.window_column is not None
            first(found, a.camera_id, a.occurred_at)
        return found

    def blocked_fire_passage(self) -> Findings:
        found: Findings = {}
        runs: dict[str, tuple[datetime, datetime]] = {}
        for a in self.analytics_of("blocked_fire_passage"):
            began, last = runs.get(a.camera_id, (a.occurred_at, a.occurred_at))
            if a.occurred_at - last > timedelta(minutes=3):
                began = a.occurred_at
            runs[a.camera_id] = (began, a.occurred_at)
            if a.occurred_at - began > timedelta(minutes=10):
                first(found, a.camera_id, a.occurred_at)
        return found

    def stray_dog(self) -> Findings:
        found: Findings = {}
        cameras: dict[tuple[str, date], set[str]] = defaultdict(set)
        for a in self.analytics_of("stray_dog"):
            day = cameras[a.community_id, local(a.occurred_at).date()]
            day.add(a.camera_id)
            if len(day) >= 3:
                first(found, a.community_id, a.occurred_at)
        return found

    def perimeter_intrusion(self) -> Findings:
        found: Findings = {}
        for alarm in self.seen.alarms:
            if alarm.alarm_kind == "cross":
                first(found, alarm.fence_zone, alarm.occurred_at)
        return found

    def device_offline(self) -> Findings:
        return {
            device: gaps[0] + timedelta(minutes=5) for device, gaps in self.seen.silences.items()
        }

    def bracelet_sos(self) -> Findings:
        found: Findings = {}
        for bracelet, readings in self.seen.readings.items():
            for r in readings:
                if r.sos:
                    first(found, bracelet, r.occurred_at)
        return found

    def bracelet_geofence_exit(self) -> Findings:
        found: Findings = {}
        for bracelet, readings in self.seen.readings.items():
            wearer = self.wearers[bracelet]
            for a, b in itertools.pairwise(readings):
                if not wearer.inside(a.lat, a.lon) and not wearer.inside(b.lat, b.lon):
                    first(found, bracelet, b.occurred_at)
        return found

    def bracelet_inactive(self) -> Findings:
        found: Findings = {}
        for bracelet, readings in self.seen.readings.items():
            if self.wearers[bracelet].wearer != "elderly":
                continue
            anchor = readings[0]
            for r in readings:
                if distance_km(anchor.lat, anchor.lon, r.lat, r.lon) * 1000 > 30:
                    anchor = r
                daytime = 8 <= local(r.occurred_at).hour < 20
                if daytime and r.occurred_at - anchor.occurred_at > timedelta(hours=4):
                    first(found, bracelet, r.occurred_at)
        return found

    def bracelet_low_battery(self) -> Findings:
        found: Findings = {}
        for bracelet, readings in self.seen.readings.items():
            for r in readings:
                if r.battery < 0.15:
                    first(found, bracelet, r.occurred_at)
        return found

    def elderly_not_seen(self) -> Findings:
        found: Findings = {}
        for resident in self.residents:
            if not (resident.lives_alone and (resident.age or 0) >= 70):
                continue
            pid = resident.person_id
            seen = sorted(
                [d.occurred_at for d in self.seen.doors if d.person_id == pid]
                + [c.occurred_at for c in self.seen.faces if c.matched_person_id == pid]
            )
            for a, b in zip([self.start, *seen], [*seen, self.end], strict=True):
                if b - a > timedelta(days=1):
                    first(found, pid, a + timedelta(days=1))
        return found


@pytest.fixture(scope="module")
def oracle(scenario: Scenario, observed: Observed) -> Oracle:
    return Oracle(scenario, observed)


@pytest.mark.parametrize("alert_type", RULE_ALERT_TYPES)
def test_rules_as_briefed_fire_exactly_on_the_labels(
    alert_type: AlertType, scenario: Scenario, oracle: Oracle
) -> None:
    """Background life and near-misses raise nothing; every incident raises its alert
    inside its label's window."""
    labels = {label.subject: label for label in scenario.labels if label.alert_type is alert_type}
    findings = oracle.findings(alert_type)
    assert set(findings) == set(labels)
    for subject, at in findings.items():
        label = labels[subject]
        assert label.start - TOLERANCE <= at <= label.end + TOLERANCE, (label, at)


def test_every_alert_type_has_three_to_six_labels_over_communities(scenario: Scenario) -> None:
    per_type = Counter(label.alert_type for label in scenario.labels)
    assert set(per_type) == set(RULE_ALERT_TYPES)
    assert all(3 <= n <= 6 for n in per_type.values()), per_type
    assert {label.community_id for label in scenario.labels} == {
        s.community_id for s in scenario.district.sites
    }
    for label in scenario.labels:
        assert scenario.start <= label.start <= label.end <= scenario.end
        assert label.note


def test_labels_spread_over_the_days(scenario: Scenario) -> None:
    days = Counter(local(label.start).date() for label in scenario.labels)
    assert len(days) >= 4
    assert max(days.values()) < len(scenario.labels) / 2


def test_near_misses_are_listed(scenario: Scenario) -> None:
    text = "\n".join(scenario.near_misses)
    for what in (
        "night shift",
        "delivery rider",
        "family gathering",
        "km/h",
        "55 °C",
        "inside its 400 m geofence",
        "reboots",
    ):
        assert what in text, what


def test_events_are_ordered_inside_the_span_and_under_budget(
    scenario: Scenario, observed: Observed
) -> None:
    assert observed.in_order
    assert observed.first is not None and observed.last is not None
    assert scenario.end - DEFAULT_DURATION <= observed.first < scenario.start + timedelta(minutes=2)
    assert scenario.end - timedelta(minutes=2) < observed.last <= scenario.end
    assert observed.count < EVENT_BUDGET
    assert len(observed.ids) == observed.count
    assert all(i.startswith("scn-7-20261124T073000-") for i in list(observed.ids)[:100])
    assert observed.late_receipt == 0
    assert set(observed.kinds) == {t.record.kind for t in EVENT_TOPICS if t.record is not None}


def test_every_device_reports_and_every_event_names_a_known_device(
    scenario: Scenario, observed: Observed
) -> None:
    devices = {r.device_id for r in scenario.reference if isinstance(r, Device)}
    assert observed.telemetry_devices == devices
    cameras = {c.camera_id for c in observed.faces} | {a.camera_id for a in observed.analytics}
    cameras |= {p.camera_id for p in observed.passages}
    assert cameras <= devices
    assert {d.door_id for d in observed.doors} <= devices


def test_reference_records_validate_and_describe_the_district(scenario: Scenario) -> None:
    records = scenario.reference
    for record in records:
        assert type(record) in TOPIC_FOR_RECORD
        assert type(record).model_validate(record.model_dump()) == record
    kinds = Counter(type(r).__name__ for r in records)
    assert set(kinds) == {
        "Resident",
        "ResidentVehicle",
        "Device",
        "BraceletWearer",
        "WatchlistPlate",
        "WatchlistFace",
    }
    devices = [r for r in records if isinstance(r, Device)]
    communities = {s.community_id: s.community for s in scenario.district.sites}
    for gate_camera in (d for d in devices if d.device_id.endswith("-anpr")):
        assert gate_camera.place == gate_camera.device_id.removesuffix("-anpr")
        centre = communities[gate_camera.community_id]
        assert gate_camera.lat is not None and gate_camera.lon is not None
        metres = distance_km(centre.lat, centre.lon, gate_camera.lat, gate_camera.lon) * 1000
        assert 90 < metres < 410
    for site in scenario.district.sites:
        for zone in site.fence_zones:
            at_zone = {d.device_kind for d in devices if d.place == zone}
            assert at_zone == {"camera", "fence_controller"}
    assert all(d.rated_current_a == 8.0 for d in devices if d.device_kind == "charging_shed")
    residents = [r for r in records if isinstance(r, Resident)]
    assert sum(r.lives_alone and (r.age or 0) >= 70 for r in residents) == len(communities)
    faces = [r for r in records if isinstance(r, WatchlistFace)]
    for face in faces:
        for resident in residents:
            embedding = scenario.district.face(resident.person_id)
            assert abs(cosine(face.embedding, list(embedding))) < 0.5


def test_same_seed_gives_the_same_scenario() -> None:
    one = Scenario.build(3, timedelta(days=1), END, communities=3)
    two = Scenario.build(3, timedelta(days=1), END, communities=3)
    assert one.labels == two.labels
    assert one.near_misses == two.near_misses
    assert one.reference == two.reference
    ids = [e.event_id for e in one.events()]
    assert ids == [e.event_id for e in two.events()]
    assert ids == [e.event_id for e in one.events()], "events() can be read again"
    other = Scenario.build(4, timedelta(days=1), END, communities=3)
    assert other.labels != one.labels


def test_a_short_scenario_injects_only_what_fits() -> None:
    hour = Scenario.build(SEED, timedelta(hours=1), END)
    types = {label.alert_type for label in hour.labels}
    assert types
    assert types.isdisjoint(
        {
            AlertType.OVERSTAY_VEHICLE,
            AlertType.ELDERLY_NOT_SEEN,
            AlertType.MLM_GATHERING,
            AlertType.GROUP_RENTING,
            AlertType.BRACELET_INACTIVE,
            AlertType.BRACELET_LOW_BATTERY,
        }
    )
    for label in hour.labels:
        assert hour.start <= label.start <= label.end <= hour.end
    events = observe(hour.events())
    assert events.in_order
    assert events.first is not None and events.last is not None
    assert hour.start <= events.first and events.last <= hour.end
    assert 3_000 < events.count < 5_000  # 114 devices beat 30 times
    oracle = Oracle(hour, events)
    for alert_type in RULE_ALERT_TYPES:
        labelled = {label.subject for label in hour.labels if label.alert_type is alert_type}
        assert set(oracle.findings(alert_type)) == labelled, alert_type


def test_build_rejects_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="positive"):
        Scenario.build(1, timedelta(0), END)
    with pytest.raises(ValueError, match="timezone"):
        Scenario.build(1, timedelta(hours=1), END.replace(tzinfo=None))
    with pytest.raises(ValueError, match="communities"):
        Scenario.build(1, timedelta(hours=1), END, communities=43)


# Scoring

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def label(
    subject: str = "浙A12345",
    start: datetime = T0,
    end: datetime | None = None,
    alert_type: AlertType = AlertType.WATCHLIST_PLATE,
) -> Label:
    return Label(alert_type, "c01", subject, start, end or start, "test")


def alert(
    subject: str = "浙A12345",
    first_seen: datetime = T0,
    alert_type: AlertType = AlertType.WATCHLIST_PLATE,
    alert_id: str | None = None,
    updated_at: datetime | None = None,
) -> Alert:
    return Alert(
        alert_id=alert_id or f"{alert_type}:{subject}:{first_seen.isoformat()}",
        alert_type=alert_type,
        severity=Severity.HIGH,
        community_id="c01",
        subject=subject,
        first_seen=first_seen,
        last_seen=first_seen,
        explanation="test",
        raised_at=first_seen,
        updated_at=updated_at or first_seen,
        source_received_at=first_seen,
    )


def test_score_counts_hits_misses_and_false_alarms() -> None:
    labels = [label("A"), label("B"), label("C", alert_type=AlertType.STRAY_DOG)]
    alerts = [alert("A"), alert("X"), alert("C", alert_type=AlertType.BRACELET_SOS)]
    scores = score(labels, alerts)
    plates = scores[AlertType.WATCHLIST_PLATE]
    assert (plates.tp, plates.fp, plates.fn) == (1, 1, 1)
    assert plates.precision == plates.recall == 0.5
    assert [m.subject for m in plates.missed] == ["B"]
    assert [u.subject for u in plates.unexpected] == ["X"]
    assert (scores[AlertType.STRAY_DOG].fn, scores[AlertType.BRACELET_SOS].fp) == (1, 1)


def test_score_matches_one_alert_per_label() -> None:
    duplicate = alert(first_seen=T0 + timedelta(seconds=30))
    scores = score([label()], [alert(), duplicate])[AlertType.WATCHLIST_PLATE]
    assert (scores.tp, scores.fp, scores.fn) == (1, 1, 0)
    two_labels = [label(start=T0, end=T0 + timedelta(hours=1)), label(start=T0)]
    scores = score(two_labels, [alert(first_seen=T0 + timedelta(minutes=30)), alert()])
    assert (scores[AlertType.WATCHLIST_PLATE].tp, scores[AlertType.WATCHLIST_PLATE].fp) == (2, 0)


def test_score_window_has_two_minutes_of_tolerance() -> None:
    window = label(start=T0, end=T0 + timedelta(minutes=10))
    for offset, hit in (
        (-timedelta(minutes=2), True),
        (-timedelta(minutes=2, seconds=1), False),
        (timedelta(minutes=12), True),
        (timedelta(minutes=12, seconds=1), False),
    ):
        result = score([window], [alert(first_seen=T0 + offset)])[AlertType.WATCHLIST_PLATE]
        assert result.tp == int(hit), offset


def test_score_keeps_the_latest_version_of_each_alert() -> None:
    older = alert(alert_id="a1", updated_at=T0)
    newer = alert(alert_id="a1", updated_at=T0 + timedelta(minutes=5))
    result = score([label()], [older, newer])[AlertType.WATCHLIST_PLATE]
    assert (result.tp, result.fp) == (1, 0)


def test_score_of_nothing_is_perfect_for_every_type() -> None:
    scores = score([], [])
    assert set(scores) == set(RULE_ALERT_TYPES)
    assert all(isinstance(s, RuleScore) for s in scores.values())
    assert all(s.precision == s.recall == 1.0 for s in scores.values())
    only_alerts = score([], [alert()])[AlertType.WATCHLIST_PLATE]
    assert (only_alerts.precision, only_alerts.recall) == (0.0, 1.0)
    only_labels = score([label()], [])[AlertType.WATCHLIST_PLATE]
    assert (only_labels.precision, only_labels.recall) == (1.0, 0.0)


def test_the_chaos_kill_scenario_has_incidents_whatever_the_hour_ci_runs_it() -> None:
    """The kill test asserts each labelled incident alerts once; a window with none (the
    district's small hours) would prove nothing, and once failed CI on `incidents > 0`."""
    from bench.chaos import KILL_COMMUNITIES
    from tests.integration.test_chaos_small import CI_SIZE

    midnight = datetime(2026, 12, 6, tzinfo=UTC)
    fewest = min(
        len(
            Scenario.build(
                CI_SIZE.seed,
                timedelta(minutes=CI_SIZE.scenario_minutes),
                end=midnight + timedelta(minutes=15 * k),
                communities=KILL_COMMUNITIES,
            ).labels
        )
        for k in range(24 * 4)
    )
    assert fewest >= 5


def test_the_chaos_kill_scenario_runs_before_anything_moves_the_worker_clock() -> None:
    """The fuzz phase's events stand at the present: run before the kill scenario, they put
    the worker's clocks past its whole window, and its devices went offline at its start
    (2 of 20 incidents never alerted). Asked for in any order, the kills still go first."""
    from bench.chaos import SCENARIOS, in_running_order

    assert in_running_order(["subscribers", "fuzz", "kills"]) == ["kills", "fuzz", "subscribers"]
    assert in_running_order(list(SCENARIOS))[0] == "kills"

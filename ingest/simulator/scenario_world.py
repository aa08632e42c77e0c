"""The labelled scenario's world: what is planned, and how plans become events.

Planning is eager and cheap (times, people, plates, device schedules, labels); events are
built only when read, each source from its own seeded generator, so reading a source
twice, or interleaved with others, gives the same events. Heartbeats and bracelet
readings follow per-device models rather than lists, as they are most of the volume.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from typing import Any

from ingest.simulator.district import (
    METRES_PER_DEGREE,
    Bracelet,
    ChargingSlot,
    Device,
    District,
    Gate,
    Site,
    unit_vector,
)
from ingest.simulator.everyday import (
    RESIDENT_METHOD_WEIGHTS,
    RESIDENT_METHODS,
    SLOT_CHARGING_HEAT_C,
    VISITOR_METHOD_WEIGHTS,
    VISITOR_METHODS,
    heartbeat_metrics,
    noisy,
    slot_metrics,
)
from ingest.simulator.rhythm import ambient_celsius
from ingest.simulator.scoring import Label
from schemas.alerts import AlertType
from schemas.events import (
    AccessMethod,
    BoundingBox,
    BraceletReading,
    CameraAnalytics,
    CameraAnalyticsKind,
    DeviceTelemetry,
    Direction,
    DoorAccess,
    DoorKind,
    Event,
    FaceCapture,
    PerimeterAlarm,
    PerimeterAlarmKind,
    PlateColour,
    VehiclePassage,
)
from schemas.reference import DISTRICT_TZ

HEARTBEAT_S = 120.0
"""Every device reports this often: well inside DEVICE_OFFLINE's 5 minutes."""
BRACELET_EVERY_S = 600.0
SLOT_THERMAL_TIME_S = 900.0
SLOT_COOLDOWN_S = 600.0
COOLDOWN_LASTS_S = 3600.0
"""After a fault the breaker is off: the slot cools towards its background for an hour."""
GPS_JITTER_M = 4.0
SAME_PERSON_SIGMA = 0.03
"""Noise of a capture around a person's embedding: cosine to it stays near 0.94."""
RESIDENT_SIGMA = 0.02
Span = tuple[datetime, datetime]


def ms(at: datetime) -> datetime:
    """Event times carry milliseconds; planning at that precision keeps labels exact."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def local_at(day: date, hours: float) -> datetime:
    """`hours` after local midnight of `day` (past 24 runs into the next day), in UTC."""
    midnight = datetime.combine(day, time(), DISTRICT_TZ)
    return ms((midnight + timedelta(hours=hours)).astimezone(UTC))


def local_day(at: datetime) -> date:
    return at.astimezone(DISTRICT_TZ).date()


def local_days(start: datetime, end: datetime) -> list[date]:
    """Every local date touching [start, end], plus the day before (evenings that reach
    past midnight into the span)."""
    first, last = local_day(start) - timedelta(days=1), local_day(end)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def hhmm(at: datetime) -> str:
    return at.astimezone(DISTRICT_TZ).strftime("%H:%M")


def when(at: datetime) -> str:
    return at.astimezone(DISTRICT_TZ).strftime("%m-%d %H:%M")


def ts(at: datetime) -> float:
    return at.timestamp()


def utc(timestamp: float) -> datetime:
    return ms(datetime.fromtimestamp(timestamp, UTC))


class EventMaker:
    """Ids, receive delays and capture noise for one source of scenario events."""

    def __init__(self, run_id: str, source: str, district: District) -> None:
        self.rng = random.Random(f"{district.seed}:scenario-events:{source}")
        self.district = district
        self._prefix = f"{run_id}-{source}-"
        self._count = 0

    def _base(self, community_id: str, at: datetime) -> dict[str, Any]:
        self._count += 1
        return {
            "event_id": f"{self._prefix}{self._count}",
            "community_id": community_id,
            "occurred_at": at,
            "received_at": at + timedelta(milliseconds=self.rng.randint(120, 900)),
        }

    def passage(
        self,
        at: datetime,
        community_id: str,
        gate: Gate,
        plate: str,
        colour: PlateColour,
        direction: Direction,
    ) -> VehiclePassage:
        base = self._base(community_id, at)
        return VehiclePassage(
            **base,
            plate=plate,
            plate_colour=colour,
            direction=direction,
            gate_id=gate.gate_id,
            camera_id=gate.camera_id,
            confidence=round(self.rng.uniform(0.86, 0.99), 3),
            snapshot_ref=f"snapshots/{base['event_id']}.jpg",
        )

    def access(
        self,
        at: datetime,
        community_id: str,
        door_id: str,
        unit: bool,
        person_id: str | None = None,
        method: AccessMethod | None = None,
    ) -> DoorAccess:
        """A resident (person_id) with any method, or a visitor with a QR code or PIN."""
        if method is None:
            methods, weights = (
                (RESIDENT_METHODS, RESIDENT_METHOD_WEIGHTS)
                if person_id
                else (VISITOR_METHODS, VISITOR_METHOD_WEIGHTS)
            )
            method = self.rng.choices(methods, weights)[0]
        return DoorAccess(
            **self._base(community_id, at),
            door_id=door_id,
            door_kind=DoorKind.UNIT_DOOR if unit else DoorKind.GATE,
            method=method,
            person_id=person_id,
            granted=True,
        )

    def capture(
        self,
        at: datetime,
        community_id: str,
        camera_id: str,
        face: str | None,
        matched: str | None = None,
    ) -> FaceCapture:
        """A capture of `face` (a person key; None is a stranger never seen again)."""
        rng = self.rng
        base = self._base(community_id, at)
        if face is None:
            embedding = [round(v, 5) for v in unit_vector(rng)]
        else:
            sigma = RESIDENT_SIGMA if matched else SAME_PERSON_SIGMA
            embedding = noisy(rng, self.district.face(face), sigma)
        score = None
        if matched:
            enrolled = self.district.face(face or matched)
            score = round(sum(a * b for a, b in zip(enrolled, embedding, strict=True)), 4)
        width = rng.uniform(90.0, 220.0)
        return FaceCapture(
            **base,
            camera_id=camera_id,
            embedding=embedding,
            quality=round(rng.uniform(0.7, 0.97), 3),
            bbox=BoundingBox(
                x=round(rng.uniform(0.0, 1920.0 - width), 1),
                y=round(rng.uniform(0.0, 1080.0 - width * 1.2), 1),
                width=round(width, 1),
                height=round(width * 1.2, 1),
            ),
            matched_person_id=matched,
            match_score=score,
            crop_ref=f"crops/{base['event_id']}.jpg",
        )

    def analytics(
        self,
        at: datetime,
        community_id: str,
        camera_id: str,
        kind: CameraAnalyticsKind,
        floor: int | None = None,
        window_column: int | None = None,
    ) -> CameraAnalytics:
        base = self._base(community_id, at)
        return CameraAnalytics(
            **base,
            camera_id=camera_id,
            analytics_kind=kind,
            snapshot_refs=[f"snapshots/{base['event_id']}.jpg"],
            confidence=round(self.rng.uniform(0.8, 0.97), 3),
            floor=floor,
            window_column=window_column,
        )

    def alarm(
        self, at: datetime, community_id: str, zone: str, kind: PerimeterAlarmKind
    ) -> PerimeterAlarm:
        return PerimeterAlarm(**self._base(community_id, at), fence_zone=zone, alarm_kind=kind)

    def telemetry(
        self, at: datetime, community_id: str, device: Device, metrics: dict[str, float]
    ) -> DeviceTelemetry:
        return DeviceTelemetry(
            **self._base(community_id, at),
            device_id=device.device_id,
            device_kind=device.kind,
            metrics=metrics,
        )

    def reading(
        self,
        at: datetime,
        community_id: str,
        bracelet: Bracelet,
        lat: float,
        lon: float,
        battery: float,
        sos: bool,
    ) -> BraceletReading:
        return BraceletReading(
            **self._base(community_id, at),
            bracelet_id=bracelet.bracelet_id,
            wearer=bracelet.wearer,
            lat=lat,
            lon=lon,
            zone="inside" if bracelet.inside(lat, lon) else "outside",
            sos=sos,
            battery=battery,
        )


class Script:
    """Planned events of one source, built into records only when read."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._items: list[tuple[datetime, int, str, tuple[Any, ...], dict[str, Any]]] = []

    def add(self, at: datetime, kind: str, *args: Any, **fields: Any) -> None:
        """`kind` names the EventMaker method; the arguments are its own after the time."""
        self._items.append((ms(at), len(self._items), kind, args, fields))

    def events(self, maker: EventMaker, start: datetime, end: datetime) -> Iterator[Event]:
        for at, _, kind, args, fields in sorted(self._items, key=itemgetter(0, 1)):
            if start <= at <= end:
                yield getattr(maker, kind)(at, *args, **fields)


@dataclass
class SlotEpisode:
    """A fault on a charging slot: readings from `onset` on, one per heartbeat; then the
    breaker trips and the slot cools down."""

    onset: float
    readings: list[dict[str, float]]

    @property
    def last(self) -> float:
        return self.onset + HEARTBEAT_S * (len(self.readings) - 1)


@dataclass
class SlotModel:
    """A slot's temperature: the day's ambient, warmed while a bike charges, with inertia."""

    slot: ChargingSlot
    sessions: list[tuple[float, float]]
    episodes: list[SlotEpisode] = field(default_factory=list)

    def charging(self, timestamp: float) -> bool:
        return any(a <= timestamp < b for a, b in self.sessions)

    def heat(self, timestamp: float) -> float:
        """Share of the charging heat reached: approaches 1 while charging, decays after."""
        level, since = 0.0, None
        for begin, stop in self.sessions:
            if begin > timestamp:
                break
            if since is not None:
                level *= math.exp(-(begin - since) / SLOT_THERMAL_TIME_S)
            until = min(stop, timestamp)
            level = 1.0 - (1.0 - level) * math.exp(-(until - begin) / SLOT_THERMAL_TIME_S)
            since = until
        if since is not None:
            level *= math.exp(-(timestamp - since) / SLOT_THERMAL_TIME_S)
        return level

    def trip(self, at: float) -> None:
        """The breaker cuts the slot: no charging from `at` until the next session."""
        self.sessions = [(a, min(b, at)) for a, b in self.sessions if a < at] + [
            (a, b) for a, b in self.sessions if a >= at
        ]

    def background_c(self, timestamp: float) -> float:
        hour = (timestamp / 3600.0 + 8.0) % 24.0
        return ambient_celsius(hour) + SLOT_CHARGING_HEAT_C * self.heat(timestamp)

    def metrics(self, timestamp: float, rng: random.Random) -> dict[str, float]:
        for episode in self.episodes:
            index = round((timestamp - episode.onset) / HEARTBEAT_S)
            if timestamp > episode.onset - 1.0 and index < len(episode.readings):
                return episode.readings[index]
            cooling = timestamp - episode.last
            if 0 < cooling < COOLDOWN_LASTS_S:
                background = self.background_c(timestamp)
                peak = episode.readings[-1]["temperature_c"]
                excess = (peak - background) * math.exp(-cooling / SLOT_COOLDOWN_S)
                return slot_metrics(
                    self.slot.slot, background + excess, 0.0, rng.gauss(220.0, 2.0), False
                )
        charging = self.charging(timestamp)
        noise = max(-0.4, min(0.4, rng.gauss(0.0, 0.2)))
        return slot_metrics(
            self.slot.slot,
            self.background_c(timestamp) + noise,
            rng.uniform(1.5, 3.5) if charging else rng.uniform(0.0, 0.02),
            rng.gauss(220.0, 2.0),
            charging,
        )


@dataclass
class DeviceModel:
    """When a device reports: every HEARTBEAT_S from its phase, except while silent."""

    community_id: str
    device: Device
    first_beat: float
    silences: list[tuple[float, float]] = field(default_factory=list)
    boots: list[float] = field(default_factory=list)
    slot: SlotModel | None = None

    def beat_at_or_after(self, timestamp: float) -> float:
        beats = max(0, math.ceil((timestamp - self.first_beat) / HEARTBEAT_S - 1e-9))
        return self.first_beat + beats * HEARTBEAT_S

    def silent(self, timestamp: float) -> bool:
        return any(a < timestamp < b for a, b in self.silences)

    def uptime(self, timestamp: float, start: float) -> float:
        booted = [b for b in self.boots if b <= timestamp]
        return timestamp - booted[-1] if booted else self.device.age_s + timestamp - start


@dataclass
class Track:
    """Where a wearer is: waypoints (time, lat, lon) joined by straight walks."""

    points: list[tuple[float, float, float]]
    still: bool = False
    """A motionless wearer: the bracelet repeats its last fix, without GPS jitter."""

    def __post_init__(self) -> None:
        self.points.sort()
        self._times = [p[0] for p in self.points]

    def position(self, timestamp: float) -> tuple[float, float]:
        i = bisect.bisect_right(self._times, timestamp)
        if i == 0:
            return self.points[0][1], self.points[0][2]
        if i == len(self.points):
            return self.points[-1][1], self.points[-1][2]
        (t0, lat0, lon0), (t1, lat1, lon1) = self.points[i - 1], self.points[i]
        share = (timestamp - t0) / (t1 - t0) if t1 > t0 else 1.0
        return lat0 + (lat1 - lat0) * share, lon0 + (lon1 - lon0) * share

    @property
    def span(self) -> tuple[float, float]:
        return self.points[0][0], self.points[-1][0]


@dataclass
class BraceletModel:
    """A wearer's day (track), a bracelet draining between nightly charges, SOS presses."""

    community_id: str
    bracelet: Bracelet
    first_reading: float
    drain_per_hour: float
    charges: list[float]
    track: Track
    detours: list[Track] = field(default_factory=list)
    sos: list[float] = field(default_factory=list)

    def position(self, timestamp: float) -> tuple[float, float, bool]:
        for detour in self.detours:
            begin, stop = detour.span
            if begin <= timestamp <= stop:
                return (*detour.position(timestamp), detour.still)
        return (*self.track.position(timestamp), False)

    def battery(self, timestamp: float) -> float:
        i = bisect.bisect_right(self.charges, timestamp)
        hours = (timestamp - self.charges[i - 1]) / 3600.0 if i else 0.0
        return round(max(0.02, 1.0 - self.drain_per_hour * hours), 3)

    def grid(self, end: float) -> list[float]:
        """Regular reading times up to `end`."""
        count = max(0, math.floor((end - self.first_reading) / BRACELET_EVERY_S) + 1)
        return [self.first_reading + k * BRACELET_EVERY_S for k in range(count)]

    def readings(self, start: float, end: float) -> list[tuple[float, bool]]:
        """(time, SOS pressed) of every reading in [start, end]."""
        regular = [(t, False) for t in self.grid(end) if t >= start]
        return sorted(regular + [(t, True) for t in self.sos if start <= t <= end])


class DeviceSource:
    """One community's device telemetry, on each device's heartbeat."""

    def __init__(self, name: str, models: Sequence[DeviceModel]) -> None:
        self.name = name
        self.models = list(models)

    def events(self, maker: EventMaker, start: datetime, end: datetime) -> Iterator[Event]:
        start_ts, end_ts = ts(start), ts(end)
        queue = [(model.first_beat, i) for i, model in enumerate(self.models)]
        heapq.heapify(queue)
        while queue:
            timestamp, i = heapq.heappop(queue)
            if timestamp > end_ts:
                break
            heapq.heappush(queue, (timestamp + HEARTBEAT_S, i))
            model = self.models[i]
            if model.silent(timestamp):
                continue
            if model.slot is not None:
                metrics = model.slot.metrics(timestamp, maker.rng)
            else:
                uptime = model.uptime(timestamp, start_ts)
                metrics = heartbeat_metrics(model.device.kind, uptime, maker.rng)
            yield maker.telemetry(utc(timestamp), model.community_id, model.device, metrics)


class BraceletSource:
    """One community's bracelet readings: every BRACELET_EVERY_S, and at each SOS press."""

    def __init__(self, name: str, models: Sequence[BraceletModel]) -> None:
        self.name = name
        self.models = list(models)

    def events(self, maker: EventMaker, start: datetime, end: datetime) -> Iterator[Event]:
        start_ts, end_ts = ts(start), ts(end)
        queue = sorted(
            (t, i, sos)
            for i, model in enumerate(self.models)
            for t, sos in model.readings(start_ts, end_ts)
        )
        rng = maker.rng
        for timestamp, i, sos in queue:
            model = self.models[i]
            lat, lon, still = model.position(timestamp)
            if not still:
                jitter = GPS_JITTER_M / METRES_PER_DEGREE
                lat += rng.gauss(0.0, jitter)
                lon += rng.gauss(0.0, jitter / math.cos(math.radians(lat)))
            yield maker.reading(
                utc(timestamp),
                model.community_id,
                model.bracelet,
                round(lat, 6),
                round(lon, 6),
                model.battery(timestamp),
                sos,
            )


Source = Script | DeviceSource | BraceletSource


class Plan:
    """Everything decided before any event is built: labels, near-misses, scripts, device
    and bracelet models, who is away when (blackouts), and what is taken (claims)."""

    def __init__(self, district: District, start: datetime, end: datetime) -> None:
        self.district = district
        self.start = start
        self.end = end
        self.labels: list[Label] = []
        self.near_misses: list[str] = []
        self.scripts: dict[str, Script] = {}
        self.devices: dict[str, DeviceModel] = {}
        self.bracelets: dict[str, BraceletModel] = {}
        self.blackouts: dict[str, list[Span]] = defaultdict(list)
        """Person ids and plates whose everyday life is replaced during these spans."""
        self.renting_units: set[str] = set()
        self.plates: set[str] = set(district.registered_plates)
        self._claims: dict[str, list[Span]] = defaultdict(list)
        self._labelled: set[tuple[AlertType, str]] = set()

    @property
    def sites(self) -> list[Site]:
        return self.district.sites

    def site(self, community_id: str) -> Site:
        return next(s for s in self.sites if s.community_id == community_id)

    def rng(self, name: str) -> random.Random:
        """A generator per planning step, so adding one step leaves the others unchanged."""
        return random.Random(f"{self.district.seed}:scenario:{name}")

    def script(self, name: str) -> Script:
        if name not in self.scripts:
            self.scripts[name] = Script(name)
        return self.scripts[name]

    def claim(self, key: str, start: datetime, end: datetime) -> bool:
        """Reserve an entity (a bracelet's track, a device, a unit) for a span; False if
        something else already uses it then."""
        spans = self._claims[key]
        if any(a < end and start < b for a, b in spans):
            return False
        spans.append((start, end))
        return True

    def away(self, key: str, at: datetime) -> bool:
        return any(a <= at <= b for a, b in self.blackouts.get(key, ()))

    def label(
        self,
        alert_type: AlertType,
        community_id: str,
        subject: str,
        start: datetime,
        end: datetime,
        note: str,
    ) -> None:
        """One label per type and subject: a second incident on the same subject would only
        update the first alert, which may still be open."""
        if self.labelled(alert_type, subject):
            raise ValueError(f"{alert_type} already labelled for {subject}")
        self._labelled.add((alert_type, subject))
        self.labels.append(Label(alert_type, community_id, subject, ms(start), ms(end), note))

    def labelled(self, alert_type: AlertType, subject: str) -> bool:
        return (alert_type, subject) in self._labelled

    def visitor_plate(self, rng: random.Random) -> str:
        """A stranger's plate used nowhere else in the scenario."""
        while True:
            plate = self.district.visitor_plate(rng)
            if plate not in self.plates:
                self.plates.add(plate)
                return plate

    def windows(
        self, lead: timedelta, tail: timedelta, hours: tuple[float, float] | None = None
    ) -> list[Span]:
        """Where an incident may start: `lead` after the start, `tail` before the end (room
        for it to unfold and be detected), and within local `hours` if given (past 24 runs
        into the next morning)."""
        earliest, latest = self.start + lead, self.end - tail
        if earliest >= latest:
            return []
        if hours is None:
            return [(earliest, latest)]
        spans = []
        for day in local_days(earliest, latest):
            lo = max(local_at(day, hours[0]), earliest)
            hi = min(local_at(day, hours[1]), latest)
            if lo < hi:
                spans.append((lo, hi))
        return spans

    @staticmethod
    def spread(count: int, windows: Sequence[Span], rng: random.Random) -> list[datetime]:
        """`count` times spread evenly over the windows, one in each equal share."""
        total = sum((b - a).total_seconds() for a, b in windows)
        if not total or count <= 0:
            return []
        times = []
        for i in range(count):
            position = (i + rng.uniform(0.15, 0.85)) * total / count
            for a, b in windows:
                length = (b - a).total_seconds()
                if position <= length:
                    times.append(ms(a + timedelta(seconds=position)))
                    break
                position -= length
        return times

    def rotation(self, rng: random.Random) -> list[Site]:
        """The sites from a random one on, so each kind of incident starts elsewhere."""
        first = rng.randrange(len(self.sites))
        return self.sites[first:] + self.sites[:first]

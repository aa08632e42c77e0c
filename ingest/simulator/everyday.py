"""Everyday life of the district as events: residents, visitors, riders and devices.

Activity (people and bracelets) is drawn from one seeded generator, so a seed replays the
same sequence. Device heartbeats and visitors' departures are scheduled in event time
from a second generator, and the occasions officers act on (fence alarms, camera
analytics, SOS presses: a few per community per day, see rhythm.py) from a third, so how
the run is cut into batches never changes when they happen. Everyday life is kept
coherent with the rules: devices never miss a heartbeat, visitors leave within hours,
bracelets stay inside their geofence with charge to spare, slots stay cool and strangers'
faces never repeat.
Records are validated on construction: a generator bug fails here, not in the worker.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ingest.simulator.district import (
    EMBEDDING_DIMS,
    Bracelet,
    CameraRole,
    ChargingSlot,
    Device,
    District,
    Site,
    offset,
)
from ingest.simulator.rhythm import (
    CUMULATIVE_MIX_BY_HOUR,
    FOLLOWS_RESIDENTS,
    MIX_KINDS,
    MOVEMENT_BY_HOUR,
    MOVEMENT_MEAN,
    MOVEMENT_PEAK,
    OUTBOUND_BY_HOUR,
    PER_COMMUNITY_DAY,
    UTC_OFFSET_HOURS,
    Occasion,
    ambient_celsius,
    local_hour,
)
from schemas.events import (
    AccessMethod,
    BoundingBox,
    BraceletReading,
    CameraAnalytics,
    CameraAnalyticsKind,
    DeviceKind,
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
    Wearer,
)

RESIDENT_VEHICLE_SHARE = 0.75
RESIDENT_DOOR_SHARE = 0.8
RESIDENT_FACE_SHARE = 0.75
RIDER_FACE_SHARE = 0.5
HOME_DOOR_SHARE = 0.8
HEARTBEAT_S = 60.0
STRANGERS_PER_UNIT_DAY = 5
VISITOR_PLATES_REMEMBERED = 100_000
"""Visitor plates are not reused within this many arrivals (hours, even at high rates),
so no stranger's car seems to roam between communities or be cloned."""
VISITOR_STAYS_MIN = ((5.0, 30.0), (30.0, 120.0))
VISITOR_STAY_WEIGHTS = (45, 55)
"""Deliveries and visits: every visitor leaves within two hours."""
RESIDENT_METHODS = (
    AccessMethod.FACE,
    AccessMethod.CARD,
    AccessMethod.ID_CARD,
    AccessMethod.QR,
    AccessMethod.PASSWORD,
)
RESIDENT_METHOD_WEIGHTS = (40, 30, 8, 12, 10)
VISITOR_METHODS = (AccessMethod.QR, AccessMethod.PASSWORD)
VISITOR_METHOD_WEIGHTS = (65, 35)
VISITOR_PLATE_COLOURS = (PlateColour.BLUE, PlateColour.GREEN, PlateColour.YELLOW)
VISITOR_PLATE_COLOUR_WEIGHTS = (75, 15, 10)
MATCH_MIN_QUALITY = 0.6
STRANGER_FACE = [0.0] * EMBEDDING_DIMS
"""Noise around nothing: a one-off visitor's face resembles no one's."""
OCCASION_ANALYTICS = {
    Occasion.STRAY_DOG: CameraAnalyticsKind.STRAY_DOG,
    Occasion.BLOCKED_FIRE_PASSAGE: CameraAnalyticsKind.BLOCKED_FIRE_PASSAGE,
    Occasion.EBIKE_IN_ELEVATOR: CameraAnalyticsKind.EBIKE_IN_ELEVATOR,
    Occasion.HIGH_ALTITUDE_THROW: CameraAnalyticsKind.HIGH_ALTITUDE_THROW,
}
OCCASIONS = tuple(Occasion)
ANALYTICS_CAMERA = {
    CameraAnalyticsKind.STRAY_DOG: CameraRole.PUBLIC,
    CameraAnalyticsKind.BLOCKED_FIRE_PASSAGE: CameraRole.PUBLIC,
    CameraAnalyticsKind.EBIKE_IN_ELEVATOR: CameraRole.ELEVATOR,
    CameraAnalyticsKind.HIGH_ALTITUDE_THROW: CameraRole.FACADE,
}
ALARM_KINDS = (PerimeterAlarmKind.CROSS, PerimeterAlarmKind.TAMPER, PerimeterAlarmKind.POWER_LOSS)
ALARM_WEIGHTS = (60, 25, 15)
SOS_FROM_HOME_M = 60.0
"""A wearer presses SOS at home or close by, well inside any geofence."""
BRACELET_STEP_DEGREES = {Wearer.ELDERLY: 0.0002, Wearer.CHILD: 0.0003, Wearer.PET: 0.0004}
WANDER_SHARE_OF_GEOFENCE = 0.6
"""Everyday wandering stays within this share of the home circle: GPS jitter included,
nobody leaves their geofence by accident."""
BRACELET_RECHARGE_BELOW = 0.2
SLOT_CHARGING_HEAT_C = 12.0
SLOT_THERMAL_TIME_S = 900.0
"""A slot warms towards its target with this time constant: at most ~1.5 °C a minute."""
SLOT_SESSION_S = 2 * 3600.0
"""Mean time between a slot starting and stopping to charge."""

HEARTBEAT, DEPARTURE, OCCASION = 0, 1, 2


class Crossing:
    """A car at a community's gate; gate and read are drawn when it is decided, so a
    departure scheduled hours ahead needs no generator when it happens."""

    def __init__(
        self,
        site: Site,
        plate: str,
        colour: PlateColour,
        outbound: bool,
        rng: random.Random,
    ) -> None:
        self.community_id = site.community_id
        self.gate = rng.choice(site.gates)
        self.plate = plate
        self.colour = colour
        self.outbound = outbound
        self.confidence = round(rng.uniform(0.82, 0.995), 3)

    def passage(self, event_id: str, at: datetime, received_at: datetime) -> VehiclePassage:
        return VehiclePassage(
            event_id=event_id,
            community_id=self.community_id,
            occurred_at=at,
            received_at=received_at,
            plate=self.plate,
            plate_colour=self.colour,
            direction=Direction.OUT if self.outbound else Direction.IN,
            gate_id=self.gate.gate_id,
            camera_id=self.gate.camera_id,
            confidence=self.confidence,
            snapshot_ref=f"snapshots/{event_id}.jpg",
        )


def heartbeat_metrics(kind: DeviceKind, uptime_s: float, rng: random.Random) -> dict[str, float]:
    """What a device reports besides being alive, by kind."""
    metrics = {"online": 1.0, "uptime_s": float(round(uptime_s))}
    if kind is DeviceKind.CAMERA:
        metrics["cpu_pct"] = round(rng.uniform(10, 70), 1)
        metrics["fps"] = float(rng.choice((15, 25)))
    elif kind is DeviceKind.DOOR:
        metrics["rssi_dbm"] = float(rng.randint(-85, -45))
    elif kind is DeviceKind.FENCE_CONTROLLER:
        metrics["pulse_kv"] = round(rng.uniform(7.5, 9.5), 2)
    elif kind is DeviceKind.SMOKE_DETECTOR:
        metrics |= {
            "obscuration_pct": round(rng.uniform(0.0, 0.4), 2),
            "battery_pct": float(rng.randint(40, 100)),
        }
    elif kind is DeviceKind.BRACELET_GATEWAY:
        metrics["connected"] = float(rng.randint(5, 12))
    return metrics


def slot_metrics(
    slot: int,
    temperature_c: float,
    current_a: float,
    voltage_v: float,
    charging: bool,
    smoke: bool = False,
) -> dict[str, float]:
    """A charging slot's reading; `smoke` is the shed's smoke sensor above that slot."""
    return {
        "slot": float(slot),
        "temperature_c": round(temperature_c, 1),
        "current_a": round(current_a, 2),
        "voltage_v": round(voltage_v, 1),
        "power_w": round(current_a * voltage_v, 1),
        "charging": 1.0 if charging else 0.0,
        "smoke": 1.0 if smoke else 0.0,
    }


def occasion_places(site: Site, occasion: Occasion) -> Sequence[object]:
    """Where an occasion can happen in a community; without any, it never happens there."""
    if occasion is Occasion.FENCE_ALARM:
        return site.fence_zones
    if occasion is Occasion.SOS_PRESS:
        return site.bracelets
    return site.cameras[ANALYTICS_CAMERA[OCCASION_ANALYTICS[occasion]]]


def fence_alarm(
    site: Site,
    event_id: str,
    at: datetime,
    received_at: datetime,
    rng: random.Random,
    kind: PerimeterAlarmKind | None = None,
) -> PerimeterAlarm:
    """An alarm of a zone of the site's fence; its kind drawn from the everyday mix unless
    given."""
    return PerimeterAlarm(
        event_id=event_id,
        community_id=site.community_id,
        occurred_at=at,
        received_at=received_at,
        fence_zone=rng.choice(site.fence_zones),
        alarm_kind=kind or rng.choices(ALARM_KINDS, ALARM_WEIGHTS)[0],
    )


def camera_analytics(
    site: Site,
    kind: CameraAnalyticsKind,
    event_id: str,
    at: datetime,
    received_at: datetime,
    rng: random.Random,
) -> CameraAnalytics:
    return CameraAnalytics(
        event_id=event_id,
        community_id=site.community_id,
        occurred_at=at,
        received_at=received_at,
        camera_id=rng.choice(site.cameras[ANALYTICS_CAMERA[kind]]),
        analytics_kind=kind,
        snapshot_refs=[f"snapshots/{event_id}-{i}.jpg" for i in range(rng.randint(1, 3))],
        confidence=round(rng.uniform(0.6, 0.98), 3),
    )


def sos_press(
    site: Site, event_id: str, at: datetime, received_at: datetime, rng: random.Random
) -> BraceletReading:
    """A wearer presses SOS near home. The spot is drawn here, not taken from the wandering
    bracelet, so a press does not depend on how much activity came before it."""
    bracelet = rng.choice(site.bracelets)
    lat, lon = offset(
        bracelet.home_lat,
        bracelet.home_lon,
        rng.uniform(0.0, SOS_FROM_HOME_M),
        rng.uniform(0.0, 2 * math.pi),
    )
    return BraceletReading(
        event_id=event_id,
        community_id=site.community_id,
        occurred_at=at,
        received_at=received_at,
        bracelet_id=bracelet.bracelet_id,
        wearer=bracelet.wearer,
        lat=round(lat, 6),
        lon=round(lon, 6),
        zone="inside" if bracelet.inside(lat, lon) else "outside",
        sos=True,
        battery=round(bracelet.battery, 3),
    )


class EverydayLife:
    """Draws the next ordinary event of the district at a given event time."""

    def __init__(
        self, district: District, clock_start_ts: float, heartbeat_s: float = HEARTBEAT_S
    ) -> None:
        if heartbeat_s <= 0:
            raise ValueError(f"heartbeat_s must be positive, got {heartbeat_s}")
        self._district = district
        self._rng = random.Random(f"{district.seed}:everyday")
        self._scheduled_rng = random.Random(f"{district.seed}:scheduled")
        self._occasion_rng = random.Random(f"{district.seed}:occasions")
        self._clock_start_ts = clock_start_ts
        self._heartbeat_s = heartbeat_s
        self._devices = [(site, device) for site in district.sites for device in site.devices]
        self._schedule: list[tuple[float, int, int]] = [
            (clock_start_ts + self._scheduled_rng.uniform(0.0, heartbeat_s), HEARTBEAT, i)
            for i in range(len(self._devices))
        ]
        self._occasion_sites = {
            occasion: [site for site in district.sites if occasion_places(site, occasion)]
            for occasion in OCCASIONS
        }
        self._schedule += [
            (self._next_occasion(occasion, clock_start_ts), OCCASION, i)
            for i, occasion in enumerate(OCCASIONS)
            if self._occasion_sites[occasion]
        ]
        heapq.heapify(self._schedule)
        self._departures: dict[int, Crossing] = {}
        self._departure_count = 0
        self._strangers_day = -1
        self._strangers_at_units: Counter[str] = Counter()
        self._recent_visitors: dict[str, None] = {}
        makers: dict[type[Event], Callable[[Site, str, datetime, datetime, int], Event]] = {
            DoorAccess: self.door_access,
            FaceCapture: self.face_capture,
            VehiclePassage: self.vehicle_passage,
            BraceletReading: self.bracelet_reading,
        }
        self._makers = [makers[kind] for kind in MIX_KINDS]

    @property
    def heartbeats_per_second(self) -> float:
        """Event-time rate of device telemetry alone."""
        return len(self._devices) / self._heartbeat_s

    def event(self, event_id: str, timestamp: float, received_at: datetime) -> Event:
        """The kind follows the hour's mix; the community is any of the district's."""
        rng = self._rng
        hour = local_hour(timestamp)
        weights = CUMULATIVE_MIX_BY_HOUR[hour]
        maker = self._makers[bisect(weights, rng.random() * weights[-1])]
        site = rng.choice(self._district.sites)
        return maker(site, event_id, datetime.fromtimestamp(timestamp, UTC), received_at, hour)

    def due(
        self, until_ts: float, received_at: datetime, next_id: Callable[[], str]
    ) -> list[Event]:
        """Heartbeats, visitors' departures and occasions scheduled up to `until_ts`, in
        time order."""
        events: list[Event] = []
        schedule = self._schedule
        while schedule and schedule[0][0] <= until_ts:
            timestamp, kind, key = heapq.heappop(schedule)
            at = datetime.fromtimestamp(timestamp, UTC)
            if kind == HEARTBEAT:
                site, device = self._devices[key]
                events.append(self.device_telemetry(site, device, next_id(), at, received_at))
                heapq.heappush(schedule, (timestamp + self._heartbeat_s, HEARTBEAT, key))
            elif kind == OCCASION:
                occasion = OCCASIONS[key]
                events.append(self.occasion(occasion, next_id(), at, received_at))
                heapq.heappush(schedule, (self._next_occasion(occasion, timestamp), OCCASION, key))
            else:
                events.append(self._departures.pop(key).passage(next_id(), at, received_at))
        return events

    def _next_occasion(self, occasion: Occasion, after_ts: float) -> float:
        """A Poisson process over the district at PER_COMMUNITY_DAY per community; those
        residents cause are thinned by the hour, so the day's total stays the figure."""
        rng = self._occasion_rng
        per_second = PER_COMMUNITY_DAY[occasion] * len(self._occasion_sites[occasion]) / 86_400
        follows = occasion in FOLLOWS_RESIDENTS
        candidates = per_second * MOVEMENT_PEAK / MOVEMENT_MEAN if follows else per_second
        timestamp = after_ts
        while True:
            timestamp += rng.expovariate(candidates)
            hour = local_hour(timestamp)
            if not follows or rng.random() * MOVEMENT_PEAK < MOVEMENT_BY_HOUR[hour]:
                return timestamp

    def occasion(
        self, occasion: Occasion, event_id: str, at: datetime, received_at: datetime
    ) -> Event:
        rng = self._occasion_rng
        site = rng.choice(self._occasion_sites[occasion])
        if occasion is Occasion.FENCE_ALARM:
            return fence_alarm(site, event_id, at, received_at, rng)
        if occasion is Occasion.SOS_PRESS:
            return sos_press(site, event_id, at, received_at, rng)
        return camera_analytics(site, OCCASION_ANALYTICS[occasion], event_id, at, received_at, rng)

    def vehicle_passage(
        self, site: Site, event_id: str, at: datetime, received_at: datetime, hour: int
    ) -> VehiclePassage:
        """A resident's car in or out, or a visitor arriving (who leaves on schedule)."""
        rng = self._rng
        outbound = rng.random() < OUTBOUND_BY_HOUR[hour]
        moved = site.move_vehicle(outbound, rng) if rng.random() < RESIDENT_VEHICLE_SHARE else None
        if moved is not None:
            vehicle, outbound = moved
            crossing = Crossing(site, vehicle.plate, vehicle.colour, outbound, rng)
            return crossing.passage(event_id, at, received_at)
        colour = rng.choices(VISITOR_PLATE_COLOURS, VISITOR_PLATE_COLOUR_WEIGHTS)[0]
        arrival = Crossing(site, self._visitor_plate(), colour, False, rng)
        stay_min = rng.uniform(*rng.choices(VISITOR_STAYS_MIN, VISITOR_STAY_WEIGHTS)[0])
        self._departure_count += 1
        self._departures[self._departure_count] = Crossing(site, arrival.plate, colour, True, rng)
        heapq.heappush(
            self._schedule,
            (at.timestamp() + stay_min * 60.0, DEPARTURE, self._departure_count),
        )
        return arrival.passage(event_id, at, received_at)

    def _visitor_plate(self) -> str:
        """A stranger's plate not seen in the last VISITOR_PLATES_REMEMBERED arrivals."""
        recent = self._recent_visitors
        while True:
            plate = self._district.visitor_plate(self._rng)
            if plate not in recent:
                break
        recent[plate] = None
        if len(recent) > VISITOR_PLATES_REMEMBERED:
            del recent[next(iter(recent))]
        return plate

    def door_access(
        self, site: Site, event_id: str, at: datetime, received_at: datetime, hour: int
    ) -> DoorAccess:
        """Residents use every method, face only one of them; visitors use QR or a password."""
        rng = self._rng
        if rng.random() < RESIDENT_DOOR_SHARE:
            resident = rng.choice(site.residents)
            person_id: str | None = resident.person_id
            home = rng.random() < HOME_DOOR_SHARE
            door = resident.door_id if home else rng.choice(site.pedestrian_gates)
            method = rng.choices(RESIDENT_METHODS, RESIDENT_METHOD_WEIGHTS)[0]
            granted = rng.random() < 0.985
        else:
            person_id = None
            home = rng.random() < 0.6
            door = rng.choice(site.unit_doors) if home else rng.choice(site.pedestrian_gates)
            method = rng.choices(VISITOR_METHODS, VISITOR_METHOD_WEIGHTS)[0]
            granted = rng.random() < 0.92
        return DoorAccess(
            event_id=event_id,
            community_id=site.community_id,
            occurred_at=at,
            received_at=received_at,
            door_id=door,
            door_kind=DoorKind.UNIT_DOOR if home else DoorKind.GATE,
            method=method,
            person_id=person_id,
            granted=granted,
        )

    def face_capture(
        self, site: Site, event_id: str, at: datetime, received_at: datetime, hour: int
    ) -> FaceCapture:
        """Captures are the enrolled face plus noise that grows as image quality drops.

        Riders are seen at the pedestrian gates: their faces recur every day, which at a
        unit door would look like the regulars of a pyramid-selling meeting. For the same
        reason a unit door sees at most STRANGERS_PER_UNIT_DAY strangers a day, whatever
        the rate; the rest pass the pedestrian gates.
        """
        rng = self._rng
        quality = round(rng.uniform(0.45, 0.99), 3)
        matched: str | None = None
        score: float | None = None
        if rng.random() < RESIDENT_FACE_SHARE:
            resident = rng.choice(site.residents)
            home = rng.random() < HOME_DOOR_SHARE
            camera = f"{resident.door_id if home else rng.choice(site.pedestrian_gates)}-cam"
            enrolled = self._district.face(resident.person_id)
            embedding = self._noisy(enrolled, 0.015 + 0.04 * (1.0 - quality))
            if quality >= MATCH_MIN_QUALITY:
                matched = resident.person_id
                score = round(sum(a * b for a, b in zip(enrolled, embedding, strict=True)), 4)
        elif rng.random() < RIDER_FACE_SHARE:
            camera = f"{rng.choice(site.pedestrian_gates)}-cam"
            rider = self._district.face(f"rider-{rng.randrange(self._district.riders)}")
            embedding = self._noisy(rider, 0.03)
        else:
            camera = self._stranger_camera(site, at)
            embedding = self._noisy(STRANGER_FACE, 1.0)
        width = rng.uniform(80.0, 240.0)
        return FaceCapture(
            event_id=event_id,
            community_id=site.community_id,
            occurred_at=at,
            received_at=received_at,
            camera_id=camera,
            embedding=embedding,
            quality=quality,
            bbox=BoundingBox(
                x=round(rng.uniform(0.0, 1920.0 - width), 1),
                y=round(rng.uniform(0.0, 1080.0 - width * 1.2), 1),
                width=round(width, 1),
                height=round(width * 1.2, 1),
            ),
            matched_person_id=matched,
            match_score=score,
            crop_ref=f"crops/{event_id}.jpg",
        )

    def _stranger_camera(self, site: Site, at: datetime) -> str:
        rng = self._rng
        camera = rng.choice(site.cameras[CameraRole.DOOR_FACE])
        if camera.removesuffix("-cam") in site.pedestrian_gates:
            return camera
        day = int((at.timestamp() / 3600.0 + UTC_OFFSET_HOURS) // 24)
        if day != self._strangers_day:
            self._strangers_day, self._strangers_at_units = day, Counter()
        if self._strangers_at_units[camera] >= STRANGERS_PER_UNIT_DAY:
            return f"{rng.choice(site.pedestrian_gates)}-cam"
        self._strangers_at_units[camera] += 1
        return camera

    def _noisy(self, base: Sequence[float], sigma: float) -> list[float]:
        """A unit-norm capture near `base`, at the 5 decimals a camera's float32 carries."""
        return noisy(self._rng, base, sigma)

    def device_telemetry(
        self, site: Site, device: Device, event_id: str, at: datetime, received_at: datetime
    ) -> DeviceTelemetry:
        rng = self._scheduled_rng
        controller_id = ""
        if isinstance(device, ChargingSlot):
            metrics = self._slot_metrics(device, at.timestamp())
            controller_id = device.place or ""
        else:
            uptime = device.age_s + max(0.0, at.timestamp() - self._clock_start_ts)
            metrics = heartbeat_metrics(device.kind, uptime, rng)
        return DeviceTelemetry(
            event_id=event_id,
            community_id=site.community_id,
            occurred_at=at,
            received_at=received_at,
            device_id=device.device_id,
            device_kind=device.kind,
            metrics=metrics,
            controller_id=controller_id,
        )

    def _slot_metrics(self, slot: ChargingSlot, timestamp: float) -> dict[str, float]:
        """Temperature follows the day and rises while a bike charges, with inertia."""
        rng = self._scheduled_rng
        if rng.random() < self._heartbeat_s / SLOT_SESSION_S:
            slot.charging = not slot.charging
        hour = (timestamp / 3600.0 + 8.0) % 24.0
        target = ambient_celsius(hour) + (SLOT_CHARGING_HEAT_C if slot.charging else 0.0)
        pull = 1.0 - math.exp(-self._heartbeat_s / SLOT_THERMAL_TIME_S)
        slot.temperature_c += (target - slot.temperature_c) * pull + rng.gauss(0.0, 0.2)
        current = rng.uniform(1.5, 3.5) if slot.charging else rng.uniform(0.0, 0.02)
        return slot_metrics(
            slot.slot, slot.temperature_c, current, rng.gauss(220.0, 3.0), slot.charging
        )

    def bracelet_reading(
        self, site: Site, event_id: str, at: datetime, received_at: datetime, hour: int
    ) -> BraceletReading:
        bracelet = self._rng.choice(site.bracelets)
        self._wander(bracelet)
        return BraceletReading(
            event_id=event_id,
            community_id=site.community_id,
            occurred_at=at,
            received_at=received_at,
            bracelet_id=bracelet.bracelet_id,
            wearer=bracelet.wearer,
            lat=round(bracelet.lat, 6),
            lon=round(bracelet.lon, 6),
            zone="inside" if bracelet.inside(bracelet.lat, bracelet.lon) else "outside",
            battery=round(bracelet.battery, 3),
        )

    def _wander(self, bracelet: Bracelet) -> None:
        """A random walk pulled back home and kept well inside the home circle; the
        wearer charges the bracelet before it runs low."""
        rng = self._rng
        step = BRACELET_STEP_DEGREES[bracelet.wearer]
        bracelet.lat += (bracelet.home_lat - bracelet.lat) * 0.1 + rng.gauss(0.0, step)
        bracelet.lon += (bracelet.home_lon - bracelet.lon) * 0.1 + rng.gauss(0.0, step)
        limit = WANDER_SHARE_OF_GEOFENCE * bracelet.geofence[0].radius_m
        away = bracelet.metres_from_home()
        if away > limit:
            pull = limit / away
            bracelet.lat = bracelet.home_lat + (bracelet.lat - bracelet.home_lat) * pull
            bracelet.lon = bracelet.home_lon + (bracelet.lon - bracelet.home_lon) * pull
        bracelet.battery -= rng.uniform(0.0, 0.003)
        if bracelet.battery < BRACELET_RECHARGE_BELOW:
            bracelet.battery = 1.0


def noisy(rng: random.Random, base: Sequence[float], sigma: float) -> list[float]:
    """A unit-norm capture near `base`, at the 5 decimals a camera's float32 carries."""
    gauss = rng.gauss
    values = [v + gauss(0.0, sigma) for v in base]
    norm = math.sqrt(sum(v * v for v in values))
    return [round(v / norm, 5) for v in values]

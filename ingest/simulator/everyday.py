"""Everyday life of the district as events: residents, visitors, riders and devices.

One seeded `random.Random` drives every choice, so a seed replays the same sequence.
Records are validated on construction: a generator bug fails here, not in the worker.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
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
)
from ingest.simulator.rhythm import (
    CUMULATIVE_MIX_BY_HOUR,
    MIX_KINDS,
    OUTBOUND_BY_HOUR,
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
VISITOR_PLATES_REMEMBERED = 50
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
ANALYTICS_KINDS = (
    CameraAnalyticsKind.STRAY_DOG,
    CameraAnalyticsKind.BLOCKED_FIRE_PASSAGE,
    CameraAnalyticsKind.EBIKE_IN_ELEVATOR,
    CameraAnalyticsKind.HIGH_ALTITUDE_THROW,
)
ANALYTICS_WEIGHTS = (35, 30, 25, 10)
ANALYTICS_CAMERA = {
    CameraAnalyticsKind.STRAY_DOG: CameraRole.PUBLIC,
    CameraAnalyticsKind.BLOCKED_FIRE_PASSAGE: CameraRole.PUBLIC,
    CameraAnalyticsKind.EBIKE_IN_ELEVATOR: CameraRole.ELEVATOR,
    CameraAnalyticsKind.HIGH_ALTITUDE_THROW: CameraRole.FACADE,
}
ALARM_KINDS = (PerimeterAlarmKind.CROSS, PerimeterAlarmKind.TAMPER, PerimeterAlarmKind.POWER_LOSS)
ALARM_WEIGHTS = (60, 25, 15)
BRACELET_STEP_DEGREES = {Wearer.ELDERLY: 0.0002, Wearer.CHILD: 0.0003, Wearer.PET: 0.0004}
GEOFENCE_METRES = 250.0


class EverydayLife:
    """Draws the next ordinary event of the district at a given event time."""

    def __init__(self, district: District, clock_start_ts: float) -> None:
        self._district = district
        self._rng = random.Random(f"{district.seed}:everyday")
        self._clock_start_ts = clock_start_ts
        makers: dict[type[Event], Callable[[Site, str, datetime, datetime, int], Event]] = {
            DoorAccess: self.door_access,
            FaceCapture: self.face_capture,
            VehiclePassage: self.vehicle_passage,
            DeviceTelemetry: self.device_telemetry,
            BraceletReading: self.bracelet_reading,
            CameraAnalytics: self.camera_analytics,
            PerimeterAlarm: self.perimeter_alarm,
        }
        self._makers = [makers[kind] for kind in MIX_KINDS]

    def event(self, event_id: str, timestamp: float, received_at: datetime) -> Event:
        """The kind follows the hour's mix; the community is any of the district's."""
        rng = self._rng
        hour = local_hour(timestamp)
        weights = CUMULATIVE_MIX_BY_HOUR[hour]
        maker = self._makers[bisect(weights, rng.random() * weights[-1])]
        site = rng.choice(self._district.sites)
        return maker(site, event_id, datetime.fromtimestamp(timestamp, UTC), received_at, hour)

    def vehicle_passage(
        self, site: Site, event_id: str, at: datetime, received_at: datetime, hour: int
    ) -> VehiclePassage:
        rng = self._rng
        gate = rng.choice(site.gates)
        outbound = rng.random() < OUTBOUND_BY_HOUR[hour]
        moved = site.move_vehicle(outbound, rng) if rng.random() < RESIDENT_VEHICLE_SHARE else None
        if moved is not None:
            vehicle, outbound = moved
            plate, colour = vehicle.plate, vehicle.colour
        else:
            plate, outbound = self._visitor_crossing(site, outbound)
            colour = rng.choices(VISITOR_PLATE_COLOURS, VISITOR_PLATE_COLOUR_WEIGHTS)[0]
        return VehiclePassage(
            event_id=event_id,
            community_id=site.community_id,
            occurred_at=at,
            received_at=received_at,
            plate=plate,
            plate_colour=colour,
            direction=Direction.OUT if outbound else Direction.IN,
            gate_id=gate.gate_id,
            camera_id=gate.camera_id,
            confidence=round(rng.uniform(0.82, 0.995), 3),
            snapshot_ref=f"snapshots/{event_id}.jpg",
        )

    def _visitor_crossing(self, site: Site, outbound: bool) -> tuple[str, bool]:
        """Visitors leave with the plate they came in with; a few remembered per community."""
        rng = self._rng
        inside = site.visitor_plates_inside
        if outbound and inside:
            index = rng.randrange(len(inside))
            inside[index], inside[-1] = inside[-1], inside[index]
            return inside.pop(), True
        plate = self._district.visitor_plate(rng)
        if len(inside) < VISITOR_PLATES_REMEMBERED:
            inside.append(plate)
        return plate, False

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
        """Captures are the enrolled face plus noise that grows as image quality drops."""
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
        else:
            camera = rng.choice(site.cameras[CameraRole.DOOR_FACE])
            if rng.random() < RIDER_FACE_SHARE:
                rider = self._district.face(f"rider-{rng.randrange(self._district.riders)}")
                embedding = self._noisy(rider, 0.03)
            else:
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

    def _noisy(self, base: Sequence[float], sigma: float) -> list[float]:
        """A unit-norm capture near `base`, at the 5 decimals a camera's float32 carries."""
        gauss = self._rng.gauss
        values = [v + gauss(0.0, sigma) for v in base]
        norm = math.sqrt(sum(v * v for v in values))
        return [round(v / norm, 5) for v in values]

    def device_telemetry(
        self, site: Site, event_id: str, at: datetime, received_at: datetime, hour: int
    ) -> DeviceTelemetry:
        device = self._rng.choice(site.devices)
        if isinstance(device, ChargingSlot):
            metrics = self._slot_metrics(device, hour)
        else:
            metrics = self._heartbeat(device, at.timestamp())
        return DeviceTelemetry(
            event_id=event_id,
            community_id=site.community_id,
            occurred_at=at,
            received_at=received_at,
            device_id=device.device_id,
            device_kind=device.kind,
            metrics=metrics,
        )

    def _slot_metrics(self, slot: ChargingSlot, hour: int) -> dict[str, float]:
        """Temperature follows the day and rises while a bike charges, with inertia."""
        rng = self._rng
        if rng.random() < 0.05:
            slot.charging = not slot.charging
        target = ambient_celsius(hour) + (12.0 if slot.charging else 0.0)
        slot.temperature_c += (target - slot.temperature_c) * 0.3 + rng.gauss(0.0, 0.4)
        current = rng.uniform(1.5, 3.5) if slot.charging else rng.uniform(0.0, 0.02)
        voltage = rng.gauss(220.0, 3.0)
        return {
            "slot": float(slot.slot),
            "temperature_c": round(slot.temperature_c, 1),
            "current_a": round(current, 2),
            "voltage_v": round(voltage, 1),
            "power_w": round(current * voltage, 1),
            "charging": 1.0 if slot.charging else 0.0,
        }

    def _heartbeat(self, device: Device, timestamp: float) -> dict[str, float]:
        rng = self._rng
        metrics = {
            "online": 1.0,
            "uptime_s": round(device.age_s + max(0.0, timestamp - self._clock_start_ts)),
        }
        if device.kind is DeviceKind.CAMERA:
            metrics["cpu_pct"] = round(rng.uniform(10, 70), 1)
            metrics["fps"] = float(rng.choice((15, 25)))
        elif device.kind is DeviceKind.DOOR:
            metrics["rssi_dbm"] = float(rng.randint(-85, -45))
        elif device.kind is DeviceKind.FENCE_CONTROLLER:
            metrics["pulse_kv"] = round(rng.uniform(7.5, 9.5), 2)
        elif device.kind is DeviceKind.SMOKE_DETECTOR:
            metrics |= {
                "obscuration_pct": round(rng.uniform(0.0, 0.4), 2),
                "battery_pct": float(rng.randint(40, 100)),
            }
        elif device.kind is DeviceKind.BRACELET_GATEWAY:
            metrics["connected"] = float(rng.randint(5, 12))
        return metrics

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
            zone="inside" if bracelet.metres_from_home() <= GEOFENCE_METRES else "outside",
            battery=round(bracelet.battery, 3),
        )

    def _wander(self, bracelet: Bracelet) -> None:
        """A random walk pulled back home, so wearers stay near their community."""
        rng = self._rng
        step = BRACELET_STEP_DEGREES[bracelet.wearer]
        bracelet.lat += (bracelet.home_lat - bracelet.lat) * 0.1 + rng.gauss(0.0, step)
        bracelet.lon += (bracelet.home_lon - bracelet.lon) * 0.1 + rng.gauss(0.0, step)
        bracelet.battery -= rng.uniform(0.0, 0.003)
        if bracelet.battery < 0.1:
            bracelet.battery = 1.0

    def camera_analytics(
        self, site: Site, event_id: str, at: datetime, received_at: datetime, hour: int
    ) -> CameraAnalytics:
        rng = self._rng
        kind = rng.choices(ANALYTICS_KINDS, ANALYTICS_WEIGHTS)[0]
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

    def perimeter_alarm(
        self, site: Site, event_id: str, at: datetime, received_at: datetime, hour: int
    ) -> PerimeterAlarm:
        rng = self._rng
        return PerimeterAlarm(
            event_id=event_id,
            community_id=site.community_id,
            occurred_at=at,
            received_at=received_at,
            fence_zone=rng.choice(site.fence_zones),
            alarm_kind=rng.choices(ALARM_KINDS, ALARM_WEIGHTS)[0],
        )

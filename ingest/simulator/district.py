"""The simulated district: who lives where, which devices exist, and their changing state.

Built once from a seed, so the same seed gives the same residents, plates and devices.
The state that events change (cars inside or out, slot temperatures, bracelet positions)
lives on the sites and evolves only through the seeded generator. `reference_records`
gives the rules what they look up: residents, their cars, devices, bracelets, watchlists.
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pingan.platform.district import load_communities
from schemas import reference
from schemas.alerts import WatchlistCategory, WatchlistFace, WatchlistPlate
from schemas.events import DeviceKind, PlateColour, Record, Wearer, utc_now
from schemas.reference import Community, GeofenceCircle

EMBEDDING_DIMS = 128
PROVINCES = ("鄂", "湘", "豫", "赣", "皖", "川")
PROVINCE_WEIGHTS = (85, 4, 4, 3, 2, 2)
"""Hubei first (鄂), then the neighbouring provinces whose cars a Wuhan estate sees."""
HOME_CITY_SHARE = 0.85
"""Of Hubei plates, the share issued in Wuhan (鄂A); the rest are other Hubei cities."""
CITY_LETTERS = "ABCDEFGHJK"
SERIAL_DIGITS = "0123456789"
SERIAL_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: they read as 1 and 0
OCR_CONFUSIONS = {"D": "0", "Q": "0", "O": "0", "B": "8", "I": "1", "Z": "2", "S": "5"}
"""Characters a plate reader mistakes for one another, mapped to one representative."""
RESIDENT_PLATE_COLOURS = (PlateColour.BLUE, PlateColour.GREEN, PlateColour.YELLOW)
RESIDENT_PLATE_COLOUR_WEIGHTS = (78, 20, 2)
WEARERS = (Wearer.ELDERLY, Wearer.CHILD, Wearer.PET)
WEARER_WEIGHTS = (60, 25, 15)
WATCHLIST_NOTES = {
    WatchlistCategory.WANTED: "vehicle linked to a wanted suspect",
    WatchlistCategory.STOLEN: "reported stolen",
    WatchlistCategory.ATTENTION: "known to police, report sightings",
}
VEHICLE_OWNERSHIP = 0.3
VEHICLES_INSIDE_AT_START = 0.6
METRES_PER_DEGREE = 111_320.0
ELDERLY_AGE = 70
HOME_GEOFENCE_M = 400.0
"""An elderly wearer's or a pet's geofence: a circle this wide around home."""
SCHOOL_ROUTE_KM = (1.0, 1.6)
ROUTE_STEP_M = 250.0
ROUTE_RADIUS_M = 180.0
"""A child's geofence: home, then circles every 250 m to school (overlapping, so the route
between their centres stays inside)."""
GATE_DISTANCE_M = (100.0, 400.0)
SLOT_RATED_CURRENT_A = 8.0
RAID_CASES = ("2024-传销-017", "2025-传销-003", "2025-传销-011")


class CameraRole(StrEnum):
    """What a camera looks at, which decides the analytics it can raise."""

    GATE_PLATE = "gate_plate"
    DOOR_FACE = "door_face"
    ELEVATOR = "elevator"
    FACADE = "facade"
    PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class Gate:
    gate_id: str
    camera_id: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Resident:
    person_id: str
    door_id: str
    age: int
    lives_alone: bool = False

    @property
    def elderly_alone(self) -> bool:
        """Whom the welfare check (elderly not seen) watches over."""
        return self.lives_alone and self.age >= ELDERLY_AGE


@dataclass(frozen=True, slots=True)
class Vehicle:
    plate: str
    colour: PlateColour
    owner_id: str


@dataclass(slots=True)
class Device:
    device_id: str
    kind: DeviceKind
    age_s: float
    """Uptime when the simulation starts."""
    place: str | None = None
    """What it guards: a gate, door, fence zone, building, shed or fire passage."""


@dataclass(slots=True)
class ChargingSlot(Device):
    """One socket of an e-bike charging shed: the fire risk is a slot running hot."""

    slot: int = 0
    charging: bool = False
    temperature_c: float = 20.0
    rated_current_a: float = SLOT_RATED_CURRENT_A


@dataclass(slots=True)
class Bracelet:
    bracelet_id: str
    wearer: Wearer
    home_lat: float
    home_lon: float
    lat: float
    lon: float
    battery: float
    geofence: tuple[GeofenceCircle, ...] = ()

    def metres_from_home(self) -> float:
        return metres_between(self.home_lat, self.home_lon, self.lat, self.lon)

    def inside(self, lat: float, lon: float) -> bool:
        return any(metres_between(c.lat, c.lon, lat, lon) <= c.radius_m for c in self.geofence)


@dataclass(frozen=True, slots=True)
class WatchlistEntry:
    plate: str
    category: WatchlistCategory
    note: str


@dataclass(frozen=True, slots=True)
class WatchlistFaceEntry:
    """Someone photographed at a past raid; the embedding is `District.face(face_id)`."""

    face_id: str
    case: str
    note: str


@dataclass(slots=True)
class Site:
    """One community's layout, residents and mutable state."""

    community: Community
    gates: list[Gate]
    pedestrian_gates: list[str]
    unit_doors: list[str]
    cameras: dict[CameraRole, list[str]]
    fence_zones: list[str]
    devices: list[Device]
    residents: list[Resident]
    bracelets: list[Bracelet]
    vehicles_inside: list[Vehicle] = field(default_factory=list)
    vehicles_outside: list[Vehicle] = field(default_factory=list)

    @property
    def community_id(self) -> str:
        return self.community.community_id

    @property
    def vehicles(self) -> list[Vehicle]:
        return [*self.vehicles_inside, *self.vehicles_outside]

    def move_vehicle(self, outbound: bool, rng: random.Random) -> tuple[Vehicle, bool] | None:
        """A resident's car crosses the gate; a car never leaves twice without coming back."""
        source, target = (
            (self.vehicles_inside, self.vehicles_outside)
            if outbound
            else (self.vehicles_outside, self.vehicles_inside)
        )
        if not source:
            if not target:
                return None
            source, target, outbound = target, source, not outbound
        index = rng.randrange(len(source))
        source[index], source[-1] = source[-1], source[index]
        vehicle = source.pop()
        target.append(vehicle)
        return vehicle, outbound

    def reference_records(self) -> list[Record]:
        cid = self.community_id
        gates = {gate.gate_id: gate for gate in self.gates}
        records: list[Record] = [
            reference.Resident(
                person_id=r.person_id,
                community_id=cid,
                unit_door_id=r.door_id,
                age=r.age,
                lives_alone=r.lives_alone,
            )
            for r in self.residents
        ]
        records += [
            reference.ResidentVehicle(plate=v.plate, community_id=cid, person_id=v.owner_id)
            for v in self.vehicles
        ]
        for device in self.devices:
            gate = gates.get(device.place or "")
            records.append(
                reference.Device(
                    device_id=device.device_id,
                    community_id=cid,
                    device_kind=device.kind,
                    place=device.place,
                    lat=gate.lat if gate else None,
                    lon=gate.lon if gate else None,
                    rated_current_a=(
                        device.rated_current_a if isinstance(device, ChargingSlot) else None
                    ),
                )
            )
        records += [
            reference.BraceletWearer(
                bracelet_id=b.bracelet_id,
                community_id=cid,
                wearer=b.wearer,
                geofence=list(b.geofence),
            )
            for b in self.bracelets
        ]
        return records


@dataclass(frozen=True)
class DistrictSize:
    """Per-community scale; the defaults keep 42 communities within a few MB.

    Ranges are (fewest, most), drawn per community; the labelled scenario uses a small
    layout so that every device's heartbeat fits its event budget.
    """

    unit_doors: int = 30
    residents_per_door: int = 6
    bracelets: int = 12
    watchlist: int = 6
    watchlist_faces: int = 4
    elderly_alone_doors: float = 0.15
    """Share of unit doors whose only resident is 70+ (about 3% of residents)."""
    units_per_building: tuple[int, int] = (2, 4)
    gates: tuple[int, int] = (2, 4)
    pedestrian_gates: tuple[int, int] = (1, 2)
    fence_zones: tuple[int, int] = (4, 8)
    fire_passages: tuple[int, int] = (1, 2)
    """Public cameras beyond the one per fence zone, each watching a fire passage."""
    smoke_detectors_per_building: tuple[int, int] = (1, 2)
    sheds: tuple[int, int] = (1, 3)
    slots_per_shed: tuple[int, int] = (8, 16)


class District:
    """The communities, the delivery riders roaming between them, and the police watchlists.

    `registered_plates` (residents' and watchlisted) are never given to strangers, nor are
    plates a reader could mistake for a watchlisted one, so a watchlist hit (exact or
    possible) is always an injected incident and a resident's car never meets a twin.
    """

    def __init__(
        self,
        seed: int,
        sites: list[Site],
        riders: int,
        watchlist: list[WatchlistEntry],
        registered_plates: frozenset[str],
        watchlist_faces: list[WatchlistFaceEntry],
    ) -> None:
        self.seed = seed
        self.sites = sites
        self.riders = riders
        self.watchlist = watchlist
        self.registered_plates = registered_plates
        self.watchlist_faces = watchlist_faces
        self._faces: dict[str, array[float]] = {}

    @classmethod
    def build(
        cls,
        seed: int,
        communities: Sequence[Community] | None = None,
        size: DistrictSize | None = None,
    ) -> District:
        """The same seed and communities always give the same district."""
        communities = load_communities() if communities is None else communities
        if not communities:
            raise ValueError("a district needs at least one community")
        size = size or DistrictSize()
        rng = random.Random(f"{seed}:district")
        registered: set[str] = set()
        sites = [_build_site(community, size, rng, registered) for community in communities]
        watchlist = _build_watchlist(size.watchlist, rng, registered)
        faces = [
            WatchlistFaceEntry(
                face_id=f"raid-{n + 1:02d}",
                case=RAID_CASES[n % len(RAID_CASES)],
                note="photographed at a pyramid-selling (传销) gathering broken up by police",
            )
            for n in range(size.watchlist_faces)
        ]
        return cls(seed, sites, max(10, 2 * len(sites)), watchlist, frozenset(registered), faces)

    def face(self, person_key: str) -> array[float]:
        """A person's enrolled embedding: stable per seed and person, computed when first seen.

        Kept as a packed array: 1 KB per person instead of 4 KB of float objects.
        """
        embedding = self._faces.get(person_key)
        if embedding is None:
            embedding = array("d", unit_vector(random.Random(f"{self.seed}:face:{person_key}")))
            self._faces[person_key] = embedding
        return embedding

    def visitor_plate(self, rng: random.Random) -> str:
        """A stranger's plate: never a resident's, nor one a reader could take for a
        watchlisted plate (only incidents hit those)."""
        while True:
            plate = random_plate(rng)
            if plate not in self.registered_plates and not self.resembles_watchlist(plate):
                return plate

    def resembles_watchlist(self, plate: str) -> bool:
        return any(plates_resemble(plate, entry.plate) for entry in self.watchlist)

    def reference_records(self, added_at: datetime | None = None) -> list[Record]:
        """Everything rules look up, to publish on the compacted topics before any event."""
        added_at = added_at or utc_now()
        records = [record for site in self.sites for record in site.reference_records()]
        records += [
            WatchlistPlate(
                plate=entry.plate,
                category=entry.category,
                note=entry.note,
                added_by="simulator",
                added_at=added_at,
            )
            for entry in self.watchlist
        ]
        records += [
            WatchlistFace(
                face_id=entry.face_id,
                embedding=[round(v, 5) for v in self.face(entry.face_id)],
                case=entry.case,
                note=entry.note,
                added_by="simulator",
                added_at=added_at,
            )
            for entry in self.watchlist_faces
        ]
        return records


def unit_vector(rng: random.Random) -> list[float]:
    values = [rng.gauss(0.0, 1.0) for _ in range(EMBEDDING_DIMS)]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def random_plate(rng: random.Random) -> str:
    """A plate in normalised form, e.g. 鄂A12345 (shown as 鄂A·12345): Wuhan-heavy."""
    province = rng.choices(PROVINCES, PROVINCE_WEIGHTS)[0]
    home = province == PROVINCES[0] and rng.random() < HOME_CITY_SHARE
    city = "A" if home else rng.choice(CITY_LETTERS)
    serial = "".join(
        rng.choice(SERIAL_LETTERS) if rng.random() < 0.15 else rng.choice(SERIAL_DIGITS)
        for _ in range(5)
    )
    return f"{province}{city}{serial}"


def plates_resemble(a: str, b: str, max_differences: int = 2) -> bool:
    """Whether a reader could take one plate for the other: equal length and at most
    `max_differences` characters apart once OCR-confusable characters count as one."""
    if len(a) != len(b):
        return False
    differences = sum(
        OCR_CONFUSIONS.get(x, x) != OCR_CONFUSIONS.get(y, y) for x, y in zip(a, b, strict=True)
    )
    return differences <= max_differences


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return reference.distance_km(lat1, lon1, lat2, lon2) * 1000.0


def offset(lat: float, lon: float, metres: float, bearing: float) -> tuple[float, float]:
    """The point `metres` away along `bearing` (radians from north), flat-earth close."""
    dlat = metres * math.cos(bearing) / METRES_PER_DEGREE
    dlon = metres * math.sin(bearing) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def _unique_plate(rng: random.Random, registered: set[str]) -> str:
    while True:
        plate = random_plate(rng)
        if plate not in registered:
            registered.add(plate)
            return plate


def _build_site(
    community: Community, size: DistrictSize, rng: random.Random, registered: set[str]
) -> Site:
    cid = community.community_id
    gates = []
    for i in range(1, rng.randint(*size.gates) + 1):
        lat, lon = offset(
            community.lat,
            community.lon,
            rng.uniform(*GATE_DISTANCE_M),
            rng.uniform(0.0, 2 * math.pi),
        )
        gates.append(Gate(f"{cid}-g{i}", f"{cid}-g{i}-anpr", round(lat, 6), round(lon, 6)))
    pedestrian_gates = [f"{cid}-pg{i}" for i in range(1, rng.randint(*size.pedestrian_gates) + 1)]
    unit_doors, buildings = _unit_doors(cid, size, rng)
    fence_zones = [f"{cid}-fz{i}" for i in range(1, rng.randint(*size.fence_zones) + 1)]
    fire_passages = [f"{cid}-fp{i}" for i in range(1, rng.randint(*size.fire_passages) + 1)]
    public_places = [*fence_zones, *fire_passages]
    public_cameras = {f"{cid}-pub{i}": place for i, place in enumerate(public_places, start=1)}
    cameras = {
        CameraRole.GATE_PLATE: [gate.camera_id for gate in gates],
        CameraRole.DOOR_FACE: [f"{door}-cam" for door in (*pedestrian_gates, *unit_doors)],
        CameraRole.ELEVATOR: [f"{b}-elev" for b in buildings],
        CameraRole.FACADE: [f"{b}-facade" for b in buildings[::2]],
        CameraRole.PUBLIC: list(public_cameras),
    }
    places = {gate.camera_id: gate.gate_id for gate in gates}
    places |= {f"{door}-cam": door for door in (*pedestrian_gates, *unit_doors)}
    places |= {f"{b}-elev": b for b in buildings} | {f"{b}-facade": b for b in buildings}
    places |= public_cameras
    site = Site(
        community=community,
        gates=gates,
        pedestrian_gates=pedestrian_gates,
        unit_doors=unit_doors,
        cameras=cameras,
        fence_zones=fence_zones,
        devices=_devices(
            cid, cameras, places, pedestrian_gates, unit_doors, fence_zones, buildings, size, rng
        ),
        residents=_residents(cid, unit_doors, size, rng),
        bracelets=_bracelets(community, size.bracelets, rng),
    )
    _register_vehicles(site, rng, registered)
    return site


def _unit_doors(cid: str, size: DistrictSize, rng: random.Random) -> tuple[list[str], list[str]]:
    """Unit doors spread over buildings of a few units each; returns doors and building ids."""
    doors: list[str] = []
    buildings: list[str] = []
    while len(doors) < size.unit_doors:
        building = f"{cid}-b{len(buildings) + 1:02d}"
        buildings.append(building)
        units = min(rng.randint(*size.units_per_building), size.unit_doors - len(doors))
        doors.extend(f"{building}-u{unit}" for unit in range(1, units + 1))
    return doors, buildings


def _devices(
    cid: str,
    cameras: dict[CameraRole, list[str]],
    places: dict[str, str],
    pedestrian_gates: list[str],
    unit_doors: list[str],
    fence_zones: list[str],
    buildings: list[str],
    size: DistrictSize,
    rng: random.Random,
) -> list[Device]:
    def age() -> float:
        return rng.uniform(3_600.0, 90 * 86_400.0)

    devices = [
        Device(camera, DeviceKind.CAMERA, age(), places[camera])
        for group in cameras.values()
        for camera in group
    ]
    devices += [
        Device(door, DeviceKind.DOOR, age(), door) for door in (*pedestrian_gates, *unit_doors)
    ]
    devices += [
        Device(f"{zone}-ctl", DeviceKind.FENCE_CONTROLLER, age(), zone) for zone in fence_zones
    ]
    devices += [
        Device(f"{building}-smoke{k}", DeviceKind.SMOKE_DETECTOR, age(), building)
        for building in buildings
        for k in range(1, rng.randint(*size.smoke_detectors_per_building) + 1)
    ]
    devices.append(Device(f"{cid}-bgw", DeviceKind.BRACELET_GATEWAY, age(), cid))
    for shed in range(1, rng.randint(*size.sheds) + 1):
        devices += [
            ChargingSlot(
                f"{cid}-shed{shed}-s{slot:02d}",
                DeviceKind.CHARGING_SHED,
                age(),
                f"{cid}-shed{shed}",
                slot=slot,
                charging=rng.random() < 0.4,
                temperature_c=rng.uniform(16.0, 24.0),
            )
            for slot in range(1, rng.randint(*size.slots_per_shed) + 1)
        ]
    return devices


def _residents(
    cid: str, unit_doors: list[str], size: DistrictSize, rng: random.Random
) -> list[Resident]:
    """Households of `residents_per_door`, except the elderly living alone."""
    alone = set(rng.sample(unit_doors, round(len(unit_doors) * size.elderly_alone_doors)))
    residents: list[Resident] = []
    for door in unit_doors:
        if door in alone:
            ages = [rng.randint(ELDERLY_AGE, 92)]
        else:
            ages = _household_ages(size.residents_per_door, rng)
        residents += [
            Resident(f"{cid}-p{len(residents) + n:04d}", door, age, door in alone)
            for n, age in enumerate(ages, start=1)
        ]
    return residents


def _household_ages(members: int, rng: random.Random) -> list[int]:
    """Two working-age adults, then children or grandparents."""
    ages = [rng.randint(26, 62) for _ in range(min(2, members))]
    for _ in range(members - len(ages)):
        ages.append(rng.randint(0, 17) if rng.random() < 0.6 else rng.randint(60, 88))
    return ages


def _bracelets(community: Community, count: int, rng: random.Random) -> list[Bracelet]:
    bracelets = []
    for k in range(1, count + 1):
        lat = community.lat + rng.uniform(-0.0008, 0.0008)
        lon = community.lon + rng.uniform(-0.0008, 0.0008)
        wearer = rng.choices(WEARERS, WEARER_WEIGHTS)[0]
        bracelets.append(
            Bracelet(
                bracelet_id=f"{community.community_id}-br{k:02d}",
                wearer=wearer,
                home_lat=lat,
                home_lon=lon,
                lat=lat,
                lon=lon,
                battery=rng.uniform(0.3, 1.0),
                geofence=_geofence(wearer, lat, lon, rng),
            )
        )
    return bracelets


def _geofence(
    wearer: Wearer, lat: float, lon: float, rng: random.Random
) -> tuple[GeofenceCircle, ...]:
    """Around home for the elderly and pets; for a child, home plus the way to school."""
    home = GeofenceCircle(lat=round(lat, 6), lon=round(lon, 6), radius_m=HOME_GEOFENCE_M)
    if wearer is not Wearer.CHILD:
        return (home,)
    bearing = rng.uniform(0.0, 2 * math.pi)
    route_m = rng.uniform(*SCHOOL_ROUTE_KM) * 1000.0
    steps = math.ceil(route_m / ROUTE_STEP_M)
    circles = [home.model_copy(update={"radius_m": 300.0})]
    for step in range(1, steps + 1):
        c_lat, c_lon = offset(lat, lon, route_m * step / steps, bearing)
        circles.append(
            GeofenceCircle(lat=round(c_lat, 6), lon=round(c_lon, 6), radius_m=ROUTE_RADIUS_M)
        )
    return tuple(circles)


def _register_vehicles(site: Site, rng: random.Random, registered: set[str]) -> None:
    """Working-age residents may own a car; the elderly living alone do not drive."""
    for resident in site.residents:
        if resident.lives_alone or not 18 <= resident.age <= 75:
            continue
        if rng.random() >= VEHICLE_OWNERSHIP:
            continue
        colour = rng.choices(RESIDENT_PLATE_COLOURS, RESIDENT_PLATE_COLOUR_WEIGHTS)[0]
        vehicle = Vehicle(_unique_plate(rng, registered), colour, resident.person_id)
        inside = rng.random() < VEHICLES_INSIDE_AT_START
        (site.vehicles_inside if inside else site.vehicles_outside).append(vehicle)


def _build_watchlist(count: int, rng: random.Random, registered: set[str]) -> list[WatchlistEntry]:
    """Plates the police look for; none belongs to, or reads like, a resident's plate, so
    every hit is an incident."""
    categories = list(WatchlistCategory)
    entries: list[WatchlistEntry] = []
    while len(entries) < count:
        plate = random_plate(rng)
        if plate in registered or any(plates_resemble(plate, other) for other in registered):
            continue
        registered.add(plate)
        category = categories[len(entries) % len(categories)]
        entries.append(WatchlistEntry(plate, category, WATCHLIST_NOTES[category]))
    return entries

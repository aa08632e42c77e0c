"""The simulated district: who lives where, which devices exist, and their changing state.

Built once from a seed, so the same seed gives the same residents, plates and devices.
The state that events change (cars inside or out, slot temperatures, bracelet positions)
lives on the sites and evolves only through the seeded generator.
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ingest.reference import load_communities
from schemas.alerts import WatchlistCategory
from schemas.events import DeviceKind, PlateColour, Wearer
from schemas.reference import Community

EMBEDDING_DIMS = 128
PROVINCES = ("浙", "沪", "苏", "皖", "赣", "闽")
PROVINCE_WEIGHTS = (80, 6, 6, 4, 2, 2)
CITY_LETTERS = "ABCDEFGHJK"
SERIAL_DIGITS = "0123456789"
SERIAL_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: they read as 1 and 0
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


@dataclass(frozen=True, slots=True)
class Resident:
    person_id: str
    door_id: str


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


@dataclass(slots=True)
class ChargingSlot(Device):
    """One socket of an e-bike charging shed: the fire risk is a slot running hot."""

    slot: int = 0
    charging: bool = False
    temperature_c: float = 20.0


@dataclass(slots=True)
class Bracelet:
    bracelet_id: str
    wearer: Wearer
    home_lat: float
    home_lon: float
    lat: float
    lon: float
    battery: float

    def metres_from_home(self) -> float:
        dlat = (self.lat - self.home_lat) * METRES_PER_DEGREE
        dlon = (self.lon - self.home_lon) * METRES_PER_DEGREE * math.cos(math.radians(self.lat))
        return math.hypot(dlat, dlon)


@dataclass(frozen=True, slots=True)
class WatchlistEntry:
    plate: str
    category: WatchlistCategory
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
    visitor_plates_inside: list[str] = field(default_factory=list)

    @property
    def community_id(self) -> str:
        return self.community.community_id

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


@dataclass(frozen=True)
class DistrictSize:
    """Per-community scale; the defaults keep 42 communities within a few MB."""

    unit_doors: int = 30
    residents_per_door: int = 6
    bracelets: int = 12
    watchlist: int = 6


class District:
    """The communities, the delivery riders roaming between them, and the police watchlist.

    `registered_plates` (residents' and watchlisted) are never given to strangers, so a
    watchlist hit is always an injected incident and a resident's car never meets a twin.
    """

    def __init__(
        self,
        seed: int,
        sites: list[Site],
        riders: int,
        watchlist: list[WatchlistEntry],
        registered_plates: frozenset[str],
    ) -> None:
        self.seed = seed
        self.sites = sites
        self.riders = riders
        self.watchlist = watchlist
        self.registered_plates = registered_plates
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
        return cls(seed, sites, max(10, 2 * len(sites)), watchlist, frozenset(registered))

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
        """A stranger's plate: never a resident's, nor watchlisted (only incidents hit those)."""
        while True:
            plate = random_plate(rng)
            if plate not in self.registered_plates:
                return plate


def unit_vector(rng: random.Random) -> list[float]:
    values = [rng.gauss(0.0, 1.0) for _ in range(EMBEDDING_DIMS)]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def random_plate(rng: random.Random) -> str:
    """A plate in normalised form, e.g. 浙A12345 (shown as 浙A·12345): Hangzhou-heavy."""
    province = rng.choices(PROVINCES, PROVINCE_WEIGHTS)[0]
    city = "A" if province == "浙" and rng.random() < 0.8 else rng.choice(CITY_LETTERS)
    serial = "".join(
        rng.choice(SERIAL_LETTERS) if rng.random() < 0.15 else rng.choice(SERIAL_DIGITS)
        for _ in range(5)
    )
    return f"{province}{city}{serial}"


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
    gates = [Gate(f"{cid}-g{i}", f"{cid}-g{i}-anpr") for i in range(1, rng.randint(2, 4) + 1)]
    pedestrian_gates = [f"{cid}-pg{i}" for i in range(1, rng.randint(1, 2) + 1)]
    unit_doors, buildings = _unit_doors(cid, size.unit_doors, rng)
    cameras = {
        CameraRole.GATE_PLATE: [gate.camera_id for gate in gates],
        CameraRole.DOOR_FACE: [f"{door}-cam" for door in (*pedestrian_gates, *unit_doors)],
        CameraRole.ELEVATOR: [f"{b}-elev" for b in buildings],
        CameraRole.FACADE: [f"{b}-facade" for b in buildings[::2]],
        CameraRole.PUBLIC: [f"{cid}-pub{i}" for i in range(1, rng.randint(3, 6) + 1)],
    }
    fence_zones = [f"{cid}-fz{i}" for i in range(1, rng.randint(4, 8) + 1)]
    residents = [
        Resident(f"{cid}-p{n:04d}", door)
        for n, door in enumerate(
            (door for door in unit_doors for _ in range(size.residents_per_door)), start=1
        )
    ]
    site = Site(
        community=community,
        gates=gates,
        pedestrian_gates=pedestrian_gates,
        unit_doors=unit_doors,
        cameras=cameras,
        fence_zones=fence_zones,
        devices=_devices(cid, cameras, pedestrian_gates, unit_doors, fence_zones, buildings, rng),
        residents=residents,
        bracelets=_bracelets(community, size.bracelets, rng),
    )
    _register_vehicles(site, rng, registered)
    return site


def _unit_doors(cid: str, count: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """Unit doors spread over buildings of 2-4 units each; returns doors and building ids."""
    doors: list[str] = []
    buildings: list[str] = []
    while len(doors) < count:
        building = f"{cid}-b{len(buildings) + 1:02d}"
        buildings.append(building)
        units = min(rng.randint(2, 4), count - len(doors))
        doors.extend(f"{building}-u{unit}" for unit in range(1, units + 1))
    return doors, buildings


def _devices(
    cid: str,
    cameras: dict[CameraRole, list[str]],
    pedestrian_gates: list[str],
    unit_doors: list[str],
    fence_zones: list[str],
    buildings: list[str],
    rng: random.Random,
) -> list[Device]:
    def age() -> float:
        return rng.uniform(3_600.0, 90 * 86_400.0)

    devices = [
        Device(camera, DeviceKind.CAMERA, age()) for group in cameras.values() for camera in group
    ]
    devices += [Device(door, DeviceKind.DOOR, age()) for door in (*pedestrian_gates, *unit_doors)]
    devices += [Device(f"{zone}-ctl", DeviceKind.FENCE_CONTROLLER, age()) for zone in fence_zones]
    devices += [
        Device(f"{building}-smoke{k}", DeviceKind.SMOKE_DETECTOR, age())
        for building in buildings
        for k in range(1, rng.randint(1, 2) + 1)
    ]
    devices.append(Device(f"{cid}-bgw", DeviceKind.BRACELET_GATEWAY, age()))
    for shed in range(1, rng.randint(1, 3) + 1):
        devices += [
            ChargingSlot(
                f"{cid}-shed{shed}-s{slot:02d}",
                DeviceKind.CHARGING_SHED,
                age(),
                slot=slot,
                charging=rng.random() < 0.4,
                temperature_c=rng.uniform(16.0, 24.0),
            )
            for slot in range(1, rng.randint(8, 16) + 1)
        ]
    return devices


def _bracelets(community: Community, count: int, rng: random.Random) -> list[Bracelet]:
    bracelets = []
    for k in range(1, count + 1):
        lat = community.lat + rng.uniform(-0.0008, 0.0008)
        lon = community.lon + rng.uniform(-0.0008, 0.0008)
        bracelets.append(
            Bracelet(
                bracelet_id=f"{community.community_id}-br{k:02d}",
                wearer=rng.choices(WEARERS, WEARER_WEIGHTS)[0],
                home_lat=lat,
                home_lon=lon,
                lat=lat,
                lon=lon,
                battery=rng.uniform(0.3, 1.0),
            )
        )
    return bracelets


def _register_vehicles(site: Site, rng: random.Random, registered: set[str]) -> None:
    for resident in site.residents:
        if rng.random() >= VEHICLE_OWNERSHIP:
            continue
        colour = rng.choices(RESIDENT_PLATE_COLOURS, RESIDENT_PLATE_COLOUR_WEIGHTS)[0]
        vehicle = Vehicle(_unique_plate(rng, registered), colour, resident.person_id)
        inside = rng.random() < VEHICLES_INSIDE_AT_START
        (site.vehicles_inside if inside else site.vehicles_outside).append(vehicle)


def _build_watchlist(count: int, rng: random.Random, registered: set[str]) -> list[WatchlistEntry]:
    """Plates the police look for; none belongs to a resident, so every hit is an incident."""
    categories = list(WatchlistCategory)
    entries = []
    for n in range(count):
        category = categories[n % len(categories)]
        entries.append(
            WatchlistEntry(_unique_plate(rng, registered), category, WATCHLIST_NOTES[category])
        )
    return entries

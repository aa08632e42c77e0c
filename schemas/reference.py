"""Reference data: communities, residents, their vehicles, devices, bracelets, rule settings.

Apart from communities (shipped with the code), each record lives on a compacted topic
keyed by its id, so every worker can hold the whole set and a change is a new record.
"""

from __future__ import annotations

import math
from datetime import timedelta, timezone
from typing import Annotated, Any

from pydantic import Field

from schemas.bounds import Float64, Name, OptionalId
from schemas.events import DeviceKind, NonEmpty, Plate, Record, Timestamp, Wearer

DISTRICT_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
"""The district's local time, which nights, daytime and residents' rhythms follow (no DST)."""

EARTH_RADIUS_KM = 6371.0088
DISTRICT_DEFAULT = "*"
"""The community_id of rule settings that apply to every community without its own."""

Latitude = Annotated[Float64, Field(ge=-90, le=90)]
Longitude = Annotated[Float64, Field(ge=-180, le=180)]


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (straight-line) distance, what a cloned plate's implied speed is based on."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


MAX_GEOFENCE_CIRCLES = 200
MAX_RULES = 100


class Community(Record):
    community_id: NonEmpty
    name: Name
    district: Name
    lat: Latitude
    lon: Longitude


class ResidentVehicle(Record):
    """A plate registered to a resident: never a roaming or overstaying stranger."""

    plate: Plate
    community_id: NonEmpty
    person_id: NonEmpty


class Resident(Record):
    """An enrolled resident; `lives_alone` and `age` drive the elderly-not-seen welfare check."""

    person_id: NonEmpty
    community_id: NonEmpty
    unit_door_id: NonEmpty
    age: Annotated[int, Field(ge=0, le=130)] | None = None
    lives_alone: bool = False


class Device(Record):
    """A device the district monitors. `place` is what it guards (gate, unit door, fence
    zone, shed); `lat`/`lon` locate gates for implied-speed checks."""

    device_id: NonEmpty
    community_id: NonEmpty
    device_kind: DeviceKind
    place: OptionalId | None = None
    name: Name = ""
    lat: Latitude | None = None
    lon: Longitude | None = None
    rated_current_a: Annotated[Float64, Field(gt=0, le=10_000)] | None = None


class GeofenceCircle(Record):
    lat: Latitude
    lon: Longitude
    radius_m: Annotated[Float64, Field(gt=0, le=100_000)]


class BraceletWearer(Record):
    """Who wears a care bracelet and where they are expected to be: a union of circles
    (an elderly person's community, or a child's school route as a chain of circles)."""

    bracelet_id: NonEmpty
    community_id: NonEmpty
    wearer: Wearer
    name: Name = ""
    person_id: OptionalId | None = None
    geofence: Annotated[list[GeofenceCircle], Field(max_length=MAX_GEOFENCE_CIRCLES)] = Field(
        default_factory=list, description=f"at most {MAX_GEOFENCE_CIRCLES} circles"
    )

    def inside(self, lat: float, lon: float) -> bool:
        return not self.geofence or any(
            distance_km(lat, lon, c.lat, c.lon) * 1000.0 <= c.radius_m for c in self.geofence
        )


class RuleSettings(Record):
    """Thresholds of rules for one community (or `*`, the district default), by rule name.

    e.g. {"cloned_plate": {"max_speed_kmh": 100}}; unnamed parameters keep their defaults.
    """

    community_id: NonEmpty
    rules: Annotated[dict[Name, dict[Name, Any]], Field(max_length=MAX_RULES)] = Field(
        default_factory=dict, description=f"at most {MAX_RULES} rules"
    )
    updated_by: OptionalId = "unknown"
    updated_at: Timestamp

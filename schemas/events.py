"""Event records every gate, door, camera and device emits.

Each event carries `event_id` (idempotency across device retries), `community_id`
(the Kafka key), `occurred_at` (device clock, ms precision) and `received_at`
(when Pingan first accepted it). `schema_version` lets consumers evolve.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from schemas.bounds import (
    Float32,
    Float64,
    Fraction,
    Id,
    Int16,
    Name,
    OptionalId,
    Ref,
    Timestamp,
    UInt8,
    UInt16,
)

SCHEMA_VERSION = 1


def normalise_plate(plate: str) -> str:
    """Plates are compared without spaces, dots or case, as gate cameras format them differently."""
    return "".join(ch for ch in plate.upper() if ch.isalnum())


def _plate(value: str) -> str:
    plate = normalise_plate(value)
    if len(plate) < 2:
        raise ValueError("plate must have at least 2 letters or digits")
    return plate


Plate = Annotated[str, Field(max_length=16), AfterValidator(_plate)]
NonEmpty = Id


MetricName = Annotated[Name, Field(min_length=1, max_length=64)]
MAX_METRICS = 64
"""Metrics in one telemetry reading: a shed controller reports a few per slot."""
MAX_SNAPSHOTS = 32
"""Snapshots of one camera analytics event: a webhook upload carries one or a few."""


def utc_now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    def row(self) -> dict[str, Any]:
        """The record as a ClickHouse row; records with nested parts flatten them."""
        return self.model_dump()


class Event(Record):
    kind: ClassVar[str]

    schema_version: UInt16 = SCHEMA_VERSION
    event_id: NonEmpty
    community_id: NonEmpty
    occurred_at: Timestamp
    received_at: Timestamp


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class PlateColour(StrEnum):
    BLUE = "blue"
    YELLOW = "yellow"
    GREEN = "green"
    WHITE = "white"
    BLACK = "black"


class VehiclePassage(Event):
    kind: ClassVar[str] = "vehicle_passage"

    plate: Plate
    plate_colour: PlateColour
    direction: Direction
    gate_id: NonEmpty
    camera_id: NonEmpty
    confidence: Fraction
    snapshot_ref: Ref | None = None


class DoorKind(StrEnum):
    GATE = "gate"
    UNIT_DOOR = "unit_door"
    CHARGING_SHED = "charging_shed"
    """The door of an unattended e-bike charging shed (card reader on its controller)."""


class AccessMethod(StrEnum):
    FACE = "face"
    CARD = "card"
    ID_CARD = "id_card"
    QR = "qr"
    PASSWORD = "password"


class DoorAccess(Event):
    kind: ClassVar[str] = "door_access"

    door_id: NonEmpty
    door_kind: DoorKind
    method: AccessMethod
    person_id: OptionalId | None = Field(
        default=None, description="None when the person is unknown; at most 128 characters"
    )
    granted: bool


class BoundingBox(Record):
    x: Float32
    y: Float32
    width: Annotated[Float32, Field(gt=0)]
    height: Annotated[Float32, Field(gt=0)]


def embedding_dims(value: list[float]) -> list[float]:
    if len(value) not in (128, 512):
        raise ValueError(f"embedding must have 128 or 512 dimensions, got {len(value)}")
    return value


Embedding = Annotated[list[Float32], Field(max_length=512), AfterValidator(embedding_dims)]
"""A face embedding of one of the recognisers: 128 or 512 finite numbers."""


class FaceCapture(Event):
    kind: ClassVar[str] = "face_capture"

    camera_id: NonEmpty
    embedding: Embedding
    quality: Fraction
    bbox: BoundingBox
    matched_person_id: OptionalId | None = None
    match_score: Annotated[Float32, Field(ge=-1.0, le=1.0)] | None = None
    crop_ref: Ref | None = None

    def row(self) -> dict[str, Any]:
        row = self.model_dump()
        box = self.bbox
        row["bbox"] = [box.x, box.y, box.width, box.height]
        return row


class DeviceKind(StrEnum):
    CAMERA = "camera"
    DOOR = "door"
    CHARGING_SHED = "charging_shed"
    FENCE_CONTROLLER = "fence_controller"
    SMOKE_DETECTOR = "smoke_detector"
    BRACELET_GATEWAY = "bracelet_gateway"


class DeviceTelemetry(Event):
    kind: ClassVar[str] = "device_telemetry"

    device_id: NonEmpty
    device_kind: DeviceKind
    metrics: Annotated[dict[MetricName, Float64], Field(max_length=MAX_METRICS)] = Field(
        default_factory=dict, description=f"at most {MAX_METRICS} metrics"
    )
    controller_id: OptionalId = ""
    """The controller that answers for this device (a charging shed's, for each of its slots):
    the device is only heard through it, so its outages are the controller's. Empty when the
    device reports for itself."""


class PerimeterAlarmKind(StrEnum):
    CROSS = "cross"
    TAMPER = "tamper"
    POWER_LOSS = "power_loss"


class PerimeterAlarm(Event):
    kind: ClassVar[str] = "perimeter_alarm"

    fence_zone: NonEmpty
    alarm_kind: PerimeterAlarmKind


class Wearer(StrEnum):
    ELDERLY = "elderly"
    CHILD = "child"
    PET = "pet"


class BraceletReading(Event):
    kind: ClassVar[str] = "bracelet_reading"

    bracelet_id: NonEmpty
    wearer: Wearer
    lat: Annotated[Float64, Field(ge=-90, le=90)] | None = None
    lon: Annotated[Float64, Field(ge=-180, le=180)] | None = None
    zone: Name | None = None
    sos: bool = False
    battery: Fraction


class CameraAnalyticsKind(StrEnum):
    HIGH_ALTITUDE_THROW = "high_altitude_throw"
    EBIKE_IN_ELEVATOR = "ebike_in_elevator"
    STRAY_DOG = "stray_dog"
    BLOCKED_FIRE_PASSAGE = "blocked_fire_passage"


class TrajectoryPoint(Record):
    """One detection of a moving object: seconds after the event's `occurred_at`, pixel
    column and row in the camera's frame."""

    t_s: Float32
    x: Float32
    y: Float32


class CameraAnalytics(Event):
    kind: ClassVar[str] = "camera_analytics"

    camera_id: NonEmpty
    analytics_kind: CameraAnalyticsKind
    snapshot_refs: Annotated[list[Ref], Field(max_length=MAX_SNAPSHOTS)] = Field(
        default_factory=list, description=f"at most {MAX_SNAPSHOTS} snapshots"
    )
    confidence: Fraction = 1.0
    floor: Annotated[Int16, Field(ge=-5, le=200)] | None = None
    """High-altitude throws: the estimated floor the object came from."""
    window_column: Annotated[UInt8, Field(ge=1, le=100)] | None = None
    """High-altitude throws: the window on that floor, counted from the facade's left."""
    trajectory: Annotated[list[TrajectoryPoint], Field(max_length=2000)] = Field(
        default_factory=list
    )
    """High-altitude throws: the object's path, so officers can check the floor estimate."""

    def row(self) -> dict[str, Any]:
        row = self.model_dump()
        row["trajectory"] = [[p.t_s, p.x, p.y] for p in self.trajectory]
        return row


EVENT_TYPES: tuple[type[Event], ...] = (
    VehiclePassage,
    DoorAccess,
    FaceCapture,
    DeviceTelemetry,
    PerimeterAlarm,
    BraceletReading,
    CameraAnalytics,
)

"""GraphQL types of movement lookups: face captures, trajectories, and a vehicle's record.

A trajectory is a list of sightings: consecutive events at one place (a camera, a door, a
gate) close enough in time merge into one sighting with its dwell, so a person standing at
a unit door for a minute is one step of their way, not twenty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import strawberry

from graphql_api.evidence import crop_url
from graphql_api.facility_types import ParkingSession
from graphql_api.movement_queries import MovementEvent, SightingKind, StoredCapture
from graphql_api.types import Alert, VehiclePassage
from schemas.events import AccessMethod, Direction, DoorKind
from schemas.parking import ParkingPass
from schemas.reference import ResidentVehicle

strawberry.enum(SightingKind, description="What kind of event a sighting is made of.")
strawberry.enum(
    DoorKind, description="What a door closes: a community gate, a unit door or a charging shed."
)
strawberry.enum(
    AccessMethod,
    description="How a door was opened; face is one method among card, ID card, QR and password.",
)

FACE_CAPTURES_LISTING = "faceCaptures"
DWELL_GAP = timedelta(minutes=10)
"""Events at one place further apart than this are separate visits, not one dwell."""


@strawberry.type(
    description="A face a camera saw: where, when, how well, and whom it matched. The face's "
    "embedding is never served; its crop is at cropUrl."
)
class FaceCapture:
    id: strawberry.ID
    community_id: strawberry.ID
    camera_id: str
    occurred_at: datetime
    quality: float = strawberry.field(description="0-1: size, sharpness, pose, detector score.")
    matched_person_id: str | None = strawberry.field(
        description="The enrolled resident the face matched; null for an unknown face."
    )
    match_score: float | None = strawberry.field(description="Cosine similarity of the match.")
    crop_url: str | None = strawberry.field(
        description="GET it with your bearer token: the small JPEG crop of the face (needs "
        "read:biometrics; audited). Null when no crop was kept."
    )

    @classmethod
    def from_stored(cls, capture: StoredCapture) -> FaceCapture:
        return cls(
            id=strawberry.ID(capture.event_id),
            community_id=strawberry.ID(capture.community_id),
            camera_id=capture.camera_id,
            occurred_at=capture.occurred_at,
            quality=capture.quality,
            matched_person_id=capture.matched_person_id,
            match_score=capture.match_score,
            crop_url=crop_url(capture.event_id) if capture.has_crop else None,
        )


@strawberry.type(description="Where a sighting was: exactly one of cameraId, doorId and gateId.")
class Place:
    community_id: strawberry.ID
    camera_id: str | None = None
    door_id: str | None = None
    door_kind: DoorKind | None = None
    gate_id: str | None = strawberry.field(default=None, description="A vehicle gate.")

    @classmethod
    def of(cls, event: MovementEvent) -> Place:
        community = strawberry.ID(event.community_id)
        match event.kind:
            case SightingKind.FACE_CAPTURE:
                return cls(community_id=community, camera_id=event.place_id)
            case SightingKind.DOOR_ACCESS:
                return cls(
                    community_id=community,
                    door_id=event.place_id,
                    door_kind=DoorKind(event.door_kind),
                )
            case SightingKind.VEHICLE_PASSAGE:
                return cls(community_id=community, gate_id=event.place_id)


@strawberry.type(description="One event behind a sighting.")
class SightingEvidence:
    event_id: strawberry.ID
    occurred_at: datetime
    crop_url: str | None = strawberry.field(
        description="A face capture's crop; for a door opened by face, the best crop a camera "
        "at that door took within 30 s, if any."
    )
    access_method: AccessMethod | None = strawberry.field(description="Door accesses only.")
    granted: bool | None = strawberry.field(description="Door accesses only.")
    direction: Direction | None = strawberry.field(description="Vehicle passages only.")

    @classmethod
    def of(cls, event: MovementEvent, door_crops: Mapping[str, str]) -> SightingEvidence:
        if event.kind is SightingKind.FACE_CAPTURE:
            crop = event.event_id if event.has_crop else None
        else:
            crop = door_crops.get(event.event_id)
        return cls(
            event_id=strawberry.ID(event.event_id),
            occurred_at=event.occurred_at,
            crop_url=None if crop is None else crop_url(crop),
            access_method=AccessMethod(event.method) if event.method else None,
            granted=event.granted,
            direction=Direction(event.direction) if event.direction else None,
        )


@strawberry.type(
    description="The subject at one place: consecutive events there, each within 10 minutes "
    "of the one before, merged."
)
class Sighting:
    kind: SightingKind
    place: Place
    first_seen: datetime
    last_seen: datetime
    dwell_seconds: float = strawberry.field(description="lastSeen - firstSeen.")
    evidence: list[SightingEvidence] = strawberry.field(description="Its events, in time order.")


@strawberry.type(description="Where a person, a face or a vehicle was seen, in time order.")
class Trajectory:
    person_id: str | None = strawberry.field(
        description="The person followed: given, or matched on the given capture."
    )
    capture_id: strawberry.ID | None
    plate: str | None
    match_threshold: float | None = strawberry.field(
        description="When an unmatched capture was followed: the cosine similarity at which "
        "another capture counted as the same face (the face model pack's match threshold)."
    )
    since: datetime
    until: datetime
    sightings: list[Sighting]
    truncated: bool = strawberry.field(
        description="More sightings exist in the window than were returned: narrow since/until."
    )


def dwell_groups(
    events: Sequence[MovementEvent], gap: timedelta = DWELL_GAP
) -> list[list[MovementEvent]]:
    """Time-ordered events cut into runs at one place with no pause longer than `gap`."""
    groups: list[list[MovementEvent]] = []
    for event in events:
        last = groups[-1][-1] if groups else None
        if (
            last is not None
            and last.place == event.place
            and event.occurred_at - last.occurred_at <= gap
        ):
            groups[-1].append(event)
        else:
            groups.append([event])
    return groups


def sightings_of(events: Sequence[MovementEvent], door_crops: Mapping[str, str]) -> list[Sighting]:
    return [
        Sighting(
            kind=group[0].kind,
            place=Place.of(group[0]),
            first_seen=group[0].occurred_at,
            last_seen=group[-1].occurred_at,
            dwell_seconds=(group[-1].occurred_at - group[0].occurred_at).total_seconds(),
            evidence=[SightingEvidence.of(e, door_crops) for e in group],
        )
        for group in dwell_groups(events)
    ]


@strawberry.type(description="A plate registered to a resident of a community.")
class VehicleRegistration:
    community_id: strawberry.ID
    person_id: str

    @classmethod
    def from_record(cls, vehicle: ResidentVehicle) -> VehicleRegistration:
        return cls(community_id=strawberry.ID(vehicle.community_id), person_id=vehicle.person_id)


@strawberry.type(description="A monthly parking pass (月卡) of the plate in a community.")
class MonthlyPass:
    community_id: strawberry.ID
    valid_from: datetime
    valid_until: datetime
    person_id: str | None

    @classmethod
    def from_record(cls, record: ParkingPass) -> MonthlyPass:
        return cls(
            community_id=strawberry.ID(record.community_id),
            valid_from=record.valid_from,
            valid_until=record.valid_until,
            person_id=record.person_id,
        )


@strawberry.type(description="What the district knows of one plate, within your communities.")
class Vehicle:
    plate: str
    registrations: list[VehicleRegistration]
    monthly_passes: list[MonthlyPass]
    recent_passages: list[VehiclePassage] = strawberry.field(
        description="The latest passages at community gates, newest first."
    )
    parking_sessions: list[ParkingSession] = strawberry.field(
        description="The latest parking stays, newest first."
    )
    alerts: list[Alert] = strawberry.field(
        description="The latest alerts about the plate, newest first."
    )

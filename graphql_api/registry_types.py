"""GraphQL types of the registry: watchlist faces, enrolments, residents, their vehicles,
consent withdrawals and the district's privacy status.

No type carries an embedding: a face is answered with its id, who added it and how good the
photo was, never with the vector itself.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.registry_queries import WarehouseErasure
from schemas.alerts import WatchlistFace
from schemas.faces import ResidentFace
from schemas.reference import Resident, ResidentVehicle


@strawberry.type(description="A face on the MLM watchlist; its embedding is never served.")
class WatchlistFaceEntry:
    face_id: strawberry.ID
    case: str
    note: str
    added_by: str
    added_at: datetime
    quality: float = strawberry.field(description="The photo's face quality, 0–1.")
    image_sha256: str = strawberry.field(
        description="The photo's sha256, as the audit log records it."
    )

    @classmethod
    def from_record(cls, face: WatchlistFace, quality: float, digest: str) -> WatchlistFaceEntry:
        return cls(
            face_id=strawberry.ID(face.face_id),
            case=face.case,
            note=face.note,
            added_by=face.added_by,
            added_at=face.added_at,
            quality=round(quality, 4),
            image_sha256=digest,
        )


@strawberry.type(description="A resident's face in the gallery, for one recogniser.")
class ResidentEnrolment:
    face_id: strawberry.ID
    person_id: str
    community_id: strawberry.ID
    model_id: str = strawberry.field(description="sha256 of the recogniser that made it.")
    quality: float = strawberry.field(description="The photo's face quality, 0–1.")
    enrolled_by: str
    enrolled_at: datetime

    @classmethod
    def from_record(cls, face: ResidentFace, quality: float) -> ResidentEnrolment:
        return cls(
            face_id=strawberry.ID(face.face_id),
            person_id=face.person_id,
            community_id=strawberry.ID(face.community_id),
            model_id=face.model_id,
            quality=round(quality, 4),
            enrolled_by=face.enrolled_by,
            enrolled_at=face.enrolled_at,
        )


@strawberry.type(description="A registered resident: where they live, and the welfare facts.")
class ResidentRegistration:
    person_id: str
    community_id: strawberry.ID
    unit_door_id: str
    age: int | None
    lives_alone: bool = strawberry.field(
        description="Elderly residents living alone are checked on when no door sees them."
    )

    @classmethod
    def from_record(cls, resident: Resident) -> ResidentRegistration:
        return cls(
            person_id=resident.person_id,
            community_id=strawberry.ID(resident.community_id),
            unit_door_id=resident.unit_door_id,
            age=resident.age,
            lives_alone=resident.lives_alone,
        )


@strawberry.type(description="A plate registered to a resident of a community.")
class RegisteredVehicle:
    plate: str
    community_id: strawberry.ID
    person_id: str

    @classmethod
    def from_record(cls, vehicle: ResidentVehicle) -> RegisteredVehicle:
        return cls(
            plate=vehicle.plate,
            community_id=strawberry.ID(vehicle.community_id),
            person_id=vehicle.person_id,
        )


@strawberry.type(
    description="What a consent withdrawal erased. The resident's registration, card and QR "
    "access stay: consent covered face processing only."
)
class ConsentWithdrawal:
    person_id: str
    gallery_entries_removed: int = strawberry.field(
        description="Enrolments removed from the gallery, one per recogniser."
    )
    captures_purged: int = strawberry.field(
        description="Face captures matched to the person, deleted with their embeddings."
    )
    crops_deleted: int = strawberry.field(description="Crop files of those captures deleted.")
    door_accesses_anonymised: int = strawberry.field(
        description="Face-method door accesses that no longer name the person."
    )
    biometric_searches_redacted: int = strawberry.field(
        description="Face searches that found the person: the search stays recorded, the "
        "person is no longer among its results."
    )

    @classmethod
    def of(
        cls, person_id: str, gallery_entries: int, erasure: WarehouseErasure
    ) -> ConsentWithdrawal:
        return cls(
            person_id=person_id,
            gallery_entries_removed=gallery_entries,
            captures_purged=erasure.stored.captures,
            crops_deleted=erasure.crops_deleted,
            door_accesses_anonymised=erasure.stored.face_door_accesses,
            biometric_searches_redacted=erasure.stored.searches_finding,
        )


@strawberry.type(
    description="How many people's faces the district holds, against the filing "
    "threshold of the 2025 face-recognition rules."
)
class PrivacyStatus:
    enrolled_people: int = strawberry.field(
        description="Distinct people with a face in the gallery (any recogniser)."
    )
    filing_threshold: int = strawberry.field(
        description="Holding faces of this many people must be filed with the provincial "
        "cyberspace administration within 30 working days."
    )

    @strawberry.field(description="Whether the gallery has reached the filing threshold.")
    def filing_required(self) -> bool:
        return self.enrolled_people >= self.filing_threshold

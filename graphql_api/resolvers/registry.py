"""Watchlist faces, the resident registry, consent withdrawal and the privacy status.

Every change names its author (in the record where the record has a field for it, else in
the Kafka header `pingan-operator`, as `pingan faces forget` does) and leaves an audit row
before it is made. Uploaded photos are audited as their sha256; embeddings are computed by
the hosting process's face model and never answered.

Withdrawing consent erases what face processing produced about a person: the gallery
entries, the captures matched to them (embeddings, matches, crop files), their id on
face-method door accesses and on the searches that found them. The resident's registration
stays: consent covered face processing, and card, ID card, QR and password keep opening
their doors (face is never the only way in).
"""

from __future__ import annotations

import base64
import binascii
import logging
import unicodedata

import strawberry
from aiokafka.errors import KafkaError

from graphql_api.access import Permission
from graphql_api.audit import checked_purpose, image_digest
from graphql_api.criteria import checked_plate
from graphql_api.errors import InvalidArgument, NotFound, PublicError, PublishFailed, QueryFailed
from graphql_api.faces import MAX_PHOTO_BYTES, check_photo_size
from graphql_api.permissions import needs
from graphql_api.registry_queries import (
    CropNotErasable,
    GalleryEntries,
    StoredFaceData,
    WarehouseErasure,
    erase_face_data,
    read_gallery,
    stored_face_data,
)
from graphql_api.registry_types import (
    ConsentWithdrawal,
    PrivacyStatus,
    RegisteredVehicle,
    ResidentEnrolment,
    ResidentRegistration,
    WatchlistFaceEntry,
)
from graphql_api.resolvers.common import ApiInfo, audit, checked_note, publish
from graphql_api.resolvers.watchlists import NOTE_MAX_LENGTH
from pingan.platform.reference_data import ReferenceData, read_reference
from pingan.platform.settings import get_settings
from pingan.platform.warehouse import WarehouseError
from schemas.alerts import WatchlistFace
from schemas.codec import encode
from schemas.events import Record, utc_now
from schemas.faces import ResidentFace, gallery_key
from schemas.reference import Resident, ResidentVehicle
from schemas.topics import FACE_GALLERY, RESIDENT_VEHICLES, RESIDENTS, WATCHLIST_FACES, Topic

log = logging.getLogger(__name__)

FILING_THRESHOLD = 100_000
"""People whose faces a processor may store before it must file: 《人脸识别技术应用安全管理
办法》 (CAC and Ministry of Public Security Order No. 19, in force 1 June 2025), Article 15:
whoever stores the face information of 100,000 people files with the provincial cyberspace
administration within 30 working days of reaching that number."""
ID_MAX_LENGTH = 128
CASE_MAX_LENGTH = 128
MIN_PLATE_LENGTH = 2
MAX_AGE = 130
READ_TIMEOUT_SECONDS = 10.0
OPERATOR_HEADER = "pingan-operator"
"""Who made a change, on records that have no field for it (as `pingan faces forget`)."""
MAX_IMAGE_TEXT = (MAX_PHOTO_BYTES + 2) // 3 * 4
"""Base64 of the largest photo taken: longer text is refused before it is decoded."""
WATCHLIST_FACE_PREFIX = "wf-"


class ErasureIncomplete(PublicError):
    def __init__(self) -> None:
        super().__init__(
            "the gallery entries are removed, but stored captures or their crops could not all "
            "be erased just now; call withdrawConsent again: every step is safe to repeat"
        )


@strawberry.type
class RegistryQuery:
    @strawberry.field(
        description="How many people's faces the gallery holds, against the 100,000-person "
        "filing threshold of the 2025 face-recognition rules. District admins: the number "
        "is the bureau's compliance matter, not a community statistic.",
        permission_classes=[needs(Permission.READ_AUDIT)],
    )
    async def privacy_status(self, info: ApiInfo) -> PrivacyStatus:
        gallery = await _gallery()
        return PrivacyStatus(
            enrolled_people=gallery.enrolled_people(), filing_threshold=FILING_THRESHOLD
        )


@strawberry.type
class RegistryMutation:
    @strawberry.mutation(
        description="Put a face from a raid record on the MLM watchlist: any camera that sees "
        "it raises KNOWN_MLM_RETURN. image: the photo (JPEG or PNG) in base64, one clear "
        "face. The same photo added again updates its case and note. Audited with the "
        "photo's sha256.",
        permission_classes=[needs(Permission.EDIT_WATCHLISTS)],
    )
    async def add_watchlist_face(
        self, info: ApiInfo, image: str, case: str, purpose: str, note: str | None = None
    ) -> WatchlistFaceEntry:
        why = checked_purpose(purpose)
        case_text = _checked_text("case", case, CASE_MAX_LENGTH)
        photo = _decoded_image(image)
        digest = image_digest(photo)
        face = await info.context.api.faces.photo_face(photo)
        record = WatchlistFace(
            face_id=WATCHLIST_FACE_PREFIX + digest[:16],
            embedding=face.embedding,
            case=case_text,
            note=checked_note("note", note, NOTE_MAX_LENGTH),
            added_by=info.context.caller.sub,
            added_at=utc_now(),
        )
        await audit(
            info,
            "watchlist_face.add",
            {"face_id": record.face_id, "case": case_text, "image_sha256": digest},
            result_count=1,
            purpose=why,
        )
        await publish(info, record)
        return WatchlistFaceEntry.from_record(record, face.quality, digest)

    @strawberry.mutation(
        description="Take a face off the MLM watchlist. True once the removal is recorded, "
        "whether or not the face was listed.",
        permission_classes=[needs(Permission.EDIT_WATCHLISTS)],
    )
    async def remove_watchlist_face(
        self, info: ApiInfo, face_id: strawberry.ID, purpose: str
    ) -> bool:
        why = checked_purpose(purpose)
        listed = _checked_id("faceId", face_id)
        await audit(info, "watchlist_face.remove", {"face_id": listed}, purpose=why)
        await _publish_change(info, WATCHLIST_FACES, listed, None)
        return True

    @strawberry.mutation(
        description="Enrol a resident's face from a photo of them alone (base64 JPEG or PNG), "
        "as `pingan faces enroll` does; replaces their earlier photo for this recogniser. "
        "The photo must reach the model pack's quality; a refusal says what photo would do. "
        "purpose: the consent or request it rests on. Audited with the photo's sha256.",
        permission_classes=[needs(Permission.EDIT_REGISTRY)],
    )
    async def enrol_resident(
        self,
        info: ApiInfo,
        person_id: str,
        community_id: strawberry.ID,
        image: str,
        purpose: str,
    ) -> ResidentEnrolment:
        person = _checked_id("personId", person_id)
        community = _checked_community(info, community_id)
        why = checked_purpose(purpose)
        photo = _decoded_image(image)
        _same_community(person, community, (await _registry()).resident(person))
        face = await info.context.api.faces.photo_face(photo)
        record = ResidentFace(
            face_id=gallery_key(person, face.model_id),
            person_id=person,
            community_id=community,
            embedding=face.embedding,
            model_id=face.model_id,
            enrolled_at=utc_now(),
            enrolled_by=info.context.caller.sub,
        )
        await audit(
            info,
            "resident_face.enrol",
            {"person_id": person, "community_id": community, "image_sha256": image_digest(photo)},
            result_count=1,
            purpose=why,
            community_ids=frozenset({community}),
        )
        await publish(info, record)
        return ResidentEnrolment.from_record(record, face.quality)

    @strawberry.mutation(
        description="Register a resident at a unit door, or replace their registration. "
        "livesAlone with an age marks an elderly resident for the not-seen welfare check.",
        permission_classes=[needs(Permission.EDIT_REGISTRY)],
    )
    async def register_resident(
        self,
        info: ApiInfo,
        person_id: str,
        community_id: strawberry.ID,
        unit_door_id: str,
        age: int | None = None,
        lives_alone: bool = False,
    ) -> ResidentRegistration:
        person = _checked_id("personId", person_id)
        community = _checked_community(info, community_id)
        record = Resident(
            person_id=person,
            community_id=community,
            unit_door_id=_checked_id("unitDoorId", unit_door_id),
            age=_checked_age(age),
            lives_alone=lives_alone,
        )
        current = (await _registry()).resident(person)
        if current is not None and not info.context.caller.sees(current.community_id):
            raise InvalidArgument(f"{person} is registered in another community")
        await _record_registration(info, "resident.register", record, community)
        return ResidentRegistration.from_record(record)

    @strawberry.mutation(
        description="Say whether a registered resident lives alone; the rest of their "
        "registration is kept as it is.",
        permission_classes=[needs(Permission.EDIT_REGISTRY)],
    )
    async def set_living_alone(
        self, info: ApiInfo, person_id: str, lives_alone: bool
    ) -> ResidentRegistration:
        person = _checked_id("personId", person_id)
        current = (await _registry()).resident(person)
        if current is None or not info.context.caller.sees(current.community_id):
            raise NotFound(f"no registered resident {person!r}: registerResident first")
        record = current.model_copy(update={"lives_alone": lives_alone})
        await _record_registration(info, "resident.set_living_alone", record, current.community_id)
        return ResidentRegistration.from_record(record)

    @strawberry.mutation(
        description="Register a plate to a resident of the community: a resident's car is "
        "never a roaming or overstaying stranger. Replaces the plate's earlier registration.",
        permission_classes=[needs(Permission.EDIT_REGISTRY)],
    )
    async def register_vehicle(
        self, info: ApiInfo, plate: str, community_id: strawberry.ID, person_id: str
    ) -> RegisteredVehicle:
        community = _checked_community(info, community_id)
        person = _checked_id("personId", person_id)
        number = checked_plate(plate)
        if len(number) < MIN_PLATE_LENGTH:
            raise InvalidArgument(f"plate {number!r} is too short: give the whole number plate")
        registry = await _registry()
        resident = registry.resident(person)
        if resident is None or resident.community_id != community:
            raise InvalidArgument(
                f"{person} is not a registered resident of {community}: registerResident first"
            )
        current = registry.resident_vehicle(number)
        if current is not None and not info.context.caller.sees(current.community_id):
            raise InvalidArgument(f"{number} is registered in another community")
        record = ResidentVehicle(plate=number, community_id=community, person_id=person)
        await _record_registration(info, "resident_vehicle.register", record, community)
        return RegisteredVehicle.from_record(record)

    @strawberry.mutation(
        description="A person withdraws consent to face processing: their gallery entries "
        "(every recogniser), the captures matched to them with embeddings and crop files, "
        "their id on face-method door accesses and on the face searches that found them are "
        "erased. Their registration, card and QR access stay. The erasure is audited with the "
        "person id only. Safe to repeat.",
        permission_classes=[needs(Permission.ERASE_PERSONAL_DATA)],
    )
    async def withdraw_consent(
        self, info: ApiInfo, person_id: str, purpose: str
    ) -> ConsentWithdrawal:
        person = _checked_id("personId", person_id)
        why = checked_purpose(purpose)
        gallery = await _gallery()
        keys = gallery.keys_of(person)
        stored = await _stored(info, person)
        await audit(
            info,
            "withdraw_consent",
            {"person_id": person},
            result_count=len(keys) + stored.captures,
            purpose=why,
            community_ids=gallery.communities_of(person),
        )
        for key in keys:
            await _publish_change(info, FACE_GALLERY, key, None)
        erasure = await _erase_stored(info, person)
        log.info("consent withdrawn: %d gallery entries removed, %s", len(keys), erasure)
        return ConsentWithdrawal.of(person, len(keys), erasure)


async def _stored(info: ApiInfo, person: str) -> StoredFaceData:
    """What the erasure will find, counted before it is audited: the audit row's count."""
    warehouse = info.context.api.warehouse
    try:
        return await warehouse.run(stored_face_data, warehouse, person)
    except WarehouseError as exc:
        log.error("could not count the face data of an erasure: %s", exc)
        raise QueryFailed from None


async def _erase_stored(info: ApiInfo, person: str) -> WarehouseErasure:
    """On the pipeline's warehouse thread: the API's read path is read-only by design."""
    warehouse = info.context.api.warehouse
    try:
        return await warehouse.run(erase_face_data, warehouse, person, get_settings().data_dir)
    except (WarehouseError, CropNotErasable) as exc:
        log.error("consent withdrawal left stored face data: %s", exc)
        raise ErasureIncomplete from None


async def _record_registration(
    info: ApiInfo, operation: str, record: Resident | ResidentVehicle, community: str
) -> None:
    """Audit, then publish with the author in a header: the records have no field for it."""
    await audit(
        info, operation, record.model_dump(), result_count=1, community_ids=frozenset({community})
    )
    topic = RESIDENTS if isinstance(record, Resident) else RESIDENT_VEHICLES
    await _publish_change(info, topic, str(getattr(record, topic.key)), record)


async def _publish_change(info: ApiInfo, topic: Topic, key: str, record: Record | None) -> None:
    """A record (None: a removal) on a compacted topic, durable when this returns."""
    headers = [(OPERATOR_HEADER, info.context.caller.sub.encode())]
    value = None if record is None else encode(record)
    try:
        await info.context.publisher.publish_raw(topic, key.encode(), value, headers)
    except KafkaError as exc:
        log.error("could not publish to %s: %s", topic.name, exc)
        raise PublishFailed from None


async def _registry() -> ReferenceData:
    """Residents and their vehicles, read from their topics on every call (no stale copy)."""
    try:
        return await read_reference(
            get_settings().bootstrap, [RESIDENTS, RESIDENT_VEHICLES], READ_TIMEOUT_SECONDS
        )
    except (KafkaError, TimeoutError) as exc:
        log.error("could not read the resident registry: %s", exc or type(exc).__name__)
        raise QueryFailed from None


async def _gallery() -> GalleryEntries:
    try:
        return await read_gallery(get_settings().bootstrap, READ_TIMEOUT_SECONDS)
    except (KafkaError, TimeoutError) as exc:
        log.error("could not read the face gallery: %s", exc or type(exc).__name__)
        raise QueryFailed from None


def _same_community(person: str, community: str, resident: Resident | None) -> None:
    """A registered resident's face belongs to their own community: door cameras of that
    community are the ones that recognise them."""
    if resident is not None and resident.community_id != community:
        raise InvalidArgument(
            f"{person} is registered in another community: enrol them there, or "
            "registerResident first"
        )


def _checked_community(info: ApiInfo, community_id: str) -> str:
    """One of the caller's communities; another is answered like one that does not exist."""
    community = str(community_id).strip()
    info.context.caller.scope([community], info.context.community_ids)
    return community


def _checked_id(name: str, value: str) -> str:
    """Ids become Kafka keys and gallery keys: printable, non-empty, at most 128 characters."""
    text = str(value).strip()
    if not text:
        raise InvalidArgument(f"{name} is empty")
    if len(text) > ID_MAX_LENGTH:
        raise InvalidArgument(f"{name} is longer than {ID_MAX_LENGTH} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidArgument(f"{name} contains control characters")
    return text


def _checked_text(name: str, value: str, limit: int) -> str:
    text = checked_note(name, value, limit)
    if not text:
        raise InvalidArgument(f"{name} is required")
    return text


def _checked_age(age: int | None) -> int | None:
    if age is not None and not 0 <= age <= MAX_AGE:
        raise InvalidArgument(f"age must be between 0 and {MAX_AGE}")
    return age


def _decoded_image(text: str) -> bytes:
    """The photo's bytes from base64 (line breaks allowed), at most MAX_PHOTO_BYTES."""
    compact = "".join(text.split())
    if len(compact) > MAX_IMAGE_TEXT:
        raise InvalidArgument(f"image is larger than {MAX_PHOTO_BYTES // 2**20} MB")
    try:
        photo = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(
            "image is not base64: send the photo's bytes base64-encoded"
        ) from None
    if not photo:
        raise InvalidArgument("image is empty")
    check_photo_size(photo)
    return photo

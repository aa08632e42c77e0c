"""The registry over real HTTP: watchlist faces, enrolment, residents and their vehicles,
consent withdrawal and the privacy status.

Real parts only: a Kafka broker of this module, an embedded chDB, the face model pack and
the sample photos of ../shared (the tests skip, saying so, when those are not mounted), and
captures made by the real face pipeline from those photos, crops written where it writes them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from graphql_api.registry_queries import delete_crops
from graphql_api.resolvers.registry import FILING_THRESHOLD
from ingest.vision.faces.service import FaceService
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.warehouse import EmbeddedWarehouse
from schemas.alerts import WatchlistFace
from schemas.audit import AuditEntry
from schemas.codec import decode
from schemas.events import AccessMethod, DoorAccess, DoorKind, FaceCapture, utc_now
from schemas.faces import BiometricSearch, ResidentFace, gallery_key
from schemas.reference import Device, DeviceKind, Resident, ResidentVehicle
from schemas.topics import (
    FACE_GALLERY,
    RESIDENT_VEHICLES,
    RESIDENTS,
    WATCHLIST_FACES,
    Topic,
)
from tests.integration.api_harness import (
    ADMIN,
    ANALYST,
    C01_OFFICER,
    OFFICER,
    Api,
    Who,
    audit_entries,
    configured,
    face_service_knowing,
    insert_records,
    prepared_warehouse,
    running_api_with_faces,
)

pytestmark = pytest.mark.integration

WAIT = 30.0
RUN = uuid.uuid4().hex[:8]
UNIT_DOOR = "c01-b07-u1"
CAMERA = Device(
    device_id=f"{UNIT_DOOR}-cam", community_id="c01", device_kind=DeviceKind.CAMERA, place=UNIT_DOOR
)
SEEN_AT = utc_now() - timedelta(hours=2)
OTHER_MODEL_ID = "b" * 64

ENROL = """
mutation($p: String!, $c: ID!, $i: String!, $w: String!) {
  enrolResident(personId: $p, communityId: $c, image: $i, purpose: $w) {
    faceId personId communityId modelId quality enrolledBy enrolledAt
  }
}
"""
ADD_WATCHLIST_FACE = """
mutation($i: String!, $case: String!, $note: String, $w: String!) {
  addWatchlistFace(image: $i, case: $case, note: $note, purpose: $w) {
    faceId case note addedBy addedAt quality imageSha256
  }
}
"""
REMOVE_WATCHLIST_FACE = """
mutation($f: ID!, $w: String!) { removeWatchlistFace(faceId: $f, purpose: $w) }
"""
REGISTER_RESIDENT = """
mutation($p: String!, $c: ID!, $u: String!, $age: Int, $alone: Boolean!) {
  registerResident(personId: $p, communityId: $c, unitDoorId: $u, age: $age, livesAlone: $alone) {
    personId communityId unitDoorId age livesAlone
  }
}
"""
SET_LIVING_ALONE = """
mutation($p: String!, $alone: Boolean!) {
  setLivingAlone(personId: $p, livesAlone: $alone) {
    personId communityId unitDoorId age livesAlone
  }
}
"""
REGISTER_VEHICLE = """
mutation($plate: String!, $c: ID!, $p: String!) {
  registerVehicle(plate: $plate, communityId: $c, personId: $p) { plate communityId personId }
}
"""
WITHDRAW_CONSENT = """
mutation($p: String!, $w: String!) {
  withdrawConsent(personId: $p, purpose: $w) {
    personId galleryEntriesRemoved capturesPurged cropsDeleted doorAccessesAnonymised
    biometricSearchesRedacted
  }
}
"""
PRIVACY_STATUS = "query { privacyStatus { enrolledPeople filingThreshold filingRequired } }"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registry-api")


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, data_dir: Path, face_model_dir: Path) -> Iterator[Settings]:
    """The API reads the registry and the gallery from the configured Kafka and deletes crops
    under the configured data directory: this module's broker and directory."""
    with configured(kafka_bootstrap, data_dir, face_model_dir) as settings:
        yield settings


@pytest.fixture(scope="module")
def warehouse(data_dir: Path) -> Iterator[EmbeddedWarehouse]:
    with prepared_warehouse(data_dir) as warehouse:
        yield warehouse


@pytest.fixture(scope="module")
async def face_service(settings: Settings) -> AsyncIterator[FaceService]:
    """The face pipeline of the process hosting the API, knowing the unit-door camera."""
    async with face_service_knowing(settings, [CAMERA]) as service:
        yield service


@pytest.fixture(scope="module")
async def api(
    warehouse: EmbeddedWarehouse, settings: Settings, face_service: FaceService
) -> AsyncIterator[Api]:
    async with running_api_with_faces(warehouse, settings, face_service) as api:
        yield api


@dataclass(frozen=True)
class Message:
    key: str
    value: bytes | None
    headers: dict[str, bytes]


async def _messages(bootstrap: str, topic: Topic) -> list[Message]:
    """Every message of a topic so far, oldest first."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
    found: list[Message] = []
    async with asyncio.timeout(WAIT):
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                batches = await consumer.getmany(*partitions, timeout_ms=500)
                for messages in batches.values():
                    found += [
                        Message(m.key.decode(), m.value, dict(m.headers))
                        for m in messages
                        if m.key is not None
                    ]
        finally:
            await consumer.stop()
    return found


async def _latest(bootstrap: str, topic: Topic, key: str) -> Message:
    """The last message of a key: what a compacted topic keeps of it."""
    return [m for m in await _messages(bootstrap, topic) if m.key == key][-1]


async def _audited(bootstrap: str, operation: str, **arguments: object) -> AuditEntry:
    """The one audit row of the operation whose arguments include these."""
    entries = await audit_entries(bootstrap)
    [entry] = [
        e
        for e in entries
        if e.operation == operation and arguments.items() <= orjson.loads(e.arguments).items()
    ]
    return entry


async def _call(
    api: Api, query: str, variables: dict[str, Any], who: Who = ADMIN, sub: str | None = None
) -> dict[str, Any]:
    status, body = await api.post(query, variables, api.token(who, sub))
    assert status == 200, body
    return body


async def _data(
    api: Api, query: str, variables: dict[str, Any], who: Who = ADMIN, sub: str | None = None
) -> dict[str, Any]:
    body = await _call(api, query, variables, who, sub)
    assert "errors" not in body, body
    return body["data"]


async def _errors(
    api: Api, query: str, variables: dict[str, Any], who: Who = ADMIN, sub: str | None = None
) -> list[str]:
    body = await _call(api, query, variables, who, sub)
    assert body.get("errors"), body
    return [e["message"] for e in body["errors"]]


def _base64(photo: Path) -> str:
    return base64.b64encode(photo.read_bytes()).decode()


def _sha256(photo: Path) -> str:
    return hashlib.sha256(photo.read_bytes()).hexdigest()


def _purpose(what: str) -> str:
    return f"{what}, signed consent form {uuid.uuid4().hex[:6]}"


async def _until(check: Callable[[], bool], what: str) -> None:
    """Poll a condition of a running service: readiness by checking, not by sleeping."""
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT}s: {what}")
        await asyncio.sleep(0.05)


def _best_match(service: FaceService, embedding: list[float]) -> str | None:
    [best] = service.gallery.best(np.asarray([embedding], dtype=np.float32))
    if best is None or best.score < service.pack.config.match_threshold:
        return None
    return best.person_id


async def _enrol(api: Api, person: str, photo: Path, sub: str = "wang.li") -> dict[str, Any]:
    variables = {"p": person, "c": "c01", "i": _base64(photo), "w": _purpose("enrolment")}
    return (await _data(api, ENROL, variables, ADMIN, sub))["enrolResident"]


async def test_enrolment_publishes_a_gallery_entry_attributed_to_the_caller(
    api: Api, settings: Settings, face_service: FaceService, face_photos: dict[str, list[Path]]
) -> None:
    person = f"p-obama-{RUN}"
    photo = face_photos["obama"][0]
    enrolment = await _enrol(api, person, photo)

    pack = face_service.pack
    key = gallery_key(person, pack.model_id)
    assert enrolment["faceId"] == key
    assert (enrolment["personId"], enrolment["communityId"]) == (person, "c01")
    assert (enrolment["modelId"], enrolment["enrolledBy"]) == (pack.model_id, "wang.li")
    assert enrolment["quality"] >= pack.config.min_quality
    message = await _latest(settings.bootstrap, FACE_GALLERY, key)
    record = decode(message.value, ResidentFace)
    assert (record.person_id, record.community_id, record.enrolled_by) == (person, "c01", "wang.li")
    assert record.model_id == pack.model_id and len(record.embedding) == pack.dims

    entry = await _audited(settings.bootstrap, "resident_face.enrol", person_id=person)
    assert orjson.loads(entry.arguments) == {
        "person_id": person,
        "community_id": "c01",
        "image_sha256": _sha256(photo),
    }
    assert (entry.actor, entry.actor_role, entry.community_ids) == (
        "wang.li",
        "district_admin",
        ["c01"],
    )
    assert entry.purpose.startswith("enrolment")


async def test_only_the_registry_enrols_and_a_photo_without_a_face_is_refused_clearly(
    api: Api, settings: Settings, face_photos: dict[str, list[Path]]
) -> None:
    person = f"p-refused-{RUN}"
    variables = {"p": person, "c": "c01", "i": _base64(face_photos["biden"][0]), "w": "consent"}
    assert await _errors(api, ENROL, variables, C01_OFFICER) == [
        "enrolResident needs the permission 'edit:registry', which the role "
        "'community_officer' does not have"
    ]

    ok, wall = cv2.imencode(".jpg", np.full((480, 640, 3), 128, np.uint8))
    assert ok
    [no_face] = await _errors(api, ENROL, variables | {"i": base64.b64encode(wall).decode()})
    assert no_face.startswith("no face of at least") and "frontal, well-lit photo" in no_face
    [garbage] = await _errors(api, ENROL, variables | {"i": "not a photo!"})
    assert garbage == "image is not base64: send the photo's bytes base64-encoded"
    [elsewhere] = await _errors(api, ENROL, variables | {"c": "c99"})
    assert elsewhere == "unknown community id(s): c99"

    assert not [m for m in await _messages(settings.bootstrap, FACE_GALLERY) if person in m.key]


async def test_a_raid_photo_goes_onto_the_mlm_watchlist_and_off_again(
    api: Api, settings: Settings, face_photos: dict[str, list[Path]]
) -> None:
    photo = face_photos["alex_lacamoire"][0]
    variables = {
        "i": _base64(photo),
        "case": "2026-MLM-07",
        "note": "seen at the Jinhui gathering",
        "w": _purpose("raid follow-up"),
    }
    [refused] = await _errors(api, ADD_WATCHLIST_FACE, variables, C01_OFFICER)
    assert refused.startswith("addWatchlistFace needs the permission 'edit:watchlists'")

    added = (await _data(api, ADD_WATCHLIST_FACE, variables, OFFICER, "zhao.officer"))[
        "addWatchlistFace"
    ]
    assert added["faceId"] == "wf-" + _sha256(photo)[:16]
    assert (added["case"], added["addedBy"], added["imageSha256"]) == (
        "2026-MLM-07",
        "zhao.officer",
        _sha256(photo),
    )
    record = decode(
        (await _latest(settings.bootstrap, WATCHLIST_FACES, added["faceId"])).value, WatchlistFace
    )
    assert (record.case, record.note, record.added_by) == (
        "2026-MLM-07",
        "seen at the Jinhui gathering",
        "zhao.officer",
    )
    assert len(record.embedding) == 128
    entry = await _audited(settings.bootstrap, "watchlist_face.add", face_id=added["faceId"])
    assert orjson.loads(entry.arguments)["image_sha256"] == _sha256(photo)
    assert (entry.actor, entry.purpose) == ("zhao.officer", variables["w"])

    removal = {"f": added["faceId"], "w": _purpose("case closed")}
    assert await _data(api, REMOVE_WATCHLIST_FACE, removal, OFFICER, "zhao.officer") == {
        "removeWatchlistFace": True
    }
    removed = await _latest(settings.bootstrap, WATCHLIST_FACES, added["faceId"])
    assert removed.value is None and removed.headers["pingan-operator"] == b"zhao.officer"
    entry = await _audited(settings.bootstrap, "watchlist_face.remove", face_id=added["faceId"])
    assert (entry.actor, entry.purpose) == ("zhao.officer", removal["w"])


async def test_residents_and_vehicles_are_registered_and_living_alone_keeps_the_rest(
    api: Api, settings: Settings
) -> None:
    person = f"p-elder-{RUN}"
    registered = {"p": person, "c": "c01", "u": UNIT_DOOR, "age": 82, "alone": False}
    await _data(api, REGISTER_RESIDENT, registered, ADMIN, "li.registrar")
    changed = await _data(
        api, SET_LIVING_ALONE, {"p": person, "alone": True}, ADMIN, "li.registrar"
    )
    assert changed["setLivingAlone"] == {
        "personId": person,
        "communityId": "c01",
        "unitDoorId": UNIT_DOOR,
        "age": 82,
        "livesAlone": True,
    }
    latest = await _latest(settings.bootstrap, RESIDENTS, person)
    assert decode(latest.value, Resident) == Resident(
        person_id=person, community_id="c01", unit_door_id=UNIT_DOOR, age=82, lives_alone=True
    )
    assert latest.headers["pingan-operator"] == b"li.registrar"

    vehicle = {"plate": "浙a·8k123", "c": "c01", "p": person}
    registered_vehicle = await _data(api, REGISTER_VEHICLE, vehicle, ADMIN, "li.registrar")
    assert registered_vehicle["registerVehicle"] == {
        "plate": "浙A8K123",
        "communityId": "c01",
        "personId": person,
    }
    record = await _latest(settings.bootstrap, RESIDENT_VEHICLES, "浙A8K123")
    assert decode(record.value, ResidentVehicle).person_id == person

    stranger = f"p-stranger-{RUN}"
    [unknown] = await _errors(api, SET_LIVING_ALONE, {"p": stranger, "alone": True})
    assert unknown == f"no registered resident {stranger!r}: registerResident first"
    [no_resident] = await _errors(api, REGISTER_VEHICLE, vehicle | {"p": stranger})
    assert no_resident == f"{stranger} is not a registered resident of c01: registerResident first"
    [refused] = await _errors(api, REGISTER_RESIDENT, registered, OFFICER)
    assert refused.startswith("registerResident needs the permission 'edit:registry'")

    for operation in ("resident.register", "resident.set_living_alone"):
        entry = await _audited(settings.bootstrap, operation, person_id=person)
        assert (entry.actor, entry.community_ids) == ("li.registrar", ["c01"])
    entry = await _audited(settings.bootstrap, "resident_vehicle.register", plate="浙A8K123")
    assert entry.actor == "li.registrar"


async def test_withdrawing_consent_erases_the_face_data_and_keeps_the_registration(
    api: Api,
    settings: Settings,
    warehouse: EmbeddedWarehouse,
    face_service: FaceService,
    face_photos: dict[str, list[Path]],
) -> None:
    rose, kit = f"p-rose-{RUN}", f"p-kit-{RUN}"
    unit = {"c": "c01", "u": UNIT_DOOR, "age": 31, "alone": False}
    for person, folder in ((rose, "rose_leslie"), (kit, "kit_harington")):
        await _data(api, REGISTER_RESIDENT, unit | {"p": person})
        await _enrol(api, person, face_photos[folder][0])
    model_id = face_service.pack.model_id
    rose_key, kit_key = gallery_key(rose, model_id), gallery_key(kit, model_id)
    enrolled = {
        key: decode((await _latest(settings.bootstrap, FACE_GALLERY, key)).value, ResidentFace)
        for key in (rose_key, kit_key)
    }
    # An enrolment by another recogniser (the production pack's 512-d one) is hers too.
    other_model = ResidentFace(
        face_id=gallery_key(rose, OTHER_MODEL_ID),
        person_id=rose,
        community_id="c01",
        embedding=[float(v) for v in np.random.default_rng(7).normal(size=512)],
        model_id=OTHER_MODEL_ID,
        enrolled_at=SEEN_AT,
        enrolled_by="pingan faces enroll",
    )
    async with Publisher(settings.bootstrap) as publisher:
        await publisher.publish(other_model)
    for key, record in enrolled.items():
        await _until(
            lambda r=record: _best_match(face_service, r.embedding) == r.person_id,
            f"the face service knows {key}",
        )

    # The door camera sees both; the face pipeline writes their captures, door accesses and
    # crops, and the sink's rows land in chDB. Rose also used her card and was found once.
    events = [
        *await face_service.snapshot(
            face_photos["rose_leslie"][1].read_bytes(), CAMERA.device_id, SEEN_AT
        ),
        *await face_service.snapshot(
            face_photos["kit_harington"][1].read_bytes(), CAMERA.device_id, SEEN_AT
        ),
    ]
    captures = {
        e.matched_person_id: e
        for e in events
        if isinstance(e, FaceCapture) and e.matched_person_id is not None
    }
    face_doors = [e for e in events if isinstance(e, DoorAccess)]
    assert sorted(captures) == [kit, rose] and len(face_doors) == 2
    card = DoorAccess(
        event_id=f"card-{RUN}",
        community_id="c01",
        occurred_at=SEEN_AT,
        received_at=SEEN_AT,
        door_id=UNIT_DOOR,
        door_kind=DoorKind.UNIT_DOOR,
        method=AccessMethod.CARD,
        person_id=rose,
        granted=True,
    )
    search = BiometricSearch(
        search_id=f"search-{RUN}",
        operator="zhao.officer",
        searched_at=SEEN_AT,
        reason="case 2026-114",
        source="api",
        image_sha256="0" * 64,
        faces=2,
        matched_person_ids=[rose, kit],
        model_id=model_id,
    )
    await asyncio.to_thread(insert_records, warehouse, "face_captures", list(captures.values()))
    await asyncio.to_thread(insert_records, warehouse, "door_access", [*face_doors, card])
    await asyncio.to_thread(insert_records, warehouse, "biometric_searches", [search])
    crops = {person: settings.data_dir / c.crop_ref for person, c in captures.items() if c.crop_ref}
    assert all(path.is_file() for path in crops.values()) and len(crops) == 2

    before = (await _data(api, PRIVACY_STATUS, {}))["privacyStatus"]["enrolledPeople"]
    withdrawal = {"p": rose, "w": _purpose("withdrawal of consent")}
    [refused] = await _errors(api, WITHDRAW_CONSENT, withdrawal, OFFICER)
    assert refused == (
        "withdrawConsent needs the permission 'erase:personal-data', which the role "
        "'district_officer' does not have"
    )

    answer = await _data(api, WITHDRAW_CONSENT, withdrawal, ADMIN, "chen.admin")
    assert answer["withdrawConsent"] == {
        "personId": rose,
        "galleryEntriesRemoved": 2,
        "capturesPurged": 1,
        "cropsDeleted": 1,
        "doorAccessesAnonymised": 1,
        "biometricSearchesRedacted": 1,
    }

    # The gallery: her entries (both recognisers) are tombstones, attributed; Kit's stays.
    for key in (rose_key, other_model.face_id):
        removed = await _latest(settings.bootstrap, FACE_GALLERY, key)
        assert removed.value is None and removed.headers["pingan-operator"] == b"chen.admin"
    assert (await _latest(settings.bootstrap, FACE_GALLERY, kit_key)).value is not None
    # The warehouse: her capture is gone with its embedding and match; her face door access
    # no longer names her, her card one does; the search still stands, without her.
    remaining = await warehouse.aquery(
        "SELECT matched_person_id AS p, length(embedding) AS dims FROM face_captures FINAL"
    )
    assert remaining == [{"p": kit, "dims": face_service.pack.dims}]
    vectors = await warehouse.aquery("SELECT matched_person_id AS p FROM face_search_vectors")
    assert vectors == [{"p": kit}]
    doors = await warehouse.aquery(
        "SELECT method, person_id FROM door_access FINAL ORDER BY method, person_id"
    )
    assert [(d["method"], d["person_id"]) for d in doors] == [
        ("card", rose),
        ("face", kit),
        ("face", None),
    ]
    searches = await warehouse.aquery("SELECT matched_person_ids AS ids FROM biometric_searches")
    assert searches == [{"ids": [kit]}]
    # The crops: hers deleted, his kept.
    assert not crops[rose].exists() and crops[kit].is_file()

    entry = await _audited(settings.bootstrap, "withdraw_consent", person_id=rose)
    assert orjson.loads(entry.arguments) == {"person_id": rose}
    assert (entry.actor, entry.purpose, entry.result_count) == ("chen.admin", withdrawal["w"], 3)

    after = (await _data(api, PRIVACY_STATUS, {}))["privacyStatus"]["enrolledPeople"]
    assert after == before - 1
    # Her registration stays (card and QR still open her door), and so does her vehicle rule.
    assert (await _latest(settings.bootstrap, RESIDENTS, rose)).value is not None

    # The running face pipeline no longer matches her: a new capture of her is unmatched.
    await _until(
        lambda: _best_match(face_service, enrolled[rose_key].embedding) is None,
        "the face service forgets the withdrawn enrolment",
    )
    later = await face_service.snapshot(
        face_photos["rose_leslie"][0].read_bytes(), CAMERA.device_id, utc_now()
    )
    assert later and all(isinstance(e, FaceCapture) and e.matched_person_id is None for e in later)

    again = await _data(api, WITHDRAW_CONSENT, withdrawal, ADMIN, "chen.admin")
    assert again["withdrawConsent"] == {
        "personId": rose,
        "galleryEntriesRemoved": 0,
        "capturesPurged": 0,
        "cropsDeleted": 0,
        "doorAccessesAnonymised": 0,
        "biometricSearchesRedacted": 0,
    }


async def test_the_privacy_status_counts_people_for_district_admins_only(
    api: Api, settings: Settings
) -> None:
    for who in (C01_OFFICER, OFFICER, ANALYST):
        [refused] = await _errors(api, PRIVACY_STATUS, {}, who)
        assert refused.startswith("privacyStatus needs the permission 'read:audit'")

    status = (await _data(api, PRIVACY_STATUS, {}))["privacyStatus"]
    current: dict[str, ResidentFace] = {}
    for message in await _messages(settings.bootstrap, FACE_GALLERY):
        if message.value is None:
            current.pop(message.key, None)
        else:
            current[message.key] = decode(message.value, ResidentFace)
    assert status == {
        "enrolledPeople": len({face.person_id for face in current.values()}),
        "filingThreshold": FILING_THRESHOLD,
        "filingRequired": False,
    }
    assert FILING_THRESHOLD == 100_000


def test_crop_deletion_never_leaves_the_crops_directory(tmp_path: Path) -> None:
    """A stored reference is data: whatever it says, only files under crops/ are deleted."""
    (tmp_path / "crops" / "c01").mkdir(parents=True)
    crop = tmp_path / "crops" / "c01" / "fc-1.jpg"
    crop.write_bytes(b"jpeg")
    outside = tmp_path / "worker.log"
    outside.write_bytes(b"log")
    refs = [
        "crops/c01/fc-1.jpg",
        "crops/../worker.log",
        str(outside),
        "crops",
        "crops/c01/gone.jpg",
    ]
    assert delete_crops(tmp_path, refs) == 1
    assert not crop.exists() and outside.is_file() and (tmp_path / "crops").is_dir()

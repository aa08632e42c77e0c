"""The lost-wallet case, end to end on the real face pipeline.

A wallet is handed in at the gate of c01. Its owner, resident A, is enrolled from one photo
(through the API, into the gallery the face pipeline follows). Cameras then see A: at the
gate, in the car park and at the unit door c01-b03-u2, whose camera also opens the door by
face; other people pass the same cameras. Each sighting is a snapshot of A's other photo
through the real snapshot path (detection, alignment, embedding, gallery match, crop), and
its FaceCapture and DoorAccess events land in a real chDB as the sink writes them. Over the
API, an officer then follows A: `trajectory(personId)` ends at A's unit door, and
`faceSearch` with A's enrolment photo, a different photo from the one the cameras saw, ranks
A's captures first.

The shared sample set has two photos of A, so the cameras see variants of the second one (a
mirror image, a smaller copy) while the search and the enrolment use the first.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import pytest

from ingest.vision.faces.service import FaceService
from pingan.platform.settings import Settings
from pingan.platform.warehouse import EmbeddedWarehouse
from schemas.events import DoorAccess, Event, FaceCapture, utc_now
from schemas.reference import Device, DeviceKind
from tests.integration.api_harness import (
    ADMIN,
    C01_OFFICER,
    Api,
    configured,
    face_service_knowing,
    insert_records,
    prepared_warehouse,
    running_api_with_faces,
)

pytestmark = pytest.mark.integration

WAIT = 30.0
RUN = uuid.uuid4().hex[:8]
OWNER = f"p-owner-{RUN}"
UNIT_DOOR = "c01-b03-u2"
GATE_CAMERA = Device(
    device_id="c01-gate-cam", community_id="c01", device_kind=DeviceKind.CAMERA, place="c01-g1"
)
PARK_CAMERA = Device(
    device_id="c01-park-cam", community_id="c01", device_kind=DeviceKind.CAMERA, place="c01-p1"
)
DOOR_CAMERA = Device(
    device_id=f"{UNIT_DOOR}-cam", community_id="c01", device_kind=DeviceKind.CAMERA, place=UNIT_DOOR
)
T0 = utc_now() - timedelta(hours=5)

ENROL = """
mutation($p: String!, $c: ID!, $i: String!, $w: String!) {
  enrolResident(personId: $p, communityId: $c, image: $i, purpose: $w) { personId quality }
}
"""
TRAJECTORY = """
query($p: String!, $w: String!, $since: DateTime, $until: DateTime) {
  trajectory(personId: $p, purpose: $w, since: $since, until: $until) {
    personId truncated
    sightings {
      kind firstSeen lastSeen
      place { communityId cameraId doorId doorKind }
      evidence { eventId cropUrl accessMethod granted }
    }
  }
}
"""
FACE_SEARCH = """
query($i: String!, $w: String!, $topK: Int!, $minScore: Float) {
  faceSearch(image: $i, purpose: $w, topK: $topK, minScore: $minScore) {
    minScore
    matches { captureId communityId cameraId occurredAt score matchedPersonId cropUrl }
  }
}
"""


@dataclass(frozen=True)
class Walk:
    """What the cameras recorded, by whom: the owner's events and everybody else's."""

    owner_captures: list[FaceCapture]
    owner_doors: list[DoorAccess]
    others: list[FaceCapture]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lost-wallet")


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, data_dir: Path, face_model_dir: Path) -> Iterator[Settings]:
    """The API reads the registry, devices and crops from this module's broker and directory."""
    with configured(kafka_bootstrap, data_dir, face_model_dir) as settings:
        yield settings


@pytest.fixture(scope="module")
async def face_service(settings: Settings) -> AsyncIterator[FaceService]:
    """The face pipeline of the worker hosting the API, knowing the three cameras."""
    async with face_service_knowing(settings, [GATE_CAMERA, PARK_CAMERA, DOOR_CAMERA]) as service:
        yield service


@pytest.fixture(scope="module")
def warehouse(data_dir: Path) -> Iterator[EmbeddedWarehouse]:
    with prepared_warehouse(data_dir) as warehouse:
        yield warehouse


@pytest.fixture(scope="module")
async def api(
    warehouse: EmbeddedWarehouse, settings: Settings, face_service: FaceService
) -> AsyncIterator[Api]:
    async with running_api_with_faces(warehouse, settings, face_service) as api:
        yield api


def _jpeg(photo: Path, transform: Callable[[Any], Any]) -> bytes:
    """A camera's view of the photo: the same face, different pixels."""
    ok, jpeg = cv2.imencode(".jpg", transform(cv2.imread(str(photo))))
    assert ok
    return jpeg.tobytes()


def _mirrored(image: Any) -> Any:
    return cv2.flip(image, 1)


def _smaller(image: Any) -> Any:
    return cv2.resize(image, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)


async def _until(check: Callable[[], bool], what: str) -> None:
    """Poll a running service's state: readiness by checking, not by sleeping."""
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT}s: {what}")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def walk(
    api: Api,
    face_service: FaceService,
    warehouse: EmbeddedWarehouse,
    face_photos: dict[str, list[Path]],
) -> Walk:
    """Enrol the owner, let the cameras see everyone, store what they recorded."""
    enrolment, sighting = face_photos["obama"]
    enrolled = await api.data(
        ENROL,
        {
            "p": OWNER,
            "c": "c01",
            "i": base64.b64encode(enrolment.read_bytes()).decode(),
            "w": "consent form 2026-031, resident of c01-b03-u2",
        },
    )
    assert enrolled["enrolResident"]["personId"] == OWNER
    await _until(lambda: len(face_service.gallery) == 1, "the face pipeline follows the enrolment")

    snapshots = [
        (sighting.read_bytes(), GATE_CAMERA, 0),
        (face_photos["rose_leslie"][0].read_bytes(), GATE_CAMERA, 1),
        (_jpeg(sighting, _mirrored), PARK_CAMERA, 3),
        (face_photos["biden"][0].read_bytes(), PARK_CAMERA, 4),
        (_jpeg(sighting, _smaller), DOOR_CAMERA, 8),
        (face_photos["kit_harington"][0].read_bytes(), DOOR_CAMERA, 20),
    ]
    events: list[Event] = []
    for image, camera, minutes in snapshots:
        events += await face_service.snapshot(
            image, camera.device_id, T0 + timedelta(minutes=minutes)
        )
    captures = [e for e in events if isinstance(e, FaceCapture)]
    doors = [e for e in events if isinstance(e, DoorAccess)]
    await asyncio.to_thread(insert_records, warehouse, "face_captures", captures)
    await asyncio.to_thread(insert_records, warehouse, "door_access", doors)
    return Walk(
        owner_captures=[c for c in captures if c.matched_person_id == OWNER],
        owner_doors=[d for d in doors if d.person_id == OWNER],
        others=[c for c in captures if c.matched_person_id != OWNER],
    )


def test_the_cameras_recognised_the_owner_and_nobody_else(walk: Walk) -> None:
    assert [c.camera_id for c in walk.owner_captures] == [
        GATE_CAMERA.device_id,
        PARK_CAMERA.device_id,
        DOOR_CAMERA.device_id,
    ]
    [door] = walk.owner_doors
    assert (door.door_id, door.method.value, door.granted) == (UNIT_DOOR, "face", True)
    assert len(walk.others) == 3 and all(c.matched_person_id is None for c in walk.others)


async def test_the_owners_trajectory_ends_at_their_unit_door(api: Api, walk: Walk) -> None:
    answer = await api.data(
        TRAJECTORY,
        {
            "p": OWNER,
            "w": "case 2026-114: lost wallet handed in at gate c01-g1",
            "since": (T0 - timedelta(hours=1)).isoformat(),
            "until": utc_now().isoformat(),
        },
        C01_OFFICER,
    )
    trajectory = answer["trajectory"]
    assert trajectory["personId"] == OWNER and not trajectory["truncated"]
    steps = [
        (s["kind"], s["place"]["cameraId"] or s["place"]["doorId"]) for s in trajectory["sightings"]
    ]
    # The door camera's snapshot is both a capture and the door opening, at one moment: the
    # capture comes first and the walk ends at the unit door.
    assert steps == [
        ("FACE_CAPTURE", GATE_CAMERA.device_id),
        ("FACE_CAPTURE", PARK_CAMERA.device_id),
        ("FACE_CAPTURE", DOOR_CAMERA.device_id),
        ("DOOR_ACCESS", UNIT_DOOR),
    ]
    [door] = [s for s in trajectory["sightings"] if s["kind"] == "DOOR_ACCESS"]
    assert door["place"]["doorKind"] == "UNIT_DOOR"
    [evidence] = door["evidence"]
    [door_capture] = [c for c in walk.owner_captures if c.camera_id == DOOR_CAMERA.device_id]
    assert (evidence["accessMethod"], evidence["granted"]) == ("FACE", True)
    assert evidence["cropUrl"] == f"/graphql/crops/{door_capture.event_id}"


async def test_face_search_with_another_photo_finds_the_owner_first(
    api: Api, walk: Walk, face_photos: dict[str, list[Path]]
) -> None:
    photo = base64.b64encode(face_photos["obama"][0].read_bytes()).decode()
    why = "case 2026-114: who lost the wallet, from the resident photo"
    owner = {c.event_id for c in walk.owner_captures}

    found = (await api.data(FACE_SEARCH, {"i": photo, "w": why, "topK": 10}, C01_OFFICER))[
        "faceSearch"
    ]
    assert {m["captureId"] for m in found["matches"]} == owner
    assert {m["matchedPersonId"] for m in found["matches"]} == {OWNER}

    ranked = (
        await api.data(FACE_SEARCH, {"i": photo, "w": why, "topK": 10, "minScore": -1.0}, ADMIN)
    )["faceSearch"]["matches"]
    assert {m["captureId"] for m in ranked[:3]} == owner
    assert {m["captureId"] for m in ranked[3:]} == {c.event_id for c in walk.others}
    assert ranked[2]["score"] > found["minScore"] > ranked[3]["score"]

    async with api.http.get(
        api.url.removesuffix("/graphql") + ranked[0]["cropUrl"],
        headers={"Authorization": f"Bearer {api.token(C01_OFFICER)}"},
    ) as crop:
        assert crop.status == 200 and crop.content_type == "image/jpeg"
        assert (await crop.read()).startswith(b"\xff\xd8")

"""faceSearch over real HTTP, on the real face models: permissions, community scope, purpose,
photo errors, the audit row, and the accelerated plan against the exact scan.

Captures come from the shared sample photos through the face pipeline's snapshot path (real
detection, alignment and embedding) into a real chDB, where migration 0014's view makes their
Int8 copies; the audit log goes through a real Kafka broker.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import orjson
import pytest

from graphql_api.criteria import TimeWindow
from graphql_api.errors import MASKED_MESSAGE
from graphql_api.face_search_queries import FaceSearchCriteria, search_faces, unit
from ingest.vision.faces.service import FaceService
from pingan.platform.settings import Settings
from pingan.platform.warehouse import EmbeddedWarehouse
from pingan.worker import FaceServiceEngine
from schemas.audit import AuditEntry
from schemas.events import BoundingBox, FaceCapture, Record, utc_now
from schemas.reference import Device, DeviceKind
from tests.integration.api_harness import (
    ADMIN,
    ANALYST,
    C01_MANAGER,
    C01_OFFICER,
    OFFICER,
    Api,
    Who,
    api_settings,
    audit_entries,
    configured,
    face_service_knowing,
    insert_records,
    prepared_warehouse,
    running_api,
    running_api_with_faces,
)
from tests.unit.test_image_limits import bomb_png

pytestmark = pytest.mark.integration

WAIT = 30.0
T0 = utc_now() - timedelta(days=2)
CAMERAS = [
    Device(device_id=f"{c}-cam-{n}", community_id=c, device_kind=DeviceKind.CAMERA, place=p)
    for c, n, p in (("c01", 1, "c01-g1"), ("c01", 2, "c01-park"), ("c02", 1, "c02-g1"))
]
SNAPSHOTS = [
    # (person folder, photo index, camera, minutes after T0)
    ("obama", 1, "c01-cam-1", 0),
    ("obama", 1, "c01-cam-2", 60),
    ("obama", 1, "c02-cam-1", 120),
    ("biden", 0, "c01-cam-1", 5),
    ("kit_harington", 0, "c01-cam-2", 65),
    ("rose_leslie", 0, "c02-cam-1", 125),
]
"""Obama's second photo seen by three cameras, one of them in c02; other people too. The
searches use his first photo."""

FACE_SEARCH = """
query($image: String!, $purpose: String!, $communityIds: [ID!], $topK: Int! = 10,
      $minScore: Float, $since: DateTime, $until: DateTime) {
  faceSearch(image: $image, purpose: $purpose, communityIds: $communityIds, topK: $topK,
             minScore: $minScore, since: $since, until: $until) {
    minScore since until photoQuality
    matches { captureId communityId cameraId occurredAt score quality matchedPersonId cropUrl }
  }
}
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("face-search")


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, data_dir: Path, face_model_dir: Path) -> Iterator[Settings]:
    with configured(kafka_bootstrap, data_dir, face_model_dir) as settings:
        yield settings


@pytest.fixture(scope="module")
async def face_service(settings: Settings) -> AsyncIterator[FaceService]:
    """The face pipeline of the process hosting the API, knowing the cameras."""
    async with face_service_knowing(settings, CAMERAS) as service:
        yield service


@pytest.fixture(scope="module")
async def captures(
    face_service: FaceService, face_photos: dict[str, list[Path]]
) -> dict[str, list[FaceCapture]]:
    """The snapshots' real capture events by person, as the snapshot webhook publishes them."""
    found: dict[str, list[FaceCapture]] = {}
    for person, index, camera, minutes in SNAPSHOTS:
        image = face_photos[person][index].read_bytes()
        events = await face_service.snapshot(image, camera, T0 + timedelta(minutes=minutes))
        [capture] = [e for e in events if isinstance(e, FaceCapture)]
        found.setdefault(person, []).append(capture)
    return found


OTHER_RECOGNISER = FaceCapture(
    event_id="fc-512",
    community_id="c01",
    occurred_at=T0 + timedelta(minutes=1),
    received_at=T0 + timedelta(minutes=1),
    camera_id="c01-cam-1",
    embedding=[1.0] + [0.0] * 511,
    quality=0.9,
    bbox=BoundingBox(x=1, y=1, width=50, height=50),
)
"""A 512-d capture (another recogniser's): never compared with this pack's 128-d faces."""


@pytest.fixture(scope="module")
def warehouse(
    data_dir: Path, captures: dict[str, list[FaceCapture]]
) -> Iterator[EmbeddedWarehouse]:
    with prepared_warehouse(data_dir) as warehouse:
        stored: list[Record] = [c for found in captures.values() for c in found]
        insert_records(warehouse, "face_captures", [*stored, OTHER_RECOGNISER])
        yield warehouse


@pytest.fixture(scope="module")
async def api(
    warehouse: EmbeddedWarehouse, settings: Settings, face_service: FaceService
) -> AsyncIterator[Api]:
    async with running_api_with_faces(warehouse, settings, face_service) as api:
        yield api


def _image(photo: Path | bytes) -> str:
    data = photo if isinstance(photo, bytes) else photo.read_bytes()
    return base64.b64encode(data).decode()


def _purpose(what: str) -> str:
    return f"{what}, case 2026-{uuid.uuid4().hex[:6]}"


async def _search(api: Api, who: Who = ADMIN, **variables: Any) -> dict[str, Any]:
    return (await api.data(FACE_SEARCH, variables, who))["faceSearch"]


async def _refusal(api: Api, who: Who = ADMIN, **variables: Any) -> str:
    [message] = await api.errors(FACE_SEARCH, variables, who)
    assert "Traceback" not in message and MASKED_MESSAGE not in message
    return message


async def _audited(bootstrap: str, purpose: str) -> AuditEntry:
    [entry] = [
        e
        for e in await audit_entries(bootstrap)
        if e.operation == "face_search" and e.purpose == purpose
    ]
    return entry


def _ids(result: dict[str, Any]) -> list[str]:
    return [m["captureId"] for m in result["matches"]]


async def test_another_photo_finds_the_persons_captures_first_with_exact_scores(
    api: Api, captures: dict[str, list[FaceCapture]], face_photos: dict[str, list[Path]]
) -> None:
    result = await _search(api, image=_image(face_photos["obama"][0]), purpose=_purpose("wallet"))
    obama = {c.event_id for c in captures["obama"]}
    assert set(_ids(result)) == obama, "the pack's threshold keeps only his captures"
    assert result["minScore"] == pytest.approx(0.4)
    scores = [m["score"] for m in result["matches"]]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0.4
    assert 0.0 < result["photoQuality"] <= 1.0
    first = result["matches"][0]
    assert first["cropUrl"] == f"/graphql/crops/{first['captureId']}"
    assert datetime.fromisoformat(result["until"]) - datetime.fromisoformat(
        result["since"]
    ) == timedelta(days=30)

    everything = await _search(
        api,
        image=_image(face_photos["obama"][0]),
        purpose=_purpose("wallet, all faces"),
        minScore=-1.0,
        topK=100,
    )
    ranked = _ids(everything)
    assert set(ranked[:3]) == obama
    assert set(ranked) == {c.event_id for found in captures.values() for c in found}
    assert OTHER_RECOGNISER.event_id not in ranked


async def test_the_accelerated_plan_answers_as_the_exact_scan_does(
    api: Api, face_service: FaceService, face_photos: dict[str, list[Path]]
) -> None:
    engine = FaceServiceEngine(face_service)
    face = await engine.photo_face(face_photos["obama"][0].read_bytes())
    window = TimeWindow(since=T0 - timedelta(days=1), until=utc_now())
    for min_score, top_k in ((0.4, 10), (-1.0, 3), (-1.0, 100)):
        criteria = FaceSearchCriteria(unit(face.embedding), None, window, top_k, min_score)
        fast = await search_faces(api.context.reader, criteria)
        exact = await search_faces(api.context.reader, criteria, exact=True)
        assert [(r.event_id, round(r.score, 5)) for r in fast] == [
            (r.event_id, round(r.score, 5)) for r in exact
        ]


async def test_a_community_officer_never_gets_another_communitys_captures(
    api: Api, captures: dict[str, list[FaceCapture]], face_photos: dict[str, list[Path]]
) -> None:
    image = _image(face_photos["obama"][0])
    result = await _search(
        api, C01_OFFICER, image=image, purpose=_purpose("wallet"), minScore=-1.0, topK=100
    )
    assert {m["communityId"] for m in result["matches"]} == {"c01"}
    assert set(_ids(result)) == {
        c.event_id for found in captures.values() for c in found if c.community_id == "c01"
    }
    assert await _refusal(
        api, C01_OFFICER, image=image, purpose=_purpose("wallet"), communityIds=["c02"]
    ) == ("unknown community id(s): c02")
    district = await _search(api, OFFICER, image=image, purpose=_purpose("wallet"))
    assert "c02" in {m["communityId"] for m in district["matches"]}


@pytest.mark.parametrize(("who", "role"), [(C01_MANAGER, "property_manager"), (ANALYST, "analyst")])
async def test_roles_without_biometrics_are_refused(
    api: Api, face_photos: dict[str, list[Path]], who: Who, role: str
) -> None:
    message = await _refusal(
        api, who, image=_image(face_photos["obama"][0]), purpose=_purpose("curious")
    )
    assert message == (
        f"faceSearch needs the permission 'read:biometrics', which the role {role!r} does not have"
    )


async def test_a_search_needs_a_purpose(api: Api, face_photos: dict[str, list[Path]]) -> None:
    image = _image(face_photos["obama"][0])
    assert (await _refusal(api, image=image, purpose="  ")).startswith("purpose is required")
    [missing] = await api.errors(
        "query($image: String!) { faceSearch(image: $image) { minScore } }", {"image": image}
    )
    assert "purpose" in missing and "Traceback" not in missing


async def test_bounds_of_window_and_result_count(
    api: Api, face_photos: dict[str, list[Path]]
) -> None:
    image, why = _image(face_photos["obama"][0]), _purpose("wallet")
    now = utc_now()
    long_ago = (now - timedelta(days=100)).isoformat()
    assert "at most 93 days" in await _refusal(api, image=image, purpose=why, since=long_ago)
    assert "topK must be between 1 and 100" in await _refusal(
        api, image=image, purpose=why, topK=101
    )
    assert "minScore is a cosine similarity" in await _refusal(
        api, image=image, purpose=why, minScore=1.5
    )


def _blank_jpeg() -> bytes:
    ok, jpeg = cv2.imencode(".jpg", np.full((480, 640, 3), 128, dtype=np.uint8))
    assert ok
    return jpeg.tobytes()


async def test_photos_that_cannot_be_searched_get_clear_errors(api: Api) -> None:
    why = _purpose("wallet")
    assert await _refusal(api, image="not base64!", purpose=why) == (
        "image is not base64: send the photo's bytes base64-encoded"
    )
    assert await _refusal(api, image=_image(b"GIF89a, or a letter"), purpose=why) == (
        "image is not a JPEG or PNG photo"
    )
    truncated = await _refusal(api, image=_image(b"\xff\xd8\xff\xe0 truncated"), purpose=why)
    assert "cannot decode the image" in truncated
    bomb = await _refusal(api, image=_image(bomb_png(50_000, 50_000)), purpose=why)
    assert bomb == "image is too large: 50000×50000 pixels: a side is over 16384 pixels"
    huge = "A" * 7_200_000
    assert "image is larger than 5 MB" in await _refusal(api, image=huge, purpose=why)
    no_face = await _refusal(api, image=_image(_blank_jpeg()), purpose=why)
    assert no_face.startswith("no face of at least")


async def test_a_photo_without_a_face_is_audited_as_refused(api: Api, settings: Settings) -> None:
    why = _purpose("wallet, blurry photo")
    blank = _blank_jpeg()
    await _refusal(api, image=_image(blank), purpose=why)
    entry = await _audited(settings.bootstrap, why)
    arguments = orjson.loads(entry.arguments)
    assert arguments["image_sha256"] == hashlib.sha256(blank).hexdigest()
    assert arguments["refused"].startswith("no face") and entry.result_count == 0


async def test_every_search_is_audited_with_the_photos_sha256_only(
    api: Api, settings: Settings, face_photos: dict[str, list[Path]]
) -> None:
    photo = face_photos["obama"][0]
    why = _purpose("lost wallet found at gate 1")
    result = await _search(api, C01_OFFICER, image=_image(photo), purpose=why, topK=5)
    entry = await _audited(settings.bootstrap, why)
    arguments = orjson.loads(entry.arguments)
    assert arguments["image_sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    assert (entry.actor_role, entry.result_count) == ("community_officer", len(result["matches"]))
    assert entry.community_ids == ["c01"] and arguments["top_k"] == 5
    assert arguments["model_id"] == api.context.faces.model_id
    assert "image" not in arguments and "embedding" not in entry.arguments
    assert _image(photo)[:64] not in entry.arguments


async def test_without_a_model_pack_face_search_says_so(
    warehouse: EmbeddedWarehouse, settings: Settings, face_photos: dict[str, list[Path]]
) -> None:
    async with running_api(warehouse, settings.bootstrap, api_settings()) as bare:
        message = await _refusal(
            bare, image=_image(face_photos["obama"][0]), purpose=_purpose("wallet")
        )
    assert message == "no face model pack is installed on this server: face search is off"

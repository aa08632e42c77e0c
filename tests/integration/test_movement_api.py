"""Movement lookups over real HTTP: face captures, trajectories, a vehicle's record, face crops.

The seed case: a person seen by a camera near their car, then at the unit door they entered,
in c01; the same person also appears in c02, which a c01 officer must never see. Rows go
into a real chDB, reference data and the audit log through a real Kafka broker.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yarl

from graphql_api.evidence import CROPS_PATH
from pingan.platform.publisher import Publisher
from pingan.platform.settings import get_settings
from pingan.platform.warehouse import EmbeddedWarehouse
from schemas.alerts import Alert, AlertType, Evidence, Severity, SubjectKind
from schemas.audit import AuditEntry
from schemas.events import (
    AccessMethod,
    BoundingBox,
    Direction,
    DoorAccess,
    DoorKind,
    FaceCapture,
    PlateColour,
    Record,
    VehiclePassage,
    utc_now,
)
from schemas.parking import ParkingPass, ParkingSession, SessionStatus
from schemas.reference import Device, DeviceKind, ResidentVehicle
from tests.integration.api_harness import (
    ANALYST,
    C01_MANAGER,
    C01_OFFICER,
    OFFICER,
    Api,
    Who,
    api_settings,
    audit_entries,
    insert_records,
    prepared_warehouse,
    running_api,
)

pytestmark = pytest.mark.integration

WAIT = 30.0
RUN = uuid.uuid4().hex[:8]
T0 = utc_now() - timedelta(hours=3)
PERSON = f"p-{RUN}"
PLATE = "浙B5W123"
UNIT_DOOR = "c01-b03-u2"
DOOR_CAMERA = "c01-cam-17"
"""Watches the unit door; known as such only from the device registry (no `-cam` naming)."""
SINCE = T0 - timedelta(hours=1)
UNTIL = T0 + timedelta(hours=3)
RNG = np.random.default_rng(13)


def _unit(vector: np.ndarray) -> list[float]:
    return [float(v) for v in vector / np.linalg.norm(vector)]


UNKNOWN_FACE = RNG.normal(size=128)
SAME_FACE = _unit(UNKNOWN_FACE + 0.3 * RNG.normal(size=128))


def _capture(
    event_id: str,
    community: str,
    camera: str,
    at: datetime,
    *,
    person: str | None = PERSON,
    quality: float = 0.8,
    embedding: list[float] | None = None,
    crop_ref: str | None = "",
) -> FaceCapture:
    """crop_ref "" means: a crop file where the face pipeline would write it."""
    if crop_ref == "":
        crop_ref = f"crops/{community}/{at:%Y-%m-%d}/{event_id}.jpg"
    return FaceCapture(
        event_id=event_id,
        community_id=community,
        occurred_at=at,
        received_at=at + timedelta(milliseconds=300),
        camera_id=camera,
        embedding=embedding or _unit(RNG.normal(size=128)),
        quality=quality,
        bbox=BoundingBox(x=10, y=12, width=40, height=48),
        matched_person_id=person,
        match_score=0.71 if person else None,
        crop_ref=crop_ref,
    )


def _door(
    event_id: str,
    community: str,
    door: str,
    kind: DoorKind,
    method: AccessMethod,
    at: datetime,
) -> DoorAccess:
    return DoorAccess(
        event_id=event_id,
        community_id=community,
        occurred_at=at,
        received_at=at + timedelta(milliseconds=200),
        door_id=door,
        door_kind=kind,
        method=method,
        person_id=PERSON,
        granted=True,
    )


def _passage(event_id: str, community: str, gate: str, at: datetime) -> VehiclePassage:
    return VehiclePassage(
        event_id=event_id,
        community_id=community,
        occurred_at=at,
        received_at=at + timedelta(milliseconds=250),
        plate=PLATE,
        plate_colour=PlateColour.BLUE,
        direction=Direction.IN,
        gate_id=gate,
        camera_id=f"{gate}-anpr",
        confidence=0.96,
    )


# The lost-wallet walk in c01: in through the gate by card, past the car (two captures of
# one dwell), seen by the unit door's camera, in through the unit door by face.
GATE_CARD = _door(
    "da-gate", "c01", "c01-g1", DoorKind.GATE, AccessMethod.CARD, T0 - timedelta(minutes=10)
)
NEAR_CAR = [
    _capture("fc-car-1", "c01", "c01-park-cam", T0),
    _capture("fc-car-2", "c01", "c01-park-cam", T0 + timedelta(seconds=40), quality=0.6),
]
AT_DOOR = _capture(
    "fc-door", "c01", DOOR_CAMERA, T0 + timedelta(minutes=5, seconds=-1), quality=0.9
)
PASSER_BY = _capture(
    "fc-door-passer",
    "c01",
    DOOR_CAMERA,
    T0 + timedelta(minutes=5, seconds=2),
    person=None,
    quality=0.95,
)
"""A sharper face at the same door a moment later: not the person who opened it."""
UNIT_DOOR_FACE = _door(
    "da-unit", "c01", UNIT_DOOR, DoorKind.UNIT_DOOR, AccessMethod.FACE, T0 + timedelta(minutes=5)
)
# The same person later in c02, which a c01 officer must never see.
IN_C02 = _capture("fc-c02", "c02", "c02-g1-cam", T0 + timedelta(minutes=30))
C02_DOOR = _door(
    "da-c02",
    "c02",
    "c02-b01-u1",
    DoorKind.UNIT_DOOR,
    AccessMethod.CARD,
    T0 + timedelta(minutes=32),
)
# An unknown face seen twice in c01 and once in c02, and a stranger.
UNKNOWN = [
    _capture(
        "fc-unknown-1",
        "c01",
        "c01-pub1",
        T0 + timedelta(hours=1),
        person=None,
        embedding=_unit(UNKNOWN_FACE),
    ),
    _capture(
        "fc-unknown-2",
        "c01",
        "c01-pub2",
        T0 + timedelta(hours=1, minutes=5),
        person=None,
        embedding=SAME_FACE,
    ),
    _capture("fc-stranger", "c01", "c01-pub2", T0 + timedelta(hours=1, minutes=6), person=None),
    _capture(
        "fc-unknown-c02",
        "c02",
        "c02-pub1",
        T0 + timedelta(hours=1, minutes=10),
        person=None,
        embedding=SAME_FACE,
    ),
]
ESCAPING = _capture(
    "fc-escape", "c01", "c01-pub1", T0 + timedelta(hours=2), person=None, crop_ref="crops/../x.jpg"
)
CAPTURES = [*NEAR_CAR, AT_DOOR, PASSER_BY, IN_C02, *UNKNOWN, ESCAPING]
DOORS = [GATE_CARD, UNIT_DOOR_FACE, C02_DOOR]
PASSAGES = [
    _passage("vp-c01", "c01", "c01-g2", T0 - timedelta(minutes=3)),
    _passage("vp-c02", "c02", "c02-g1", T0 + timedelta(minutes=20)),
]


def _session(session_id: str, community: str, started: datetime, fee_fen: int) -> ParkingSession:
    return ParkingSession(
        session_id=session_id,
        community_id=community,
        plate=PLATE,
        plate_colour=PlateColour.BLUE,
        status=SessionStatus.CLOSED,
        started_at=started,
        entered_at=started,
        exited_at=started + timedelta(hours=2),
        entry_event_id=session_id,
        duration_seconds=7200,
        fee_fen=fee_fen,
        fee_basis="2 h day rate",
        tariff_id=community,
    )


SESSIONS = [
    _session("vp-old-c01", "c01", T0 - timedelta(days=1), 1000),
    _session("vp-old-c02", "c02", T0 - timedelta(days=2), 700),
]


def _plate_alert(alert_id: str, community: str) -> Alert:
    return Alert(
        alert_id=alert_id,
        alert_type=AlertType.ROAMING_VEHICLE,
        severity=Severity.MEDIUM,
        community_id=community,
        subject_kind=SubjectKind.PLATE,
        subject=PLATE,
        first_seen=T0,
        last_seen=T0,
        explanation=f"{PLATE} roams in {community}",
        evidence=[
            Evidence(event_id="vp-c01", event_kind="vehicle_passage", occurred_at=T0, summary="-")
        ],
        raised_at=T0,
        updated_at=T0,
        source_received_at=T0,
    )


ALERTS = [_plate_alert("al-c01", "c01"), _plate_alert("al-c02", "c02")]
REFERENCE: list[Record] = [
    ResidentVehicle(plate=PLATE, community_id="c01", person_id=PERSON),
    ParkingPass(
        community_id="c01",
        plate=PLATE,
        valid_from=T0 - timedelta(days=10),
        valid_until=T0 + timedelta(days=20),
        person_id=PERSON,
    ),
    ParkingPass(
        community_id="c02",
        plate=PLATE,
        valid_from=T0 - timedelta(days=10),
        valid_until=T0 + timedelta(days=20),
    ),
    Device(
        device_id=DOOR_CAMERA,
        community_id="c01",
        device_kind=DeviceKind.CAMERA,
        place=UNIT_DOOR,
    ),
]

TRAJECTORY = """
query($purpose: String!, $personId: String, $captureId: ID, $plate: String,
      $since: DateTime, $until: DateTime, $first: Int) {
  trajectory(purpose: $purpose, personId: $personId, captureId: $captureId, plate: $plate,
             since: $since, until: $until, first: $first) {
    personId captureId plate matchThreshold since until truncated
    sightings {
      kind firstSeen lastSeen dwellSeconds
      place { communityId cameraId doorId doorKind gateId }
      evidence { eventId occurredAt cropUrl accessMethod granted direction }
    }
  }
}
"""
FACE_CAPTURES = """
query($purpose: String!, $personId: String, $first: Int, $after: String,
      $communityIds: [ID!]) {
  faceCaptures(purpose: $purpose, personId: $personId, first: $first, after: $after,
               communityIds: $communityIds) {
    edges { node {
      id communityId cameraId occurredAt quality matchedPersonId matchScore cropUrl
    } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""
VEHICLE = """
query($plate: String!, $purpose: String!) {
  vehicle(plate: $plate, purpose: $purpose) {
    plate
    registrations { communityId personId }
    monthlyPasses { communityId personId }
    recentPassages { id communityId gateId }
    parkingSessions { id communityId status fee }
    alerts { id communityId subject history { action } }
  }
}
"""


def _crop_jpeg(seed: int) -> bytes:
    pixels = np.full((12, 10, 3), seed % 256, dtype=np.uint8)
    ok, jpeg = cv2.imencode(".jpg", pixels)
    assert ok
    return jpeg.tobytes()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("movement-api")


@pytest.fixture(scope="module")
def crops(data_dir: Path) -> dict[str, bytes]:
    """Real JPEG crops where the face pipeline writes them, by capture id; and a file just
    outside the crops directory that the escaping capture's reference points at."""
    written: dict[str, bytes] = {}
    for n, capture in enumerate(CAPTURES):
        if capture.crop_ref and capture is not ESCAPING:
            path = data_dir / capture.crop_ref
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(jpeg := _crop_jpeg(n))
            written[capture.event_id] = jpeg
    (data_dir / "x.jpg").write_bytes(_crop_jpeg(255))
    return written


@pytest.fixture(scope="module")
def warehouse(data_dir: Path) -> Iterator[EmbeddedWarehouse]:
    with prepared_warehouse(data_dir) as warehouse:
        insert_records(warehouse, "face_captures", CAPTURES)
        insert_records(warehouse, "door_access", DOORS)
        insert_records(warehouse, "vehicle_passages", PASSAGES)
        insert_records(warehouse, "parking_sessions", SESSIONS)
        insert_records(warehouse, "alerts", ALERTS)
        yield warehouse


@pytest.fixture(scope="module")
def configured(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API reads reference data from the configured Kafka and the match threshold from
    the configured face model pack: this module's broker, and a pack config of our own."""
    pack = tmp_path_factory.mktemp("face-pack")
    (pack / "pingan-face.yaml").write_text("match_threshold: 0.4\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KAFKA_BOOTSTRAP", kafka_bootstrap)
        patch.setenv("PINGAN_FACE_MODEL_DIR", str(pack))
        get_settings.cache_clear()
        yield kafka_bootstrap
    get_settings.cache_clear()


@pytest.fixture(scope="module")
async def api(
    warehouse: EmbeddedWarehouse, configured: str, data_dir: Path, crops: dict[str, bytes]
) -> AsyncIterator[Api]:
    async with asyncio.timeout(WAIT), Publisher(configured) as publisher:
        await publisher.publish_many(REFERENCE)
    async with running_api(warehouse, configured, api_settings(data_dir=data_dir)) as api:
        yield api


async def _audited(bootstrap: str, operation: str, purpose: str) -> AuditEntry:
    [entry] = [
        e
        for e in await audit_entries(bootstrap)
        if e.operation == operation and e.purpose == purpose
    ]
    return entry


def _purpose(what: str) -> str:
    return f"case 2026-114 lost wallet, {what} {uuid.uuid4().hex[:6]}"


async def _trajectory(api: Api, who: Who, purpose: str, **arguments: Any) -> dict[str, Any]:
    variables = {"purpose": purpose, "since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    data = await api.data(TRAJECTORY, variables | arguments, who)
    return data["trajectory"]


def _places(trajectory: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (
            s["kind"],
            s["place"]["communityId"],
            s["place"]["cameraId"] or s["place"]["doorId"] or s["place"]["gateId"],
        )
        for s in trajectory["sightings"]
    ]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_trajectory_goes_from_the_car_to_the_unit_door_in_time_order(
    api: Api, configured: str
) -> None:
    purpose = _purpose("trajectory")
    trajectory = await _trajectory(api, C01_OFFICER, purpose, personId=PERSON)

    assert _places(trajectory) == [
        ("DOOR_ACCESS", "c01", "c01-g1"),
        ("FACE_CAPTURE", "c01", "c01-park-cam"),
        ("FACE_CAPTURE", "c01", DOOR_CAMERA),
        ("DOOR_ACCESS", "c01", UNIT_DOOR),
    ]
    gate, car, camera, door = trajectory["sightings"]
    starts = [_at(s["firstSeen"]) for s in trajectory["sightings"]]
    assert starts == sorted(starts)
    assert [e["eventId"] for e in car["evidence"]] == ["fc-car-1", "fc-car-2"]
    assert (_at(car["firstSeen"]), _at(car["lastSeen"])) == (T0, T0 + timedelta(seconds=40))
    assert car["dwellSeconds"] == 40.0
    assert [e["cropUrl"] for e in car["evidence"]] == [
        f"{CROPS_PATH}fc-car-1",
        f"{CROPS_PATH}fc-car-2",
    ]
    assert gate["place"]["doorKind"] == "GATE"
    assert gate["evidence"][0]["accessMethod"] == "CARD"
    assert gate["evidence"][0]["cropUrl"] is None
    assert camera["dwellSeconds"] == 0.0
    assert door["place"] == {
        "communityId": "c01",
        "cameraId": None,
        "doorId": UNIT_DOOR,
        "doorKind": "UNIT_DOOR",
        "gateId": None,
    }
    [entered] = door["evidence"]
    assert (entered["eventId"], entered["accessMethod"], entered["granted"]) == (
        "da-unit",
        "FACE",
        True,
    )
    assert entered["cropUrl"] == f"{CROPS_PATH}fc-door", "the matched, best crop at that door"
    assert (trajectory["personId"], trajectory["truncated"]) == (PERSON, False)

    entry = await _audited(configured, "trajectory", purpose)
    assert (entry.actor, entry.actor_role) == ("community_officer-c01", "community_officer")
    assert (entry.community_ids, entry.result_count) == (["c01"], 4)
    assert PERSON in entry.arguments


async def test_a_community_officer_never_sees_another_communitys_sightings(api: Api) -> None:
    district = await _trajectory(api, OFFICER, _purpose("district"), personId=PERSON)
    assert ("FACE_CAPTURE", "c02", "c02-g1-cam") in _places(district)
    assert ("DOOR_ACCESS", "c02", "c02-b01-u1") in _places(district)

    community = await _trajectory(api, C01_OFFICER, _purpose("c01"), personId=PERSON)
    assert {community_id for _, community_id, _ in _places(community)} == {"c01"}
    assert _places(community) == _places(district)[:4]


async def test_a_trajectory_longer_than_first_is_cut_and_says_so(api: Api) -> None:
    cut = await _trajectory(api, C01_OFFICER, _purpose("first 2"), personId=PERSON, first=2)
    assert _places(cut) == [
        ("DOOR_ACCESS", "c01", "c01-g1"),
        ("FACE_CAPTURE", "c01", "c01-park-cam"),
    ]
    assert cut["truncated"] is True


async def test_a_capture_id_follows_the_person_matched_on_it(api: Api) -> None:
    by_capture = await _trajectory(api, C01_OFFICER, _purpose("capture"), captureId="fc-car-2")
    by_person = await _trajectory(api, C01_OFFICER, _purpose("person"), personId=PERSON)
    assert (by_capture["personId"], by_capture["captureId"]) == (PERSON, "fc-car-2")
    assert by_capture["sightings"] == by_person["sightings"]


async def test_an_unknown_face_is_followed_by_embedding_similarity(api: Api) -> None:
    c01 = await _trajectory(api, C01_OFFICER, _purpose("face"), captureId="fc-unknown-1")
    assert (c01["personId"], c01["matchThreshold"]) == (None, 0.4)
    assert [e["eventId"] for s in c01["sightings"] for e in s["evidence"]] == [
        "fc-unknown-1",
        "fc-unknown-2",
    ]

    district = await _trajectory(api, OFFICER, _purpose("face"), captureId="fc-unknown-1")
    assert [e["eventId"] for s in district["sightings"] for e in s["evidence"]] == [
        "fc-unknown-1",
        "fc-unknown-2",
        "fc-unknown-c02",
    ]
    errors = await api.errors(
        TRAJECTORY, {"purpose": _purpose("c02 face"), "captureId": "fc-unknown-c02"}, C01_OFFICER
    )
    assert errors == ["no face capture with id 'fc-unknown-c02'"]


async def test_a_plate_is_followed_through_the_gates_of_ones_own_communities(api: Api) -> None:
    c01 = await _trajectory(api, C01_OFFICER, _purpose("plate"), plate="浙b 5w123")
    assert c01["plate"] == PLATE
    assert _places(c01) == [("VEHICLE_PASSAGE", "c01", "c01-g2")]
    assert c01["sightings"][0]["evidence"][0]["direction"] == "IN"
    district = await _trajectory(api, OFFICER, _purpose("plate"), plate=PLATE)
    assert _places(district) == [
        ("VEHICLE_PASSAGE", "c01", "c01-g2"),
        ("VEHICLE_PASSAGE", "c02", "c02-g1"),
    ]


async def test_face_captures_page_newest_first_without_embeddings(
    api: Api, configured: str
) -> None:
    purpose = _purpose("captures")
    variables = {"purpose": purpose, "personId": PERSON, "first": 2}
    first = (await api.data(FACE_CAPTURES, variables, C01_OFFICER))["faceCaptures"]
    assert [e["node"]["id"] for e in first["edges"]] == ["fc-door", "fc-car-2"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["totalCount"] == 3
    node = first["edges"][0]["node"]
    assert node == {
        "id": "fc-door",
        "communityId": "c01",
        "cameraId": DOOR_CAMERA,
        "occurredAt": node["occurredAt"],
        "quality": pytest.approx(0.9),
        "matchedPersonId": PERSON,
        "matchScore": pytest.approx(0.71),
        "cropUrl": f"{CROPS_PATH}fc-door",
    }
    after = first["pageInfo"]["endCursor"]
    rest = await api.data(FACE_CAPTURES, variables | {"after": after}, C01_OFFICER)
    assert [e["node"]["id"] for e in rest["faceCaptures"]["edges"]] == ["fc-car-1"]

    pages = [
        (e.community_ids, e.result_count)
        for e in await audit_entries(configured)
        if e.operation == "face_captures" and e.purpose == purpose
    ]
    assert pages == [(["c01"], 2), (["c01"], 1)], "one audit row per call"

    errors = await api.errors(
        '{ faceCaptures(purpose: "x") { edges { node { embedding } } } }', None, OFFICER
    )
    assert "Cannot query field 'embedding'" in errors[0]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (FACE_CAPTURES, {"purpose": "case 1"}),
        (TRAJECTORY, {"purpose": "case 1", "personId": PERSON}),
    ],
)
@pytest.mark.parametrize("who", [C01_MANAGER, ANALYST])
async def test_roles_without_biometrics_are_refused_naming_the_permission(
    api: Api, query: str, variables: dict[str, Any], who: Who
) -> None:
    [message] = await api.errors(query, variables, who)
    assert "'read:biometrics'" in message
    assert f"'{who[0].value}'" in message


@pytest.mark.parametrize("who", [C01_MANAGER, ANALYST])
async def test_a_vehicle_needs_the_plates_permission(api: Api, who: Who) -> None:
    [message] = await api.errors(VEHICLE, {"plate": PLATE, "purpose": "case 1"}, who)
    assert "'read:plates'" in message


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (FACE_CAPTURES, {}),
        (TRAJECTORY, {"personId": PERSON}),
        (VEHICLE, {"plate": PLATE}),
    ],
)
@pytest.mark.parametrize("purpose", ["", "   "])
async def test_a_call_without_purpose_is_refused_and_reads_nothing(
    api: Api, configured: str, query: str, variables: dict[str, Any], purpose: str
) -> None:
    before = len(await audit_entries(configured))
    body = await api.graphql(query, variables | {"purpose": purpose}, OFFICER)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"].startswith("purpose is required: say why")
    assert len(await audit_entries(configured)) == before


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"since": (T0 - timedelta(days=40)).isoformat(), "until": T0.isoformat()},
            "a trajectory covers at most 31 days, and since..until spans 40.0 days",
        ),
        (
            {"since": (utc_now() - timedelta(days=32)).isoformat()},
            "a trajectory covers at most 31 days",
        ),
        ({"until": (T0 - timedelta(days=40)).isoformat(), "since": T0.isoformat()}, "is after"),
        ({"first": 501}, "first must be between 1 and 500 sightings, got 501"),
        ({"first": 0}, "first must be between 1 and 500 sightings, got 0"),
        ({"plate": PLATE}, "give exactly one of personId, captureId and plate"),
    ],
)
async def test_trajectory_limits_are_clear_errors(
    api: Api, arguments: dict[str, Any], message: str
) -> None:
    variables = {"purpose": "case 1", "personId": PERSON} | arguments
    [error] = await api.errors(TRAJECTORY, variables, OFFICER)
    assert message in error


async def _get(api: Api, path: str, who: Who | None) -> tuple[int, bytes, str]:
    base = yarl.URL(api.url)
    url = yarl.URL(f"{base.scheme}://{base.host}:{base.port}{path}", encoded=True)
    headers = {} if who is None else {"Authorization": f"Bearer {api.token(who)}"}
    async with asyncio.timeout(WAIT), api.http.get(url, headers=headers) as response:
        return response.status, await response.read(), response.content_type


async def test_a_face_crop_is_served_to_an_officer_of_its_community_and_audited(
    api: Api, configured: str, crops: dict[str, bytes]
) -> None:
    before = len(await audit_entries(configured))
    status, body, content_type = await _get(api, f"{CROPS_PATH}fc-door", C01_OFFICER)
    assert (status, content_type) == (200, "image/jpeg")
    assert body == crops["fc-door"]
    assert cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR).shape == (12, 10, 3)

    [entry] = (await audit_entries(configured))[before:]
    assert (entry.operation, entry.actor, entry.result_count) == (
        "face_crop",
        "community_officer-c01",
        1,
    )
    assert (entry.community_ids, entry.arguments) == (["c01"], '{"capture_id":"fc-door"}')


async def test_a_face_crop_needs_a_token_and_the_biometrics_permission(api: Api) -> None:
    status, body, _ = await _get(api, f"{CROPS_PATH}fc-door", None)
    assert status == 401
    assert b"Bearer" in body
    status, body, _ = await _get(api, f"{CROPS_PATH}fc-door", C01_MANAGER)
    assert status == 403
    assert b"read:biometrics" in body


async def test_another_communitys_crop_is_the_same_as_a_missing_one(api: Api) -> None:
    status, body, _ = await _get(api, f"{CROPS_PATH}fc-c02", C01_OFFICER)
    missing_status, missing_body, _ = await _get(api, f"{CROPS_PATH}fc-none", C01_OFFICER)
    assert (status, missing_status) == (404, 404)
    assert body.replace(b"fc-c02", b"ID") == missing_body.replace(b"fc-none", b"ID")
    status, _, _ = await _get(api, f"{CROPS_PATH}fc-c02", OFFICER)
    assert status == 200


@pytest.mark.parametrize(
    "path",
    ["..%2F..%2Fx.jpg", "%2E%2E", "..%5Cx.jpg", "fc-door%2F..%2F..%2F..%2Fx.jpg", "..."],
)
async def test_crop_ids_that_look_like_paths_are_refused(api: Api, path: str) -> None:
    status, body, _ = await _get(api, f"{CROPS_PATH}{path}", OFFICER)
    assert status == 400
    assert b"not a face capture id" in body


async def test_dot_segments_never_reach_a_file_outside_the_crops(api: Api) -> None:
    """The server resolves `..` segments before routing: what is left is no crop route."""
    status, body, _ = await _get(api, f"{CROPS_PATH}../../x.jpg", OFFICER)
    assert status == 404
    assert body != _crop_jpeg(255)


async def test_a_stored_crop_reference_outside_the_crops_directory_is_not_served(
    api: Api,
) -> None:
    status, body, _ = await _get(api, f"{CROPS_PATH}fc-escape", OFFICER)
    assert status == 404
    assert body != _crop_jpeg(255)


async def test_a_vehicle_within_ones_own_communities(api: Api, configured: str) -> None:
    purpose = _purpose("vehicle")
    vehicle = (await api.data(VEHICLE, {"plate": "浙B·5W123", "purpose": purpose}, C01_OFFICER))[
        "vehicle"
    ]
    assert vehicle == {
        "plate": PLATE,
        "registrations": [{"communityId": "c01", "personId": PERSON}],
        "monthlyPasses": [{"communityId": "c01", "personId": PERSON}],
        "recentPassages": [{"id": "vp-c01", "communityId": "c01", "gateId": "c01-g2"}],
        "parkingSessions": [
            {"id": "vp-old-c01", "communityId": "c01", "status": "CLOSED", "fee": "10.00"}
        ],
        "alerts": [{"id": "al-c01", "communityId": "c01", "subject": PLATE, "history": []}],
    }
    entry = await _audited(configured, "vehicle", purpose)
    assert (entry.community_ids, entry.result_count) == (["c01"], 5)

    district = (await api.data(VEHICLE, {"plate": PLATE, "purpose": purpose + "+"}, OFFICER))[
        "vehicle"
    ]
    assert [p["communityId"] for p in district["recentPassages"]] == ["c02", "c01"]
    assert [s["communityId"] for s in district["parkingSessions"]] == ["c01", "c02"]
    assert sorted(a["communityId"] for a in district["alerts"]) == ["c01", "c02"]
    assert [p["communityId"] for p in district["monthlyPasses"]] == ["c01", "c02"]


async def test_a_camera_registered_while_the_api_runs_gives_its_door_the_crops(
    api: Api, warehouse: EmbeddedWarehouse, configured: str
) -> None:
    """The API holds the device registry and follows it: a camera registered after its first
    trajectory is known to the next ones, with no restart and no reread per call."""
    person, door, camera = f"p-late-{RUN}", "c03-b02-u4", "c03-cam-41"
    at = T0 + timedelta(hours=4)  # after every other test's window, and a person of its own
    capture = _capture("fc-late", "c03", camera, at - timedelta(seconds=2), person=person)
    access = _door("da-late", "c03", door, DoorKind.UNIT_DOOR, AccessMethod.FACE, at)
    insert_records(warehouse, "face_captures", [capture])
    insert_records(warehouse, "door_access", [access.model_copy(update={"person_id": person})])
    window = {
        "since": (at - timedelta(hours=1)).isoformat(),
        "until": (at + timedelta(hours=1)).isoformat(),
    }

    async def door_crop() -> str | None:
        variables = {"purpose": _purpose("late camera"), "personId": person} | window
        trajectory = (await api.data(TRAJECTORY, variables, OFFICER))["trajectory"]
        [entered] = [s for s in trajectory["sightings"] if s["kind"] == "DOOR_ACCESS"]
        return entered["evidence"][0]["cropUrl"]

    assert await door_crop() is None, "no camera is known at the door yet"
    registered = Device(
        device_id=camera, community_id="c03", device_kind=DeviceKind.CAMERA, place=door
    )
    async with asyncio.timeout(WAIT), Publisher(configured) as publisher:
        await publisher.publish(registered)
    async with asyncio.timeout(WAIT):
        while (crop := await door_crop()) is None:
            await asyncio.sleep(0.2)
    assert crop == f"{CROPS_PATH}fc-late"

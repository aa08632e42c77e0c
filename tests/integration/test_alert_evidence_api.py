"""What the console's alert detail reads beyond the summaries: the throw's floor and window,
kept snapshots, face crops, and a charging slot's temperature curve, over real HTTP on chDB."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pingan.platform.settings import get_settings
from pingan.platform.warehouse import EmbeddedWarehouse
from schemas.alerts import Alert, AlertType, Evidence, Severity, SubjectKind
from schemas.events import (
    BoundingBox,
    CameraAnalytics,
    CameraAnalyticsKind,
    DeviceKind,
    DeviceTelemetry,
    Direction,
    Event,
    FaceCapture,
    PlateColour,
    VehiclePassage,
    utc_now,
)
from tests.integration.api_harness import (
    ADMIN,
    C01_MANAGER,
    C01_OFFICER,
    Api,
    insert_records,
    prepared_warehouse,
    running_api,
)

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
T0 = utc_now() - timedelta(hours=1)
JPEG = b"\xff\xd8\xff\xe0" + b"pingan-test-frame" + b"\xff\xd9"
KEPT = f"snapshots/throw-{RUN}.jpg"
SLOT = f"shed-{RUN}-slot3"

DETAIL = """
query($id: ID!) {
  alert(id: $id) {
    id
    evidence { eventId eventKind floor windowColumn snapshots { ref image } cropUrl }
    temperatureCurve { at temperatureC }
  }
}
"""


def _event_base(event_id: str, minutes: float) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minutes)
    return {"event_id": event_id, "community_id": "c01", "occurred_at": at, "received_at": at}


THROW = CameraAnalytics(
    **_event_base(f"throw-{RUN}", 1),
    camera_id="cam-facade-3",
    analytics_kind=CameraAnalyticsKind.HIGH_ALTITUDE_THROW,
    snapshot_refs=[KEPT, f"snapshots/not-kept-{RUN}.jpg", "../../../etc/passwd.jpg"],
    floor=12,
    window_column=3,
)
PASSAGE = VehiclePassage(
    **_event_base(f"passage-{RUN}", 2),
    plate="鄂A12345",
    plate_colour=PlateColour.BLUE,
    direction=Direction.IN,
    gate_id="g1",
    camera_id="cam-g1",
    confidence=0.97,
    snapshot_ref=f"snapshots/passage-{RUN}.jpg",
)
FACES = [
    FaceCapture(
        **_event_base(f"face-{RUN}-{n}", 3),
        camera_id="cam-fence-1",
        embedding=[1.0] + [0.0] * 127,
        quality=0.8,
        bbox=BoundingBox(x=1, y=1, width=20, height=20),
        crop_ref=crop,
    )
    for n, crop in enumerate([f"crops/face-{RUN}.jpg", None])
]
READINGS = [
    DeviceTelemetry(
        **_event_base(f"{device}@{minutes}", minutes),
        device_id=device,
        device_kind=DeviceKind.CHARGING_SHED,
        metrics={"temperature_c": temperature, "current_a": 3.0},
    )
    for device, minutes, temperature in [
        (SLOT, -120, 25.0),
        (SLOT, 0, 31.0),
        (SLOT, 5, 48.5),
        (SLOT, 10, 71.0),
        (f"shed-{RUN}-slot4", 5, 99.0),
    ]
]


def _alert(
    name: str,
    alert_type: AlertType,
    subject_kind: SubjectKind,
    subject: str,
    evidence: list[Event],
    minutes: float,
) -> Alert:
    at = T0 + timedelta(minutes=minutes)
    return Alert(
        alert_id=f"{name}-{RUN}",
        alert_type=alert_type,
        severity=Severity.CRITICAL,
        community_id="c01",
        subject_kind=subject_kind,
        subject=subject,
        first_seen=at,
        last_seen=at,
        explanation=name,
        evidence=[
            Evidence(
                event_id=e.event_id,
                event_kind=e.kind,
                occurred_at=e.occurred_at,
                summary=f"{e.kind} {e.event_id}",
            )
            for e in evidence
        ],
        raised_at=at,
        updated_at=at,
        source_received_at=at,
    )


ALERTS = [
    _alert("throw", AlertType.HIGH_ALTITUDE_THROW, SubjectKind.CAMERA, "cam-facade-3", [THROW], 1),
    _alert("plate", AlertType.WATCHLIST_PLATE, SubjectKind.PLATE, "鄂A12345", [PASSAGE], 2),
    _alert("fence", AlertType.PERIMETER_INTRUSION, SubjectKind.FENCE_ZONE, "z1", FACES, 3),
    _alert("heat", AlertType.CHARGING_OVERHEAT, SubjectKind.SHED_SLOT, SLOT, READINGS[2:3], 10),
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The API reads snapshots under the configured data directory."""
    data_dir = tmp_path_factory.mktemp("evidence")
    (data_dir / "snapshots").mkdir()
    (data_dir / KEPT).write_bytes(JPEG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PINGAN_DATA_DIR", str(data_dir))
        get_settings.cache_clear()
        yield data_dir
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def warehouse(data_dir: Path) -> Iterator[EmbeddedWarehouse]:
    with prepared_warehouse(data_dir) as warehouse:
        insert_records(warehouse, "alerts", ALERTS)
        insert_records(warehouse, "camera_analytics", [THROW])
        insert_records(warehouse, "vehicle_passages", [PASSAGE])
        insert_records(warehouse, "face_captures", FACES)
        insert_records(warehouse, "device_telemetry", READINGS)
        yield warehouse


@pytest.fixture(scope="module")
async def api(warehouse: EmbeddedWarehouse, configured_kafka: str) -> AsyncIterator[Api]:
    async with running_api(warehouse, configured_kafka) as api:
        yield api


async def _detail(api: Api, name: str, who: Any = ADMIN) -> dict[str, Any]:
    data = await api.data(DETAIL, {"id": f"{name}-{RUN}"}, who)
    assert data["alert"] is not None, name
    return data["alert"]


async def test_a_throw_shows_its_floor_window_and_kept_frames(api: Api) -> None:
    for who in (ADMIN, C01_MANAGER):
        (evidence,) = (await _detail(api, "throw", who))["evidence"]
        assert (evidence["floor"], evidence["windowColumn"]) == (12, 3)
        kept, not_kept, outside = evidence["snapshots"]
        assert kept["ref"] == KEPT
        assert kept["image"] == "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
        assert not_kept["image"] is None
        assert outside["image"] is None, "a ref leading out of the data dir is never read"


async def test_a_plate_alert_names_its_snapshot(api: Api) -> None:
    (evidence,) = (await _detail(api, "plate"))["evidence"]
    assert evidence["snapshots"] == [{"ref": f"snapshots/passage-{RUN}.jpg", "image": None}]
    assert evidence["floor"] is None and evidence["cropUrl"] is None


async def test_fence_captures_link_their_crops_when_kept(api: Api) -> None:
    for who in (ADMIN, C01_OFFICER):
        with_crop, without = (await _detail(api, "fence", who))["evidence"]
        assert with_crop["cropUrl"] == f"/graphql/crops/face-{RUN}-0"
        assert without["cropUrl"] is None


async def test_an_overheat_draws_its_slot_temperatures_only(api: Api) -> None:
    alert = await _detail(api, "heat", C01_MANAGER)
    assert [r["temperatureC"] for r in alert["temperatureCurve"]] == [31.0, 48.5, 71.0]
    other = await _detail(api, "throw")
    assert other["temperatureCurve"] == []

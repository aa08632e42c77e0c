"""Face-snapshot uploads to a real `pingan worker` (embedded mode: real face models, Kafka,
chDB): decompression bombs are refused from their header, and a retried upload is stored
once, in ClickHouse's rows as well as on Kafka.

Posted over HTTP only, so the same tests ran against the code before these guards."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import clickhouse_connect
import cv2
import httpx
import pytest
from clickhouse_connect.driver.client import Client

from graphql_api.access import Role
from graphql_api.tokens import mint_token
from ingest.http.credentials import issue_key
from ingest.http.server import serve_webhooks
from ingest.vision.faces.service import started_for_uploads
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.stack.kafka import free_port
from schemas.credentials import CredentialScheme
from schemas.events import utc_now
from schemas.reference import Device, DeviceKind
from tests.conftest import WorkerProcess, eventually
from tests.integration.test_faces_kafka import _enrol

pytestmark = pytest.mark.integration

CAMERA = Device(
    device_id="c01-b05-u2-cam",
    community_id="c01",
    device_kind=DeviceKind.CAMERA,
    place="c01-b05-u2",
)
MARKER_PERSON = "p-biden"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + data))
    return struct.pack(">I", len(data)) + kind + data + crc


def bomb_png(width: int, height: int) -> bytes:
    """A few hundred bytes declaring width×height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = (b"\x00" * (1 + (width + 7) // 8)) * 64
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


class Uploads:
    """The worker's snapshot webhook, its SQL endpoint, and markers that prove the sink has
    written everything posted before them."""

    def __init__(self, worker: WorkerProcess, key: str, photos: dict[str, list[Path]]) -> None:
        self.worker = worker
        self.key = key
        self.photos = photos
        self.markers = 0
        settings = Settings(api_token_secret=worker.env["PINGAN_API_TOKEN_SECRET"])
        token = mint_token(settings, Role.DISTRICT_ADMIN, "test", None, timedelta(hours=1))
        self.sql: Client = clickhouse_connect.get_client(
            host="127.0.0.1", port=worker.sql_port, access_token=token, database="pingan"
        )

    def post(self, image: bytes, url: str | None = None, **fields: str) -> httpx.Response:
        base = url or f"http://127.0.0.1:{self.worker.api_port}"
        return httpx.post(
            f"{base}/ingest/v1/face-snapshots",
            files={"image": ("door.jpg", image, "image/jpeg")},
            data={"camera_id": CAMERA.device_id, **fields},
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=120,
        )

    def rows(self, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
        return self.sql.query(sql, parameters=parameters).result_rows

    def written_so_far(self) -> None:
        """Post a fresh photo of the marker person and wait until the sink wrote its capture
        and door rows: per topic a community's events share a partition, written in order."""
        self.markers += 1
        frame = cv2.imread(str(self.photos["biden"][1]))
        frame[0, : self.markers] = 255
        marker = cv2.imencode(".jpg", frame)[1].tobytes()
        assert self.post(marker).json()["published"] == 2

        def written(table: str, column: str) -> bool:
            sql = f"SELECT uniqExact(event_id) FROM {table} WHERE {column} = {{p:String}}"
            return self.rows(sql, p=MARKER_PERSON)[0][0] >= self.markers

        eventually(lambda: written("face_captures", "matched_person_id"), timeout=90)
        eventually(lambda: written("door_access", "person_id"), timeout=90)

    def stored(self, table: str, column: str, person: str) -> tuple[int, int]:
        """(rows under FINAL, distinct (event_id, occurred_at) in the raw rows)."""
        final = self.rows(
            f"SELECT count() FROM {table} FINAL WHERE {column} = {{p:String}}", p=person
        )
        raw = self.rows(
            f"SELECT uniqExact(event_id, occurred_at) FROM {table} WHERE {column} = {{p:String}}",
            p=person,
        )
        return final[0][0], raw[0][0]


@pytest.fixture(scope="module")
def uploads(
    kafka_bootstrap: str,
    face_model_dir: Path,
    face_photos: dict[str, list[Path]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Uploads]:
    issued = issue_key(CAMERA.device_id, CredentialScheme.BEARER, "test", utc_now())

    async def register() -> None:
        async with Publisher(kafka_bootstrap) as publisher:
            await publisher.publish_many([CAMERA, issued.credential])

    asyncio.run(register())
    enrolments = (("p-obama", "obama"), (MARKER_PERSON, "biden"), ("p-kit", "kit_harington"))
    for person, photos in enrolments:
        photo = face_photos[photos][0]
        enrolled = _enrol(kafka_bootstrap, face_model_dir, person, photo, "c01", "officer-1")
        assert enrolled.returncode == 0, enrolled.stderr
    worker = WorkerProcess(kafka_bootstrap, tmp_path_factory.mktemp("snapshots"), free_port())
    worker.env["PINGAN_FACE_MODEL_DIR"] = str(face_model_dir)
    worker.start()
    try:
        hooks = Uploads(worker, issued.key, face_photos)
        probe = face_photos["rose_leslie"][0].read_bytes()
        eventually(lambda: hooks.post(probe).status_code != 503, timeout=60)
        yield hooks
    finally:
        worker.stop()


def test_a_tiny_png_declaring_fifty_thousand_squared_is_refused_before_decoding(
    uploads: Uploads,
) -> None:
    bomb = bomb_png(50_000, 50_000)
    assert len(bomb) < 1000
    answer = uploads.post(bomb)
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"] == (
        "image: 50000×50000 pixels: a side is over 16384 pixels; send a smaller snapshot"
    )
    assert uploads.worker.process is not None and uploads.worker.process.poll() is None


def test_a_retried_snapshot_is_one_capture_and_one_door_access(uploads: Uploads) -> None:
    photo = uploads.photos["obama"][1].read_bytes()
    first = uploads.post(photo)
    assert first.json() == {"accepted": 2, "published": 2, "duplicates": 0}
    retry = uploads.post(photo)
    assert retry.status_code == 200, retry.text
    uploads.written_so_far()
    assert uploads.stored("face_captures", "matched_person_id", "p-obama") == (1, 1)
    assert uploads.stored("door_access", "person_id", "p-obama") == (1, 1)


async def test_a_retry_with_captured_at_on_another_ingest_process_collapses(
    uploads: Uploads, kafka_bootstrap: str, face_model_dir: Path, tmp_path: Path
) -> None:
    """Another process remembers nothing of the first upload and publishes again; the
    camera's capture time makes the copies the same rows, which ClickHouse collapses."""
    photo = uploads.photos["kit_harington"][1].read_bytes()
    taken = (utc_now() - timedelta(seconds=30)).isoformat()
    first = await asyncio.to_thread(uploads.post, photo, captured_at=taken)
    assert first.json()["published"] == 2
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path, face_model_dir=face_model_dir
    )
    faces = await started_for_uploads(settings)
    assert faces is not None
    runner = await serve_webhooks(settings, "127.0.0.1", 0, faces.upload)
    host, port = runner.addresses[0][:2]
    try:

        def elsewhere() -> httpx.Response:
            return uploads.post(photo, f"http://{host}:{port}", captured_at=taken)

        retry = await asyncio.to_thread(
            eventually, lambda: (a := elsewhere()).status_code != 503 and a, 60
        )
    finally:
        await runner.cleanup()
        await faces.stop()
    assert retry.json() == {"accepted": 2, "published": 2, "duplicates": 0}
    await asyncio.to_thread(uploads.written_so_far)
    assert uploads.stored("face_captures", "matched_person_id", "p-kit") == (1, 1)
    assert uploads.stored("door_access", "person_id", "p-kit") == (1, 1)

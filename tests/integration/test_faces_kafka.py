"""`pingan faces` on a real broker: enrol → gallery topic → identify, with the search logged;
a running face service sees a new enrolment and turns snapshots into events."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import cv2
import httpx
import numpy as np
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from ingest.http.credentials import issue_key
from ingest.http.server import serve_webhooks
from ingest.vision.faces.service import FaceService, started_for_uploads
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from schemas.codec import decode
from schemas.credentials import CredentialScheme
from schemas.events import DoorAccess, FaceCapture, utc_now
from schemas.faces import BiometricSearch, ResidentFace
from schemas.reference import Device, DeviceKind
from schemas.topics import BIOMETRIC_SEARCHES, DOOR_ACCESS, FACE_CAPTURES, FACE_GALLERY, Topic
from tests.conftest import REPO, eventually

pytestmark = pytest.mark.integration

FACES_CLI = "from ingest.vision.faces.cli import faces; faces()"


def _faces(bootstrap: str, model_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "PINGAN_FACE_MODEL_DIR": str(model_dir)}
    return subprocess.run(
        [sys.executable, "-c", FACES_CLI, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _enrol(
    bootstrap: str, model_dir: Path, person: str, photo: Path, community: str, operator: str
) -> subprocess.CompletedProcess[str]:
    """`pingan faces enroll`, as an operator would run it."""
    return _faces(
        bootstrap,
        model_dir,
        "enroll",
        "--person",
        person,
        "--image",
        str(photo),
        "--community",
        community,
        "--operator",
        operator,
    )


async def _read_all(bootstrap: str, topic: Topic) -> list[tuple[bytes | None, bytes | None]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        messages = []
        while any([await consumer.position(tp) < offset for tp, offset in end.items()]):
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                messages += [(m.key, m.value) for m in batch]
        return messages
    finally:
        await consumer.stop()


def test_enrol_then_identify_through_kafka_logs_the_search(
    kafka_bootstrap: str, face_model_dir: Path, face_photos: dict[str, list[Path]]
) -> None:
    enrolled = _enrol(
        kafka_bootstrap, face_model_dir, "p-obama", face_photos["obama"][0], "c01", "officer-7"
    )
    assert enrolled.returncode == 0, enrolled.stderr
    gallery = [
        decode(v, ResidentFace) for _, v in asyncio.run(_read_all(kafka_bootstrap, FACE_GALLERY))
    ]
    assert [(r.person_id, r.community_id, r.enrolled_by) for r in gallery] == [
        ("p-obama", "c01", "officer-7")
    ]

    identified = _faces(
        kafka_bootstrap,
        face_model_dir,
        "identify",
        "--image",
        str(face_photos["obama"][1]),
        "--json",
        "--operator",
        "officer-7",
        "--reason",
        "case 2026-114",
    )
    assert identified.returncode == 0, identified.stderr
    results = orjson.loads(identified.stdout)
    assert len(results) == 1
    assert results[0]["person_id"] == "p-obama" and 0.4 <= results[0]["score"] <= 1.0
    x1, y1, x2, y2 = results[0]["bbox"]
    assert x2 > x1 and y2 > y1

    searches = [
        decode(v, BiometricSearch)
        for _, v in asyncio.run(_read_all(kafka_bootstrap, BIOMETRIC_SEARCHES))
    ]
    assert [(s.operator, s.reason, s.faces, s.matched_person_ids) for s in searches] == [
        ("officer-7", "case 2026-114", 1, ["p-obama"])
    ]


def test_identify_of_a_garbage_file_is_a_clear_error(
    kafka_bootstrap: str, face_model_dir: Path, tmp_path: Path
) -> None:
    garbage = tmp_path / "photo.jpg"
    garbage.write_bytes(b"\xff\xd8 truncated")
    result = _faces(
        kafka_bootstrap, face_model_dir, "identify", "--image", str(garbage), "--operator", "o-1"
    )
    assert result.returncode == 2
    assert "cannot decode the image" in result.stderr and "Traceback" not in result.stderr


async def test_running_service_sees_a_new_enrolment_and_records_door_access(
    kafka_bootstrap: str, face_model_dir: Path, face_photos: dict[str, list[Path]], tmp_path: Path
) -> None:
    camera = Device(
        device_id="c02-b01-u1-cam",
        community_id="c02",
        device_kind=DeviceKind.CAMERA,
        place="c02-b01-u1",
    )
    async with Publisher(kafka_bootstrap) as publisher:
        await publisher.publish(camera)
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path, face_model_dir=face_model_dir
    )
    async with FaceService(settings) as service:
        before = len(service.gallery)
        enrolled = await asyncio.to_thread(
            _enrol,
            kafka_bootstrap,
            face_model_dir,
            "p-rose",
            face_photos["rose_leslie"][0],
            "c02",
            "officer-9",
        )
        assert enrolled.returncode == 0, enrolled.stderr
        await asyncio.to_thread(eventually, lambda: len(service.gallery) == before + 1, 30)

        image = face_photos["rose_leslie"][1].read_bytes()
        events = await service.snapshot(image, camera.device_id, datetime.now(UTC))
    kinds = sorted(
        (type(e).__name__, getattr(e, "matched_person_id", None) or getattr(e, "person_id", None))
        for e in events
    )
    assert kinds == [("DoorAccess", "p-rose"), ("FaceCapture", "p-rose")]
    assert all(isinstance(e, (FaceCapture, DoorAccess)) and e.community_id == "c02" for e in events)


async def test_snapshot_upload_through_the_webhook_identifies_the_resident(
    kafka_bootstrap: str, face_model_dir: Path, face_photos: dict[str, list[Path]], tmp_path: Path
) -> None:
    """The whole path a door camera uses: signed-in upload → real models → Kafka."""
    camera = Device(
        device_id="c03-b02-u1-cam",
        community_id="c03",
        device_kind=DeviceKind.CAMERA,
        place="c03-b02-u1",
    )
    issued = issue_key(camera.device_id, CredentialScheme.BEARER, "test", utc_now())
    async with Publisher(kafka_bootstrap) as publisher:
        await publisher.publish_many([camera, issued.credential])
    enrolled = await asyncio.to_thread(
        _enrol,
        kafka_bootstrap,
        face_model_dir,
        "p-biden",
        face_photos["biden"][0],
        "c03",
        "officer-3",
    )
    assert enrolled.returncode == 0, enrolled.stderr
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path, face_model_dir=face_model_dir
    )
    faces = await started_for_uploads(settings)
    assert faces is not None
    runner = await serve_webhooks(settings, "127.0.0.1", 0, faces.upload)
    host, port = runner.addresses[0][:2]
    try:
        async with httpx.AsyncClient(timeout=60) as http:

            async def upload() -> httpx.Response:
                return await http.post(
                    f"http://{host}:{port}/ingest/v1/face-snapshots",
                    files={"image": ("door.jpg", face_photos["biden"][1].read_bytes())},
                    data={"camera_id": camera.device_id},
                    headers={"Authorization": f"Bearer {issued.key}"},
                )

            answer = await upload()
            while answer.status_code == 503:  # credentials still loading: it says so
                answer = await upload()
    finally:
        await runner.cleanup()
        await faces.stop()
    assert answer.json() == {"accepted": 2, "published": 2, "duplicates": 0}
    captures = [decode(v, FaceCapture) for _, v in await _read_all(kafka_bootstrap, FACE_CAPTURES)]
    doors = [decode(v, DoorAccess) for _, v in await _read_all(kafka_bootstrap, DOOR_ACCESS)]
    assert [(c.camera_id, c.matched_person_id) for c in captures] == [(camera.device_id, "p-biden")]
    assert [(d.person_id, d.method, d.community_id) for d in doors] == [("p-biden", "face", "c03")]


def _walk(path: Path, photo: Path, frames: int = 10) -> None:
    """A face crossing a 640×360 scene left to right, as a door camera films it."""
    face = cv2.imread(str(photo))
    face = cv2.resize(face, None, fx=200 / face.shape[0], fy=200 / face.shape[0])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 360))
    for n in range(frames):
        scene = np.full((360, 640, 3), 90, np.uint8)
        x = 10 + n * (640 - face.shape[1] - 20) // (frames - 1)
        scene[80 : 80 + face.shape[0], x : x + face.shape[1]] = face
        writer.write(scene)
    writer.release()


async def test_watch_publishes_one_capture_per_person_per_camera(
    kafka_bootstrap: str, face_model_dir: Path, face_photos: dict[str, list[Path]], tmp_path: Path
) -> None:
    """`pingan faces watch` on two cameras at once: each walk past is one capture on Kafka."""
    cameras = [
        Device(
            device_id=f"c04-b01-u{unit}-cam",
            community_id="c04",
            device_kind=DeviceKind.CAMERA,
            place=f"c04-b01-u{unit}",
        )
        for unit in (1, 2)
    ]
    async with Publisher(kafka_bootstrap) as publisher:
        await publisher.publish_many(cameras)
    streams = []
    for camera, photo in zip(
        cameras, (face_photos["rose_leslie"][0], face_photos["biden"][1]), strict=True
    ):
        video = tmp_path / f"{camera.device_id}.avi"
        _walk(video, photo)
        streams += ["--stream", f"{camera.device_id}={video}"]

    watched = await asyncio.to_thread(_faces, kafka_bootstrap, face_model_dir, "watch", *streams)

    assert watched.returncode == 0, watched.stderr
    assert "published 2 events" in watched.stdout
    captures = [decode(v, FaceCapture) for _, v in await _read_all(kafka_bootstrap, FACE_CAPTURES)]
    mine = sorted(c.camera_id for c in captures if c.community_id == "c04")
    assert mine == sorted(c.device_id for c in cameras)

"""The face pipeline on the real models and photos of ../shared (skipped when absent)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from ingest.vision.faces.analysis import FaceAnalyser
from ingest.vision.faces.captures import CaptureRecorder, CropStore, UnknownCamera
from ingest.vision.faces.gallery import Gallery
from ingest.vision.faces.images import UnreadableImage
from ingest.vision.faces.pack import ModelPack, load_pack
from ingest.vision.faces.search import (
    EnrolmentError,
    enrolment_face,
    identify_faces,
    resident_face,
)
from ingest.vision.faces.service import FaceService
from ingest.vision.faces.video import VideoAnalysis, VideoUnavailable, analyse_file, read_frames
from pingan.platform.settings import Settings
from schemas.codec import encode
from schemas.events import AccessMethod, DoorAccess, FaceCapture
from schemas.reference import Device, DeviceKind
from schemas.topics import DEVICES

AT = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
DOOR_CAMERA = Device(
    device_id="c01-b03-u2-cam",
    community_id="c01",
    device_kind=DeviceKind.CAMERA,
    place="c01-b03-u2",
)


@pytest.fixture(scope="module")
def pack(face_model_dir: Path) -> ModelPack:
    return load_pack(face_model_dir, threads=2)


@pytest.fixture(scope="module")
def analyser(pack: ModelPack) -> FaceAnalyser:
    return FaceAnalyser(pack)


def _enrol_first_photos(
    pack: ModelPack, analyser: FaceAnalyser, photos: dict[str, list[Path]]
) -> Gallery:
    gallery = Gallery(pack.model_id, pack.dims)
    for person, paths in photos.items():
        face = enrolment_face(analyser, cv2.imread(str(paths[0])))
        record = resident_face(pack, person, "c01", face, "test")
        gallery.apply(record.face_id, record)
    return gallery


def test_pack_is_found_by_model_kind_with_its_threshold(pack: ModelPack) -> None:
    assert type(pack.detector).__name__ == "SCRFD"
    assert type(pack.recogniser).__name__ == "ArcFaceONNX"
    assert (pack.dims, pack.config.match_threshold) == (128, 0.4)


def test_every_other_photo_is_its_person_and_nobody_else(
    pack: ModelPack, analyser: FaceAnalyser, face_photos: dict[str, list[Path]]
) -> None:
    gallery = _enrol_first_photos(pack, analyser, face_photos)
    assert len(gallery) == len(face_photos) == 5
    checked = 0
    for person, paths in face_photos.items():
        for path in paths[1:]:
            found = identify_faces(analyser, gallery, cv2.imread(str(path)))
            named = [f.person_id for f in found if f.person_id is not None]
            assert named == [person], f"{path}: {[(f.person_id, f.score) for f in found]}"
            checked += 1
    assert checked == 4


def test_strangers_are_not_named(
    pack: ModelPack, analyser: FaceAnalyser, face_photos: dict[str, list[Path]]
) -> None:
    """Each person's second photo against a gallery of everybody else: nobody is named."""
    for person, paths in face_photos.items():
        others = {p: ps for p, ps in face_photos.items() if p != person}
        gallery = _enrol_first_photos(pack, analyser, others)
        for path in paths:
            found = identify_faces(analyser, gallery, cv2.imread(str(path)))
            assert found and all(f.person_id is None for f in found), path
            assert all(0.0 <= f.score < pack.config.match_threshold for f in found)


def test_enrolment_refuses_a_photo_without_a_face(analyser: FaceAnalyser) -> None:
    blank = np.full((480, 640, 3), 128, np.uint8)
    with pytest.raises(EnrolmentError, match="no face"):
        enrolment_face(analyser, blank)


def _service(tmp_path: Path, pack: ModelPack) -> FaceService:
    service = FaceService(Settings(data_dir=tmp_path), pack)
    service.reference.apply(DEVICES.name, DOOR_CAMERA.device_id.encode(), encode(DOOR_CAMERA))
    return service


def test_garbage_and_truncated_snapshots_are_clear_errors(
    tmp_path: Path, pack: ModelPack, face_photos: dict[str, list[Path]]
) -> None:
    service = _service(tmp_path, pack)
    photo = face_photos["obama"][0].read_bytes()
    for bad in (b"", b"\x00garbage" * 100, photo[: len(photo) // 2]):
        with pytest.raises(UnreadableImage, match="image"):
            service.snapshot_events(bad, DOOR_CAMERA.device_id, AT)
    with pytest.raises(UnknownCamera, match="nope-cam"):
        service.snapshot_events(photo, "nope-cam", AT)


def test_resident_at_a_unit_door_camera_is_a_capture_and_a_face_door_access(
    tmp_path: Path, pack: ModelPack, analyser: FaceAnalyser, face_photos: dict[str, list[Path]]
) -> None:
    service = _service(tmp_path, pack)
    record = resident_face(
        pack,
        "obama",
        "c01",
        enrolment_face(analyser, cv2.imread(str(face_photos["obama"][0]))),
        "t",
    )
    service.gallery.apply(record.face_id, record)

    events = service.snapshot_events(
        face_photos["obama"][1].read_bytes(), DOOR_CAMERA.device_id, AT
    )
    captures = [e for e in events if isinstance(e, FaceCapture)]
    doors = [e for e in events if isinstance(e, DoorAccess)]
    assert len(captures) == 1 and captures[0].matched_person_id == "obama"
    assert len(captures[0].embedding) == 128 and 0.5 <= captures[0].quality <= 1.0
    assert (tmp_path / captures[0].crop_ref).stat().st_size < 30_000
    assert len(doors) == 1
    assert (doors[0].door_id, doors[0].method, doors[0].person_id, doors[0].granted) == (
        "c01-b03-u2",
        AccessMethod.FACE,
        "obama",
        True,
    )
    retry = service.snapshot_events(face_photos["obama"][1].read_bytes(), DOOR_CAMERA.device_id, AT)
    assert [e.event_id for e in retry] == [e.event_id for e in events]


def test_unknown_face_is_a_capture_without_a_person_and_no_door_access(
    tmp_path: Path, pack: ModelPack, face_photos: dict[str, list[Path]]
) -> None:
    service = _service(tmp_path, pack)
    events = service.snapshot_events(
        face_photos["biden"][0].read_bytes(), DOOR_CAMERA.device_id, AT
    )
    assert len(events) == 1
    assert isinstance(events[0], FaceCapture) and events[0].matched_person_id is None


def test_concurrent_uploads_give_the_events_of_uploads_one_by_one(
    tmp_path: Path, pack: ModelPack, analyser: FaceAnalyser, face_photos: dict[str, list[Path]]
) -> None:
    service = _service(tmp_path, pack)
    service.gallery = _enrol_first_photos(pack, analyser, face_photos)
    service.recorder.gallery = service.gallery
    uploads = [p.read_bytes() for paths in face_photos.values() for p in paths[1:]]

    def summary(events: list) -> list[tuple[str, str | None]]:
        return [
            (e.event_id, getattr(e, "person_id", getattr(e, "matched_person_id", None)))
            for e in events
        ]

    one_by_one = [summary(service.snapshot_events(u, DOOR_CAMERA.device_id, AT)) for u in uploads]

    async def at_once() -> list[list]:
        return await asyncio.gather(
            *(service.snapshot(u, DOOR_CAMERA.device_id, AT) for u in uploads)
        )

    assert service.settings.face_workers >= 2
    assert [summary(events) for events in asyncio.run(at_once())] == one_by_one
    assert sum(person is not None for events in one_by_one for _, person in events) == 2 * len(
        uploads
    )


def _walk_past(path: Path, photo: Path, frames: int, sharp_frame: int) -> list[tuple[int, int]]:
    """A face crossing a 640×360 scene left to right, blurred except in one frame; returns
    where the face was pasted in each frame."""
    face = cv2.imread(str(photo))
    scale = 220 / face.shape[0]
    face = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    height, width = face.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 360))
    positions = []
    for n in range(frames):
        scene = np.full((360, 640, 3), 90, np.uint8)
        x, y = 10 + n * (640 - width - 20) // (frames - 1), 70
        scene[y : y + height, x : x + width] = (
            face if n == sharp_frame else cv2.GaussianBlur(face, (0, 0), 3.5)
        )
        writer.write(scene)
        positions.append((x, y))
    writer.release()
    return positions


def test_one_person_walking_past_a_camera_is_one_capture_from_the_best_frame(
    tmp_path: Path, pack: ModelPack, analyser: FaceAnalyser, face_photos: dict[str, list[Path]]
) -> None:
    video = tmp_path / "walk.avi"
    positions = _walk_past(video, face_photos["rose_leslie"][0], frames=12, sharp_frame=7)
    recorder = CaptureRecorder(
        Gallery(pack.model_id, pack.dims),
        _service(tmp_path, pack).reference,
        CropStore(tmp_path),
        pack.config,
    )
    analysis = VideoAnalysis(analyser, recorder, [DOOR_CAMERA], timedelta(seconds=1))
    events = analyse_file(analysis, DOOR_CAMERA.device_id, str(video), fps=10, started_at=AT)

    assert analysis.frames == 12 and analysis.faces >= 10
    assert len(events) == 1 and isinstance(events[0], FaceCapture)
    assert events[0].occurred_at == AT + timedelta(milliseconds=700)
    x, _ = positions[7]
    assert x <= events[0].bbox.x <= x + 220


def test_streams_analysed_in_parallel_each_give_their_one_capture(
    tmp_path: Path, pack: ModelPack, face_photos: dict[str, list[Path]]
) -> None:
    video = tmp_path / "walk.avi"
    _walk_past(video, face_photos["rose_leslie"][0], frames=12, sharp_frame=7)
    second = DOOR_CAMERA.model_copy(update={"device_id": "c01-b03-u3-cam", "place": "c01-b03-u3"})
    service = _service(tmp_path, pack)
    service.reference.apply(DEVICES.name, second.device_id.encode(), encode(second))
    cameras = [DOOR_CAMERA, second]
    analysis = VideoAnalysis(
        service.analyser, service.recorder, cameras, timedelta(seconds=1), service.analyse_all
    )
    events = []
    for frame in read_frames(DOOR_CAMERA.device_id, str(video), fps=10, started_at=AT):
        events += analysis.round([replace(frame, camera_id=c.device_id) for c in cameras])
    for camera in cameras:
        events += analysis.finish(camera.device_id)

    assert analysis.frames == 24
    assert sorted(e.camera_id for e in events) == sorted(c.device_id for c in cameras)
    assert {e.occurred_at for e in events} == {AT + timedelta(milliseconds=700)}


def test_garbage_video_is_a_clear_error(
    tmp_path: Path, pack: ModelPack, analyser: FaceAnalyser
) -> None:
    video = tmp_path / "garbage.avi"
    video.write_bytes(b"\x00not a video" * 1000)
    recorder = CaptureRecorder(
        Gallery(pack.model_id, pack.dims),
        _service(tmp_path, pack).reference,
        CropStore(tmp_path),
        pack.config,
    )
    analysis = VideoAnalysis(analyser, recorder, [DOOR_CAMERA], timedelta(seconds=1))
    with pytest.raises(VideoUnavailable, match=r"garbage\.avi"):
        analyse_file(analysis, DOOR_CAMERA.device_id, str(video), fps=10, started_at=AT)

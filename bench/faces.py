"""Face pipeline throughput next to the raw onnxruntime model rate, measured in the same run.

    .venv/bin/python -m bench.faces [--seconds 10]

- door-camera crops: 224×224 snapshots (one face each) through the whole snapshot path
  (JPEG decode, detection, alignment, quality, embedding, gallery match, crop write);
  target ≥ 50 faces/s.
- raw model rate: the same detector and recogniser sessions run on ready-made input
  tensors of the same shapes, nothing else; target: pipeline ≥ 0.8 of it.
- video: 640×360 frames of a face walking past, through detection, embedding and tracking.

Uses the model pack of PINGAN_FACE_MODEL_DIR (default ../shared/models/face) and the photos
of ../shared/data/faces; threads per model: PINGAN_FACE_THREADS. JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from ingest.vision.faces.analysis import FaceAnalyser, detector_input
from ingest.vision.faces.captures import CaptureRecorder, CropStore
from ingest.vision.faces.gallery import Gallery
from ingest.vision.faces.pack import ModelPack, load_pack
from ingest.vision.faces.service import FaceService
from ingest.vision.faces.video import VideoAnalysis, analyse_file
from pingan.settings import Settings, get_settings
from schemas.codec import encode
from schemas.reference import Device, DeviceKind
from schemas.topics import DEVICES

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
CROP = 224
CAMERA = Device(
    device_id="c01-b01-u1-cam",
    community_id="c01",
    device_kind=DeviceKind.CAMERA,
    place="c01-b01-u1",
)


def rate(work: Callable[[], int], seconds: float) -> float:
    """Items per second of `work` (which returns how many items it did), after a warm-up."""
    work()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += work()
    return done / (time.perf_counter() - start)


def door_crops(analyser: FaceAnalyser) -> list[bytes]:
    """A JPEG of each sample face as a door camera sends it: the face and some margin."""
    crops = []
    for path in sorted(PHOTOS.glob("*/*.jpg")):
        image = cv2.imread(str(path))
        x1, y1, x2, y2 = analyser.detect(image)[0].box.astype(int)
        side = int(max(x2 - x1, y2 - y1) * 1.5)
        cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
        top, left = max(0, cy - side // 2), max(0, cx - side // 2)
        crop = cv2.resize(image[top : top + side, left : left + side], (CROP, CROP))
        crops.append(cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return crops


def raw_model_rate(pack: ModelPack, seconds: float) -> float:
    """Faces/s of the bare sessions: one detector run at the crop's input size plus one
    recogniser run per face, on prepared tensors."""
    width, height = detector_input(CROP, CROP, pack.config.det_size)
    detector = pack.detector._session_for_input_size((width, height))  # the pipeline's own
    det_input = {pack.detector.input_name: np.random.rand(1, 3, height, width).astype(np.float32)}
    side = pack.recogniser.input_size[0]
    rec_input = {pack.recogniser.input_name: np.random.rand(1, 3, side, side).astype(np.float32)}
    recogniser = pack.recogniser.session

    def one_face() -> int:
        detector.run(pack.detector.output_names, det_input)
        recogniser.run(pack.recogniser.output_names, rec_input)
        return 1

    return rate(one_face, seconds)


def walking_video(path: Path, frames: int = 50) -> None:
    face = cv2.imread(str(next(iter(sorted(PHOTOS.glob("*/*.jpg"))))))
    face = cv2.resize(face, None, fx=200 / face.shape[0], fy=200 / face.shape[0])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 360))
    for n in range(frames):
        scene = np.full((360, 640, 3), 90, np.uint8)
        x = 10 + n * (640 - face.shape[1] - 20) // (frames - 1)
        scene[80 : 80 + face.shape[0], x : x + face.shape[1]] = face
        writer.write(scene)
    writer.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    settings = get_settings()
    pack = load_pack(settings.face_model_dir, settings.face_threads)
    analyser = FaceAnalyser(pack)
    crops = door_crops(analyser)
    at = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        service = FaceService(Settings(data_dir=Path(tmp)), pack)
        service.reference.apply(DEVICES.name, CAMERA.device_id.encode(), encode(CAMERA))

        def snapshots() -> int:
            return sum(len(service.snapshot_events(c, CAMERA.device_id, at)) > 0 for c in crops)

        raw = raw_model_rate(pack, args.seconds)
        pipeline = rate(snapshots, args.seconds)
        video = Path(tmp) / "walk.avi"
        walking_video(video)
        recorder = CaptureRecorder(
            Gallery(pack.model_id, pack.dims),
            service.reference,
            CropStore(Path(tmp), 90),
            pack.config,
        )

        def video_frames() -> int:
            analysis = VideoAnalysis(analyser, recorder, [CAMERA], timedelta(seconds=1))
            analyse_file(analysis, CAMERA.device_id, str(video), fps=25, started_at=at)
            return analysis.frames

        frames = rate(video_frames, args.seconds)
    report = {
        "at": at.isoformat(),
        "pack": pack.config.name,
        "threads": settings.face_threads,
        "door_crop_px": CROP,
        "door_crops_faces_per_s": round(pipeline, 1),
        "raw_model_faces_per_s": round(raw, 1),
        "ratio_to_raw": round(pipeline / raw, 3),
        "video_640x360_frames_per_s": round(frames, 1),
        "targets": {"faces_per_s": 50, "ratio_to_raw": 0.8},
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"faces-{at:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()

"""Face pipeline throughput next to the raw onnxruntime model rate, measured in the same run.

    .venv/bin/python -m bench.faces [--seconds 10]

Two layouts of the same models, each measured whole and raw:
- spread: one analysis at a time, each model run on every core (intra-op threads) — the
  layout before PINGAN_FACE_WORKERS;
- per core: PINGAN_FACE_WORKERS analyses at once (default cores + 1), each model run
  single-threaded (PINGAN_FACE_THREADS) — the shipped default.

- door-camera crops: 224×224 snapshots (one face each) through the whole upload path
  (`FaceService.snapshot`: JPEG decode, detection, alignment, quality, embedding, gallery
  match, crop write), kept in flight as a busy webhook would; target ≥ 50 faces/s.
- raw model rate: the same detector and recogniser sessions run on ready-made input
  tensors of the same shapes, as many runs at once as the layout has (at most one per core:
  the bare models' best); target: pipeline ≥ 0.8 of it.
- video: 640×360 frames of a face walking past, one stream per worker, through analysis
  and tracking (`VideoAnalysis.round`).

Uses the model pack of PINGAN_FACE_MODEL_DIR (default ../shared/models/face) and the photos
of ../shared/data/faces. JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from ingest.vision.faces.analysis import FaceAnalyser, detector_input
from ingest.vision.faces.pack import ModelPack, load_pack
from ingest.vision.faces.service import FaceService
from ingest.vision.faces.video import VideoAnalysis, read_frames
from pingan.platform.settings import Settings, get_settings
from schemas.codec import encode
from schemas.reference import Device, DeviceKind
from schemas.topics import DEVICES

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
CROP = 224


def camera(unit: int) -> Device:
    return Device(
        device_id=f"c01-b01-u{unit}-cam",
        community_id="c01",
        device_kind=DeviceKind.CAMERA,
        place=f"c01-b01-u{unit}",
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


def raw_model_rate(pack: ModelPack, runs_at_once: int, seconds: float) -> float:
    """Faces/s of the bare sessions: one detector run at the crop's input size plus one
    recogniser run per face, on prepared tensors, `runs_at_once` threads at a time."""
    width, height = detector_input(CROP, CROP, pack.config.det_size)
    detector = pack.detector._session_for_input_size((width, height))  # the pipeline's own
    det_input = {pack.detector.input_name: np.random.rand(1, 3, height, width).astype(np.float32)}
    side = pack.recogniser.input_size[0]
    rec_input = {pack.recogniser.input_name: np.random.rand(1, 3, side, side).astype(np.float32)}
    recogniser = pack.recogniser.session

    def faces(count: int) -> int:
        for _ in range(count):
            detector.run(pack.detector.output_names, det_input)
            recogniser.run(pack.recogniser.output_names, rec_input)
        return count

    with ThreadPoolExecutor(runs_at_once) as runs:
        return rate(lambda: sum(runs.map(faces, [8] * runs_at_once)), seconds)


def snapshot_rate(service: FaceService, crops: list[bytes], seconds: float) -> float:
    """Faces/s of uploads through `FaceService.snapshot`, a round of uploads in flight."""
    at = datetime.now(UTC)
    device_id = camera(1).device_id

    async def uploads() -> int:
        events = await asyncio.gather(*(service.snapshot(c, device_id, at) for c in crops * 8))
        return sum(len(e) > 0 for e in events)

    with asyncio.Runner() as loop:
        return rate(lambda: loop.run(uploads()), seconds)


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


def video_rate(service: FaceService, video: Path, streams: int, seconds: float) -> float:
    """Frames/s of `streams` cameras watching the same walk, a frame of each per round."""
    at = datetime.now(UTC)
    cameras = [camera(n + 1) for n in range(streams)]
    frames = list(read_frames(cameras[0].device_id, str(video), fps=25, started_at=at))

    def watch_once() -> int:
        analysis = VideoAnalysis(
            service.analyser, service.recorder, cameras, timedelta(seconds=1), service.analyse_all
        )
        for frame in frames:
            analysis.round([replace(frame, camera_id=c.device_id) for c in cameras])
        for c in cameras:
            analysis.finish(c.device_id)
        return analysis.frames

    return rate(watch_once, seconds)


def layout(
    pack_dir: Path, threads: int, workers: int, crops: list[bytes], video: Path, seconds: float
) -> dict[str, float | int]:
    """The pipeline's, the raw models' and the video's rates with this many threads per model
    run and analyses at once."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), face_threads=threads, face_workers=workers)
        service = FaceService(settings, load_pack(pack_dir, threads))
        for n in range(workers):
            device = camera(n + 1)
            service.reference.apply(DEVICES.name, device.device_id.encode(), encode(device))
        raw = raw_model_rate(service.pack, min(workers, os.cpu_count() or 1), seconds)
        pipeline = snapshot_rate(service, crops, seconds)
        frames = video_rate(service, video, workers, seconds)
    return {
        "threads_per_model_run": threads,
        "analyses_at_once": workers,
        "door_crops_faces_per_s": round(pipeline, 1),
        "raw_model_faces_per_s": round(raw, 1),
        "ratio_to_raw": round(pipeline / raw, 3),
        "video_640x360_frames_per_s": round(frames, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    settings = get_settings()
    cores = os.cpu_count() or 1
    crops = door_crops(FaceAnalyser(load_pack(settings.face_model_dir)))
    at = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "walk.avi"
        walking_video(video)
        spread = layout(settings.face_model_dir, cores, 1, crops, video, args.seconds)
        shipped = layout(
            settings.face_model_dir,
            settings.face_threads,
            settings.face_workers,
            crops,
            video,
            args.seconds,
        )
    report = {
        "at": at.isoformat(),
        "cores": cores,
        "door_crop_px": CROP,
        "spread": spread,
        "per_core": shipped,
        "per_core_vs_spread_faces": round(
            shipped["door_crops_faces_per_s"] / spread["door_crops_faces_per_s"], 2
        ),
        "targets": {"faces_per_s": 50, "ratio_to_raw": 0.8},
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"faces-{at:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()

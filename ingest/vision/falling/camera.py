"""A facade camera's video loop: frames → throws → camera-analytics events through the
Publisher, with two small annotated JPEG snapshots per throw under the data dir (never
video: a facade shows people's windows)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from ingest.vision.falling.calibration import FacadeCalibration
from ingest.vision.falling.detector import Throw, ThrowDetector
from ingest.vision.falling.video import VideoReader
from pingan.platform.publisher import Publisher
from schemas.events import CameraAnalytics, CameraAnalyticsKind, TrajectoryPoint, utc_now

SNAPSHOT_DIR = Path("snapshots") / "falling"
"""Under the data dir; `snapshot_refs` are paths relative to the data dir."""


@dataclass(frozen=True)
class FacadeCamera:
    camera_id: str
    community_id: str
    calibration: FacadeCalibration


class ThrowReporter:
    """Turns a camera's throws into records, writing their snapshots first."""

    def __init__(self, camera: FacadeCamera, data_dir: Path, started_at: datetime) -> None:
        self.camera = camera
        self.data_dir = data_dir
        self.started_at = started_at
        self._folder = SNAPSHOT_DIR / re.sub(r"[^A-Za-z0-9_.-]", "_", camera.camera_id)

    def records(self, throws: list[Throw]) -> list[CameraAnalytics]:
        return [self.record(throw) for throw in throws]

    def record(self, throw: Throw) -> CameraAnalytics:
        fall = throw.fall
        occurred_at = self.started_at + timedelta(seconds=fall.release_s)
        event_id = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"pingan:throw:{self.camera.camera_id}:{occurred_at}")
        )
        return CameraAnalytics(
            event_id=event_id,
            community_id=self.camera.community_id,
            occurred_at=occurred_at,
            received_at=utc_now(),
            camera_id=self.camera.camera_id,
            analytics_kind=CameraAnalyticsKind.HIGH_ALTITUDE_THROW,
            snapshot_refs=self._write_snapshots(event_id, throw.snapshots),
            confidence=fall.confidence,
            floor=fall.floor,
            window_column=fall.window_column,
            trajectory=[
                TrajectoryPoint(t_s=round(t - fall.release_s, 3), x=round(x, 1), y=round(y, 1))
                for t, x, y in fall.points
            ],
        )

    def _write_snapshots(self, event_id: str, images: tuple[np.ndarray, ...]) -> list[str]:
        written = write_snapshots(self.data_dir / self._folder, event_id, images)
        return [path.relative_to(self.data_dir).as_posix() for path in written]


def write_snapshots(folder: Path, stem: str, images: tuple[np.ndarray, ...]) -> list[Path]:
    """Small JPEGs `<stem>-0.jpg`, `<stem>-1.jpg`… in `folder`; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, image in enumerate(images):
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            path = folder / f"{stem}-{i}.jpg"
            path.write_bytes(jpeg.tobytes())
            written.append(path)
    return written


def _advance(
    detector: ThrowDetector, frames: Iterator[tuple[np.ndarray, float]], count: int
) -> tuple[list[Throw], bool]:
    """Up to `count` frames through the detector; False once the video has ended."""
    throws: list[Throw] = []
    for _ in range(count):
        item = next(frames, None)
        if item is None:
            throws.extend(detector.finish())
            return throws, False
        throws.extend(detector.feed(*item))
    return throws, True


async def watch_facade(
    source: str | Path,
    camera: FacadeCamera,
    publisher: Publisher,
    data_dir: Path,
    snapshot_width: int = 480,
    started_at: datetime | None = None,
    chunk_frames: int = 25,
) -> int:
    """Analyse a stream (RTSP URL) or file until it ends; returns the throws published.

    Frames are decoded and analysed in a worker thread, a chunk at a time, so the event
    loop (and the Publisher) stays responsive. Event time is `started_at` (default: now)
    plus the frame's offset in the video. Raises VideoError if the source cannot be read;
    a stream that breaks off has published every throw seen before.
    """
    reader = VideoReader(source)
    detector = ThrowDetector(camera.calibration, snapshot_width=snapshot_width)
    reporter = ThrowReporter(camera, data_dir, started_at or utc_now())
    frames = iter(reader)
    published = 0
    more = True
    while more:
        throws, more = await asyncio.to_thread(_advance, detector, frames, chunk_frames)
        if throws:
            records = await asyncio.to_thread(reporter.records, throws)
            published += await publisher.publish_many(records)
    reader.check_complete()
    return published

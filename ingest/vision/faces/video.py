"""Video streams → face captures: OpenCV reads each stream (file or RTSP URL) on its own
thread, frames are sampled at PINGAN_FACE_VIDEO_FPS, and every round takes the latest
frame of each stream through the models (the frames in parallel) and the trackers.

Only the events and small face crops leave this module: frames are never written.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import cv2
import numpy as np

from ingest.vision.faces.analysis import AnalysedFace, FaceAnalyser
from ingest.vision.faces.captures import CaptureRecorder
from ingest.vision.faces.service import FaceService
from ingest.vision.faces.tracking import FaceTracker
from pingan.platform.publisher import Publisher
from schemas.events import Event, utc_now
from schemas.reference import Device

log = logging.getLogger(__name__)

RECONNECT_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)


class VideoUnavailable(RuntimeError):
    """A stream or file OpenCV cannot open or read (missing, garbage, unreachable)."""


@dataclass(frozen=True)
class Frame:
    camera_id: str
    at: datetime
    image: np.ndarray


def is_live(source: str) -> bool:
    return "://" in source


def read_frames(
    camera_id: str, source: str, fps: float, started_at: datetime | None = None
) -> Iterator[Frame]:
    """Frames at most `fps` per second of the stream. A file's frames are timed from
    `started_at` (default now) by their position; a live stream's by the clock."""
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise VideoUnavailable(f"cannot open video {source!r} for camera {camera_id}")
    start = started_at or utc_now()
    live = is_live(source)
    interval = timedelta(seconds=1.0 / fps)
    last: datetime | None = None
    frames = 0
    try:
        while capture.grab():
            frames += 1
            at = (
                utc_now()
                if live
                else start + timedelta(milliseconds=capture.get(cv2.CAP_PROP_POS_MSEC))
            )
            if last is not None and at - last < interval:
                continue
            ok, image = capture.retrieve()
            if not ok or image is None:
                continue
            last = at
            yield Frame(camera_id, at, image)
    finally:
        capture.release()
    if frames == 0:
        raise VideoUnavailable(f"no frame could be read from {source!r} (camera {camera_id})")


class VideoAnalysis:
    """Trackers of several streams, fed a round of frames at a time."""

    def __init__(
        self,
        analyser: FaceAnalyser,
        recorder: CaptureRecorder,
        cameras: Sequence[Device],
        gap: timedelta,
        analyse_all: Callable[[Sequence[np.ndarray]], list[list[AnalysedFace]]] | None = None,
    ) -> None:
        self.analyser = analyser
        self.analyse_all = analyse_all or (lambda images: [analyser.analyse(i) for i in images])
        """How a round's frames are analysed: in turn, or in parallel (FaceService.analyse_all)."""
        self.recorder = recorder
        self.cameras = {c.device_id: c for c in cameras}
        similarity = analyser.config.match_threshold
        self.trackers = {
            c.device_id: FaceTracker(f"{c.device_id}|{utc_now().isoformat()}", similarity, gap)
            for c in cameras
        }
        self.frames = 0
        self.faces = 0

    def round(self, frames: Sequence[Frame]) -> list[Event]:
        """Analyse a frame of each stream, advance the trackers, record the faces that passed."""
        analysed = self.analyse_all([frame.image for frame in frames])
        events: list[Event] = []
        for frame, faces in zip(frames, analysed, strict=True):
            passed = self.trackers[frame.camera_id].update(frame.at, faces, frame.image)
            events += self.recorder.records(self.cameras[frame.camera_id], passed)
        self.frames += len(frames)
        self.faces += sum(len(faces) for faces in analysed)
        return events

    def finish(self, camera_id: str) -> list[Event]:
        passed = self.trackers[camera_id].finish()
        return self.recorder.records(self.cameras[camera_id], passed)


def analyse_file(
    analysis: VideoAnalysis, camera_id: str, path: str, fps: float, started_at: datetime
) -> list[Event]:
    """A whole video file through one stream's tracker (tests and the benchmark)."""
    events: list[Event] = []
    for frame in read_frames(camera_id, path, fps, started_at):
        events += analysis.round([frame])
    return events + analysis.finish(camera_id)


class StreamReader:
    """One stream's frames on a thread; keeps only the latest for a live stream (the
    analysis takes what it can), but every sampled frame of a file (it waits)."""

    def __init__(self, camera_id: str, source: str, fps: float) -> None:
        self.camera_id = camera_id
        self.source = source
        self.fps = fps
        self.live = is_live(source)
        self._latest: list[Frame] = []
        self._ready = threading.Condition()
        self._stopping = threading.Event()
        self.ended = False
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"video-{camera_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._ready:
            self._ready.notify_all()
        self._thread.join(timeout=5)

    @property
    def drained(self) -> bool:
        """The stream ended and its last frame has been taken."""
        with self._ready:
            return self.ended and not self._latest

    def take(self) -> Frame | None:
        with self._ready:
            return self._latest.pop(0) if self._latest else None

    def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                for frame in read_frames(self.camera_id, self.source, self.fps):
                    attempt = 0
                    self._offer(frame)
                    if self._stopping.is_set():
                        break
            except VideoUnavailable as exc:
                self.error = str(exc)
                log.error("%s", exc)
            if not self.live:
                break
            delay = RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)]
            attempt += 1
            log.warning("stream of %s ended; reconnecting in %.0fs", self.camera_id, delay)
            self._stopping.wait(delay)
        with self._ready:
            self.ended = True
            self._ready.notify_all()

    def _offer(self, frame: Frame) -> None:
        with self._ready:
            if self.live:
                self._latest = [frame]
            else:
                while self._latest and not self._stopping.is_set():
                    self._ready.wait(0.5)
                self._latest.append(frame)
            self._ready.notify_all()


async def watch(service: FaceService, streams: dict[str, str], publisher: Publisher) -> int:
    """Analyse streams until every one has ended (files) or the task is cancelled;
    returns the number of events published."""
    cameras = [service.recorder.camera(camera_id) for camera_id in streams]
    analysis = VideoAnalysis(
        service.analyser,
        service.recorder,
        cameras,
        timedelta(seconds=service.settings.face_track_gap_seconds),
        service.analyse_all,
    )
    readers = [StreamReader(c, s, service.settings.face_video_fps) for c, s in streams.items()]
    for reader in readers:
        reader.start()
    published = 0
    try:
        while readers:
            frames = [f for r in readers if (f := r.take()) is not None]
            events: list[Event] = []
            if frames:
                events += await asyncio.to_thread(analysis.round, frames)
            for reader in [r for r in readers if r.drained]:
                readers.remove(reader)
                events += await asyncio.to_thread(analysis.finish, reader.camera_id)
            if events:
                published += await publisher.publish_many(events)
            if not frames:
                await asyncio.sleep(0.01)
    finally:
        for reader in readers:
            reader.stop()
    log.info("video: %d frames, %d faces, %d events", analysis.frames, analysis.faces, published)
    return published

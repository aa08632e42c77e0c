"""A whole video through the detector: what the CLI, tests and benchmark run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ingest.vision.falling.calibration import FacadeCalibration
from ingest.vision.falling.detector import Throw, ThrowDetector
from ingest.vision.falling.video import Video, VideoError, VideoReader


@dataclass
class Scan:
    video: Video
    throws: list[Throw] = field(default_factory=list)
    frames: int = 0
    error: VideoError | None = None
    """Set when the video broke off: `throws` are those found up to that point."""


def scan_video(
    source: str | Path, calibration: FacadeCalibration, snapshot_width: int | None = None
) -> Scan:
    """Raises VideoError when nothing can be read; a truncated video keeps what it found."""
    reader = VideoReader(source)
    detector = ThrowDetector(calibration, snapshot_width=snapshot_width)
    scan = Scan(reader.video)
    try:
        calibration.check_frame(reader.video.width, reader.video.height)
    except ValueError as exc:
        raise VideoError(
            f"{reader.video.source}: calibration does not fit the video: {exc}"
        ) from None
    for frame, t in reader:
        scan.throws.extend(detector.feed(frame, t))
    scan.throws.extend(detector.finish())
    scan.frames = reader.frames_read
    try:
        reader.check_complete()
    except VideoError as exc:
        scan.error = exc
    return scan

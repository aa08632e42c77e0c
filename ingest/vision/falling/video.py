"""Reading a facade video (file or stream URL) frame by frame, with errors a person can act on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# FFmpeg's own warnings about damaged frames would interleave with our one clear error.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class VideoError(Exception):
    """The video cannot be read (or not to its end); the message says which and why."""


@dataclass(frozen=True)
class Video:
    source: str
    width: int
    height: int
    fps: float
    frame_count: int | None
    """Frames the container announces; None for live streams."""


class VideoReader:
    """Frames with their time in seconds from the start (frame index / frame rate)."""

    def __init__(self, source: str | Path, default_fps: float = 25.0) -> None:
        name = str(source)
        if isinstance(source, Path) and not source.is_file():
            raise VideoError(f"{name}: no such file")
        self._capture = cv2.VideoCapture(name)
        if not self._capture.isOpened():
            raise VideoError(f"{name}: not a video OpenCV can decode (garbage or unsupported)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.video = Video(
            source=name,
            width=int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=fps if 0 < fps < 1000 else default_fps,
            frame_count=count if count > 0 else None,
        )
        self.frames_read = 0

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        try:
            while True:
                ok, frame = self._capture.read()
                if not ok:
                    break
                yield frame, self.frames_read / self.video.fps
                self.frames_read += 1
        finally:
            self._capture.release()
        if self.frames_read == 0:
            raise VideoError(f"{self.video.source}: no frame could be decoded")

    def check_complete(self) -> None:
        """A file that ends before the frames its header announces was cut off or damaged."""
        expected = self.video.frame_count
        if expected is not None and self.frames_read < expected - 1:
            raise VideoError(
                f"{self.video.source}: truncated or damaged after frame {self.frames_read} "
                f"of {expected} ({self.frames_read / self.video.fps:.1f} s)"
            )

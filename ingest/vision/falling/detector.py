"""Frames in, throws out: foreground blobs → tracks → trajectory judgement, per camera."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ingest.vision.falling.calibration import FacadeCalibration
from ingest.vision.falling.foreground import FacadeForeground, ForegroundParams
from ingest.vision.falling.tracking import BlobTracker, Track, TrackerParams
from ingest.vision.falling.trajectory import (
    Fall,
    FallParams,
    continues_a_flight,
    judge,
    same_object,
)

THROW_SPEED_MPS = 8.0
"""Fastest sideways or upward throw the tracker must follow, in metres per second."""
FLIGHT_POINTS = 4
"""Tracks shorter than this are neither judged nor kept as flights a fall might take over."""


@dataclass(frozen=True)
class Throw:
    """A falling object, with annotated snapshots (BGR) when the detector keeps them."""

    fall: Fall
    snapshots: tuple[np.ndarray, ...] = ()


class ThrowDetector:
    """One facade camera: `feed(frame, t)` in time order, `finish()` at the end of the video.

    With `snapshot_width` set, each throw carries two small frames (where it was first seen,
    and just after it ended) with the trajectory drawn; no other frame is kept.
    """

    def __init__(
        self,
        calibration: FacadeCalibration,
        snapshot_width: int | None = 480,
        foreground: ForegroundParams | None = None,
        fall: FallParams | None = None,
    ) -> None:
        self.calibration = calibration
        self.snapshot_width = snapshot_width
        self.fall_params = fall or FallParams()
        self.foreground = FacadeForeground(foreground)
        fall_px = calibration.ground_row + calibration.storey_px
        self.tracker = BlobTracker(
            TrackerParams(
                gravity_px=calibration.gravity_px,
                max_speed_px=math.sqrt(2 * calibration.gravity_px * fall_px)
                + THROW_SPEED_MPS * calibration.px_per_m,
                max_side_speed_px=THROW_SPEED_MPS * calibration.px_per_m,
            )
        )
        self.rejected: dict[str, int] = {}
        self._recent: list[Fall] = []
        self._flights: list[np.ndarray] = []
        """Points of recently ended tracks that were not falls."""
        self._frame: np.ndarray | None = None
        self._thumb: np.ndarray | None = None
        self._checked = False

    def feed(self, frame: np.ndarray, t: float) -> list[Throw]:
        if not self._checked:
            self.calibration.check_frame(frame.shape[1], frame.shape[0])
            self._checked = True
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        self._frame, self._thumb = frame, None
        started, ended = self.tracker.update(t, self.foreground.blobs(gray))
        if self.snapshot_width:
            for track in started:
                track.payload = self._current_thumb()
        return self._judge(ended)

    def finish(self) -> list[Throw]:
        return self._judge(self.tracker.finish())

    def _judge(self, tracks: list[Track]) -> list[Throw]:
        falls = []
        for track in tracks:
            if len(track) < FLIGHT_POINTS:
                continue
            verdict = None
            if len(track) >= self.fall_params.min_points:
                verdict = judge(
                    track.points(), float(np.mean(track.area)), self.calibration, self.fall_params
                )
            if isinstance(verdict, Fall):
                falls.append((verdict, track))
                continue
            self._flights.append(track.points())
            if verdict is not None:
                self._count(verdict.reason.split(" (")[0].split(" ")[0])
        if tracks:
            latest = max(track.t[-1] for track in tracks)
            self._flights = [f for f in self._flights if f[-1, 0] > latest - 2.0]
        throws = []
        for fall, track in falls:
            if self._took_over_a_flight(fall):
                self._count("flight")
            elif self._seen_before(fall):
                self._count("same")
            else:
                throws.append(Throw(fall, self._snapshots(fall, track)))
        return throws

    def _count(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def _took_over_a_flight(self, fall: Fall) -> bool:
        """A bird that turns is split by the tracker; the stretch after the turn can look like
        a fall, but it starts where the bird's flight just ended."""
        gravity = self.calibration.gravity_px
        return any(continues_a_flight(fall, before, gravity) for before in self._flights)

    def _seen_before(self, fall: Fall) -> bool:
        """One object reported once, though its track broke up or split."""
        start = fall.points[0, 0]
        self._recent = [r for r in self._recent if r.end_s > start - 5.0]
        gravity = self.calibration.gravity_px
        if any(same_object(r, fall, gravity) for r in self._recent):
            return True
        self._recent.append(fall)
        return False

    def _current_thumb(self) -> np.ndarray:
        if self._thumb is None:
            assert self._frame is not None and self.snapshot_width
            frame = self._frame
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            scale = min(1.0, self.snapshot_width / frame.shape[1])
            self._thumb = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return self._thumb

    def _snapshots(self, fall: Fall, track: Track) -> tuple[np.ndarray, ...]:
        if not self.snapshot_width or track.payload is None or self._frame is None:
            return ()
        return tuple(
            _annotate(frame, fall, self._frame.shape[1])
            for frame in (track.payload, self._current_thumb())
        )


def _annotate(thumb: np.ndarray, fall: Fall, full_width: int) -> np.ndarray:
    """The path in red and the estimated window circled, on a copy of the frame."""
    scale = thumb.shape[1] / full_width
    image = thumb.copy()
    path = np.round(fall.points[:, 1:] * scale).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(image, [path], isClosed=False, color=(0, 0, 255), thickness=1)
    centre = (round(fall.release_x * scale), round(fall.release_y * scale))
    cv2.circle(image, centre, max(4, round(6 * scale)), (0, 255, 255), 1)
    cv2.putText(
        image,
        f"floor {fall.floor}",
        (centre[0] + 8, centre[1]),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.4,
        (0, 255, 255),
        1,
    )
    return image

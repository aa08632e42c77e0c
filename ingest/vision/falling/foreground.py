"""Foreground blobs on a facade: a running-average background tuned for objects a few
pixels across, robust to lighting.

Each frame is compared with the background after fitting a global gain and offset (sun,
clouds and camera auto-exposure change every pixel together). Each pixel's threshold
follows its own measured noise: compression artefacts along window frames and leaves
flutter far more than plain wall, and one global threshold low enough for a cigarette butt
on the wall would light up every window edge. A change that the fit cannot explain over a large part
of the frame (lights on, shadow sweep, camera knocked) re-learns the background and yields
no blobs, rather than a frame full of false ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ForegroundParams:
    learn_rate: float = 0.05
    """Background adaptation per frame where nothing moves (time constant ~20 frames)."""
    foreground_learn_rate: float = 0.004
    """Adaptation under foreground, so something that stops moving fades in slowly."""
    noise_factor: float = 5.0
    """Threshold in standard deviations of each pixel's noise."""
    noise_learn_rate: float = 0.02
    min_threshold: float = 9.0
    initial_noise: float = 3.0
    global_change_fraction: float = 0.04
    """Share of foreground pixels above which the frame is a lighting change, not objects."""
    sudden_gain: float = 0.08
    """A jump in global gain beyond this (sun out, lights on) re-learns the background: near
    saturation the gain no longer explains every pixel, and the noise learnt before is off."""
    relearn_frames: int = 5
    """Frames without detections after a re-learn, while the background settles."""
    settle_learn_rate: float = 0.5
    """Adaptation while settling, so an object caught in the re-learnt frame leaves no ghost."""
    max_blob_fraction: float = 0.004
    """Blobs larger than this share of the frame are people, vehicles or shadows."""
    streak_elongation: float = 4.0
    """A blob whose length² exceeds this many times its area is a streak (rain, or blur)."""
    streak_min_length: float = 6.0
    rain_streaks: int = 5
    """This many streaks in one frame is rain: its streaks are dropped, compact blobs kept."""
    sample_step: int = 8


@dataclass(frozen=True)
class Blobs:
    """Connected foreground regions of one frame, as parallel arrays."""

    x: np.ndarray
    y: np.ndarray
    area: np.ndarray
    width: np.ndarray
    height: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def select(self, keep: np.ndarray) -> Blobs:
        return Blobs(
            self.x[keep], self.y[keep], self.area[keep], self.width[keep], self.height[keep]
        )


NO_BLOBS = Blobs(*(np.empty(0, dtype=np.float64) for _ in range(5)))


class FacadeForeground:
    """Background model of one camera; `blobs(gray)` per frame, in order."""

    def __init__(self, params: ForegroundParams | None = None) -> None:
        self.params = params or ForegroundParams()
        self._background: np.ndarray | None = None
        self._variance: np.ndarray | None = None
        self._settling = 0
        self.relearned = 0
        self.rainy_frames = 0

    def blobs(self, gray: np.ndarray) -> Blobs:
        p = self.params
        if self._background is None or self._background.shape != gray.shape:
            self._relearn(gray)
            self._variance = np.full(gray.shape, p.initial_noise**2, np.float32)
            return NO_BLOBS
        assert self._variance is not None
        gain, offset = self._lighting(gray)
        mid_grey_change = (gain - 1.0) * 128 + offset
        if abs(gain - 1.0) > p.sudden_gain or abs(mid_grey_change) > 255 * p.sudden_gain:
            self._relearn(gray)
            return NO_BLOBS
        expected = cv2.convertScaleAbs(self._background, alpha=gain, beta=offset)
        diff = cv2.absdiff(gray, expected).astype(np.float32)
        squared = cv2.multiply(diff, diff)
        limit = self._variance * np.float32(p.noise_factor**2)
        np.maximum(limit, np.float32(p.min_threshold**2), out=limit)
        mask = cv2.compare(squared, limit, cv2.CMP_GT)
        moving = cv2.countNonZero(mask)
        if moving > p.global_change_fraction * mask.size:
            self._relearn(gray)
            return NO_BLOBS
        if self._settling:
            self._settling -= 1
            cv2.accumulateWeighted(gray, self._background, p.settle_learn_rate)
            return NO_BLOBS
        self._learn(gray, mask, squared)
        if moving == 0:
            return NO_BLOBS
        return self._without_rain(_components(mask, p.max_blob_fraction * mask.size))

    def _without_rain(self, blobs: Blobs) -> Blobs:
        """Many long thin streaks at once are rain; a lone streak may be a blurred object."""
        p = self.params
        length = np.maximum(blobs.width, blobs.height)
        thin = length * length > p.streak_elongation * blobs.area
        streak = (length >= p.streak_min_length) & thin
        if int(streak.sum()) < p.rain_streaks:
            return blobs
        self.rainy_frames += 1
        return blobs.select(~streak)

    def _relearn(self, gray: np.ndarray) -> None:
        self._background = gray.astype(np.float32)
        self._settling = self.params.relearn_frames
        self.relearned += 1

    def _learn(self, gray: np.ndarray, mask: np.ndarray, squared: np.ndarray) -> None:
        assert self._background is not None and self._variance is not None
        p = self.params
        still = cv2.bitwise_not(mask)
        cv2.accumulateWeighted(gray, self._background, p.learn_rate, mask=still)
        cv2.accumulateWeighted(gray, self._background, p.foreground_learn_rate, mask=mask)
        cv2.accumulateWeighted(squared, self._variance, p.noise_learn_rate, mask=still)

    def _lighting(self, gray: np.ndarray) -> tuple[float, float]:
        """Global gain and offset from background to frame.

        Fitted on a sparse grid, twice: the second fit ignores pixels the first one could
        not explain (objects, lit windows).
        """
        assert self._background is not None
        step = self.params.sample_step
        bg = self._background[::step, ::step].ravel().astype(np.float64)
        fr = gray[::step, ::step].ravel().astype(np.float64)
        gain, offset = _line(bg, fr)
        residual = fr - (gain * bg + offset)
        spread = 1.4826 * float(np.median(np.abs(residual))) + 1e-3
        inliers = np.abs(residual) < 3.0 * spread + 2.0
        if inliers.sum() > 0.5 * len(bg):
            gain, offset = _line(bg[inliers], fr[inliers])
        return gain, offset


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares y ≈ gain·x + offset; a flat background (no contrast) fits offset only."""
    x_mean, y_mean = float(x.mean()), float(y.mean())
    var = float(((x - x_mean) ** 2).mean())
    if var < 1.0:
        return 1.0, y_mean - x_mean
    gain = float(((x - x_mean) * (y - y_mean)).mean()) / var
    return gain, y_mean - gain * x_mean


def _components(mask: np.ndarray, max_area: float) -> Blobs:
    count, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return NO_BLOBS
    stats, centroids = stats[1:], centroids[1:]
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    keep = area <= max_area
    return Blobs(
        x=centroids[keep, 0],
        y=centroids[keep, 1],
        area=area[keep],
        width=stats[keep, cv2.CC_STAT_WIDTH].astype(np.float64),
        height=stats[keep, cv2.CC_STAT_HEIGHT].astype(np.float64),
    )

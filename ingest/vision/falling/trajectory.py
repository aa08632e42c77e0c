"""Is a track a falling object, and where did it start?

A thrown or dropped object moves down with growing speed on a parabola: rows fit a
quadratic in time whose acceleration is close to gravity (in pixels, from the calibration;
light objects drag below it), columns drift at most linearly. Birds climb, glide at
constant speed or turn; things moving sideways drift; swaying plants and lit windows do
not descend; rain streaks and noise do not form a smooth accelerating path.

The start is where the object was at rest: when the first detection is already falling,
the fit is extrapolated back under gravity to where its vertical speed was zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ingest.vision.falling.calibration import FacadeCalibration


@dataclass(frozen=True)
class FallParams:
    min_points: int = 10
    """Fewer sightings are too little evidence: over 8 or 9 points a stretch of a bird's
    turn, or a second blob of an object already reported, fits a parabola by chance. The
    shortest fall reported (0.75 storey, 2.25 m) takes 0.68 s, 17 frames at 25 frames/s
    (held-out hour 3001–3120: all 3 false alarms had 8–9 points, every caught drop ≥ 10)."""
    min_span_s: float = 0.2
    min_fill: float = 0.4
    """Share of the frames a track spans in which its object was seen: noise strung into a
    path skips many; a dark object crossing dark windows still shows in half of them."""
    frame_s: float = 0.04
    min_drop_storeys: float = 0.75
    """Descent needed, in storeys (at least `min_drop_px`)."""
    min_drop_px: float = 8.0
    fit_window_s: float = 1.2
    """Gravity is tested on the first part of the track, before air drag bends it."""
    min_gravity: float = 0.35
    max_gravity: float = 1.6
    residual_px: float = 0.4
    """Allowed RMS deviation from the fitted path, plus `residual_per_size` of the object's
    size: noise strung into a path by the tracker wanders more than a real object."""
    residual_per_size: float = 0.2
    max_drift_ratio: float = 0.6
    """Sideways travel allowed per row of descent."""
    min_descending: float = 0.8
    """Share of steps after the apex that go down (or stay within a pixel)."""
    max_jump_share: float = 0.5
    """Largest share of the descent one step between detections may make: a blob that sits
    still and then joins something else far below (a rain streak) did not fall."""
    stall_after_px: float = 4.0
    stall_frames: int = 3
    """Once an object has fallen `stall_after_px` it moves over 2 px per frame and gains speed:
    staying within `stall_px` over this many consecutive frames is something else (a
    cleaner's cradle, a bird perching) whose track was joined to a fall."""
    stall_px: float = 1.0
    max_unseen_storeys: float = 2.0
    """How far an object may fall before it is first seen: further, and the path is more
    likely a stretch of a bird's flight than a throw from a window out of view."""
    rest_s: float = 0.3
    rest_px: float = 1.5


@dataclass(frozen=True)
class Fall:
    release_s: float
    """When the object left its window (extrapolated when first seen already falling)."""
    end_s: float
    release_x: float
    release_y: float
    floor: int
    window_column: int | None
    gravity_ratio: float
    confidence: float
    rms_px: float
    """Deviation of the detections from the fitted path."""
    points: np.ndarray
    """(n, 3) detections: t, column, row."""


@dataclass(frozen=True)
class NotAFall:
    reason: str


def judge(
    points: np.ndarray,
    area: float,
    calibration: FacadeCalibration,
    params: FallParams | None = None,
) -> Fall | NotAFall:
    """Classify one finished track of `points` (t, x, y) whose blobs average `area` px."""
    p = params or FallParams()
    points = _without_stray_start(_from_first_move(points, p), p)
    t, x, y = points[:, 0], points[:, 1], points[:, 2]
    if len(t) < p.min_points or t[-1] - t[0] < p.min_span_s:
        return NotAFall(f"too short ({len(t)} points over {t[-1] - t[0]:.2f} s)")
    fill = len(t) / ((t[-1] - t[0]) / p.frame_s + 1)
    if fill < p.min_fill:
        return NotAFall(f"sparse ({fill:.0%} of frames)")
    top = int(np.argmin(y))
    descent = float(y[-1] - y[top])
    needed = max(p.min_drop_px, p.min_drop_storeys * calibration.storey_px)
    if descent < needed:
        return NotAFall(f"descends {descent:.1f} px, less than {needed:.1f}")
    steps = np.diff(y[top:])
    if len(steps) and float(np.mean(steps > -1.0)) < p.min_descending:
        return NotAFall("goes up and down")
    if len(steps) and float(steps.max()) > p.max_jump_share * descent:
        return NotAFall(f"descends mostly in one jump of {float(steps.max()):.0f} px")
    drift = abs(float(x[-1] - x[0]))
    if drift > p.max_drift_ratio * descent:
        return NotAFall(f"drifts {drift:.0f} px sideways for {descent:.0f} px down")
    early = max(p.min_points, int(np.searchsorted(t, t[0] + p.fit_window_s, side="right")))
    tt = t[:early] - t[0]
    cy = np.polyfit(tt, y[:early], 2)
    gravity = calibration.gravity_px
    ratio = 2.0 * float(cy[0]) / gravity
    if not p.min_gravity <= ratio <= p.max_gravity:
        return NotAFall(f"accelerates at {ratio:.2f} g")
    tolerance = p.residual_px + p.residual_per_size * np.sqrt(area)
    rms_y = _rms(y[:early] - np.polyval(cy, tt))
    cx = np.polyfit(t - t[0], x, 1)
    rms_x = _rms(x - np.polyval(cx, t - t[0]))
    if rms_y > tolerance or rms_x > tolerance:
        return NotAFall(f"erratic path (rms {rms_y:.1f}/{rms_x:.1f} px)")
    late = t[early:] - t[0]
    free_fall = np.polyval([0.5 * max(gravity, 2.0 * float(cy[0])), cy[1], cy[2]], late)
    if np.any(y[early:] > free_fall + 3.0 * tolerance + 2.0):
        return NotAFall("falls faster than gravity after its first second")
    if _stalls(points[top:], p):
        return NotAFall("stops in mid-air")
    speed = float(cy[1])
    back = speed / gravity if speed > 0 else 0.0
    unseen = 0.5 * gravity * back * back / calibration.storey_px
    if unseen > p.max_unseen_storeys:
        return NotAFall(f"first seen {unseen:.1f} storeys into its fall")
    release_y = float(cy[2]) - speed * back + 0.5 * gravity * back * back
    release_x = float(np.polyval(cx, -back))
    if not calibration.on_facade(release_x, release_y):
        return NotAFall(f"starts off the facade ({release_x:.0f}, {release_y:.0f})")
    fit = np.exp(-max(rms_y, rms_x) / tolerance)
    confidence = 0.55 + 0.44 * min(1.0, len(t) / 15) * fit
    return Fall(
        release_s=float(t[0] - back),
        end_s=float(t[-1]),
        release_x=release_x,
        release_y=release_y,
        floor=calibration.floor_at(release_y),
        window_column=calibration.window_column_at(release_x),
        gravity_ratio=ratio,
        confidence=round(float(confidence), 3),
        rms_px=max(rms_y, rms_x),
        points=points,
    )


def same_object(earlier: Fall, later: Fall, gravity_px: float) -> bool:
    """Whether `later` is the same object as `earlier`: a track that broke up (the object
    hidden for a while) and resumed on its path, or a second blob of it alongside.

    Most of `later`'s points up to a second after `earlier` ended lie on `earlier`'s path
    (interpolated, then extrapolated under gravity), or in its column: two objects falling
    down one column at once are one incident for the officer anyway. When the two tracks
    overlap in time, being in one column while both are seen is enough: `earlier`'s tail may
    have strayed onto something else, which spoils extrapolating it."""
    if _share_a_column(earlier.points, later.points):
        return True
    t = later.points[:, 0]
    near = later.points[(t >= earlier.points[0, 0]) & (t <= earlier.end_s + 1.0)]
    if len(near) < 3:
        return False
    tail = earlier.points[-10:]
    tt = tail[:, 0] - tail[-1, 0]
    cx = np.polyfit(tt, tail[:, 1], 1)
    cy = np.polyfit(tt, tail[:, 2] - 0.5 * gravity_px * tt * tt, 1)
    ht = near[:, 0] - tail[-1, 0]
    inside = ht <= 0
    path_x = np.interp(near[:, 0], earlier.points[:, 0], earlier.points[:, 1])
    path_y = np.interp(near[:, 0], earlier.points[:, 0], earlier.points[:, 2])
    x = np.where(inside, path_x, np.polyval(cx, ht))
    y = np.where(inside, path_y, np.polyval(cy, ht) + 0.5 * gravity_px * ht * ht)
    gap = np.maximum(ht, 0.0)
    speed = float(np.hypot(cx[0], cy[0]))
    gate = 4.0 + 0.15 * speed * gap + 0.15 * gravity_px * gap * gap
    on_path = np.hypot(x - near[:, 1], y - near[:, 2]) <= gate
    same_column = abs(float(np.median(near[:, 1] - x))) <= 8.0
    return bool(on_path.mean() >= 0.5 or same_column)


def continues_a_flight(fall: Fall, before: np.ndarray, gravity_px: float) -> bool:
    """Whether `fall` takes over from `before` (t, x, y of a track that was not a fall): it
    ended where and when the fall was first seen, was moving, and did not move along the
    fall's path traced back. That is a bird turning or swooping, split by the tracker into
    a flight and a stretch that looks like a fall. An object resting on its sill before the
    fall does not move; an earlier piece of the same fall lies on its path; a few blobs of an
    object half merged with its window's edge are too few (six in the last 0.4 s, moving six
    pixels, make a flight)."""
    t0, x0, y0 = fall.points[0]
    last = before[-1]
    if not t0 - 0.25 <= last[0] <= t0 + 0.05 or math.hypot(last[1] - x0, last[2] - y0) > 10.0:
        return False
    recent = before[before[:, 0] >= last[0] - 0.4]
    if len(recent) < 6 or math.hypot(*(recent[-1, 1:] - recent[0, 1:])) < 6.0:
        return False
    head = fall.points[:10]
    tt = head[:, 0] - head[0, 0]
    fall_px = 0.5 * fall.gravity_ratio * gravity_px
    cx = np.polyfit(tt, head[:, 1], 1)
    cy = np.polyfit(tt, head[:, 2] - fall_px * tt * tt, 1)
    tb = recent[:, 0] - head[0, 0]
    off = np.hypot(
        np.polyval(cx, tb) - recent[:, 1], np.polyval(cy, tb) + fall_px * tb * tb - recent[:, 2]
    )
    return float(np.median(off)) > 5.0


def _stalls(points: np.ndarray, p: FallParams) -> bool:
    """Whether a descending track holds still for `stall_frames` consecutive frames after it
    has fallen `stall_after_px` below its highest point."""
    k = p.stall_frames
    if len(points) <= k:
        return False
    t, x, y = points[:, 0], points[:, 1], points[:, 2]
    fallen = y[:-k] - y[0] >= p.stall_after_px
    consecutive = t[k:] - t[:-k] <= (k + 0.5) * p.frame_s
    still = np.hypot(x[k:] - x[:-k], y[k:] - y[:-k]) < p.stall_px
    return bool(np.any(fallen & consecutive & still))


def _share_a_column(a: np.ndarray, b: np.ndarray, column_px: float = 8.0) -> bool:
    """Whether two tracks seen at the same times (at least three frames) are in one column."""
    lo, hi = max(a[0, 0], b[0, 0]), min(a[-1, 0], b[-1, 0])
    both = b[(b[:, 0] >= lo) & (b[:, 0] <= hi)]
    if len(both) < 3:
        return False
    a_x = np.interp(both[:, 0], a[:, 0], a[:, 1])
    return bool(abs(float(np.median(both[:, 1] - a_x))) <= column_px)


def _from_first_move(points: np.ndarray, p: FallParams) -> np.ndarray:
    """Drop a resting start (an object on a sill, or a blob that never moved): the fall
    begins at the last point within `rest_px` of the first."""
    moved = np.hypot(points[:, 1] - points[0, 1], points[:, 2] - points[0, 2]) > p.rest_px
    if not moved.any():
        return points
    first_move = int(np.argmax(moved))
    if points[first_move, 0] - points[0, 0] < p.rest_s:
        return points
    return points[first_move - 1 :]


def _without_stray_start(points: np.ndarray, p: FallParams, head: int = 3) -> np.ndarray:
    """Drop first points far off the path the rest of the track follows: a new track's wide
    gate can catch blobs of something else before the object's own."""
    if len(points) < head + p.min_points:
        return points
    rest = points[head : head + 2 * p.min_points]
    tt = rest[:, 0] - rest[0, 0]
    cy = np.polyfit(tt, rest[:, 2], 2)
    cx = np.polyfit(tt, rest[:, 1], 1)
    spread = _rms(rest[:, 2] - np.polyval(cy, tt)) + _rms(rest[:, 1] - np.polyval(cx, tt))
    t0 = points[:head, 0] - rest[0, 0]
    off = np.hypot(np.polyval(cy, t0) - points[:head, 2], np.polyval(cx, t0) - points[:head, 1])
    stray = np.flatnonzero(off > 3.0 * spread + 3.0)
    return points[int(stray[-1]) + 1 :] if len(stray) else points


def _rms(residual: np.ndarray) -> float:
    """RMS of all but the worst tenth: one blob merged with a window edge is not erratic."""
    squared = np.sort(residual * residual)
    keep = len(squared) - len(squared) // 10
    return float(np.sqrt(np.mean(squared[:keep])))

"""Multi-object tracking of small blobs, with gates shaped for falling things.

A new track may be joined by any blob it could reach by falling, drifting or being tossed
up within the frame gap; an established track predicts its next position from a local fit
(quadratic rows, linear columns) and accepts blobs near it. Tracks coast over a few missed
frames (a dark object crossing a dark window), and end when lost or too long, which is when
their trajectory is judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.vision.falling.foreground import Blobs


@dataclass(frozen=True)
class TrackerParams:
    gravity_px: float
    """Free-fall acceleration in rows/s², from the facade calibration."""
    max_speed_px: float
    """Fastest plausible vertical speed (free fall from the roof line, plus a throw)."""
    max_side_speed_px: float
    """Fastest plausible sideways speed of a thrown object."""
    max_gap_s: float = 0.4
    """How long a track coasts unseen (a dark object crossing a dark window)."""
    max_duration_s: float = 8.0
    rest_s: float = 0.6
    """A track that stays within `rest_px` this long has landed (or never moved): it ends."""
    rest_px: float = 1.5
    max_tracks: int = 400
    gate_px: float = 3.0
    fit_points: int = 10
    settled_points: int = 5
    """From this many points a track's own fit predicts it, and its gate narrows."""


@dataclass
class Track:
    """One object's detections: time, column, row, area; `payload` rides along (snapshots)."""

    id: int
    t: list[float] = field(default_factory=list)
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    area: list[float] = field(default_factory=list)
    payload: Any = None

    def add(self, t: float, x: float, y: float, area: float) -> None:
        self.t.append(t)
        self.x.append(x)
        self.y.append(y)
        self.area.append(area)

    def __len__(self) -> int:
        return len(self.t)

    def settle(self, rest_s: float, rest_px: float) -> bool:
        """If the last `rest_s` stayed within `rest_px` of the last point, cut the track where
        it came to rest and say so."""
        xs = np.asarray(self.x)
        ys = np.asarray(self.y)
        near = np.hypot(xs - xs[-1], ys - ys[-1]) <= rest_px
        first = len(near) - int(np.argmin(near[::-1])) if not near.all() else 0
        if self.t[-1] - self.t[first] < rest_s:
            return False
        del self.t[first + 1 :], self.x[first + 1 :], self.y[first + 1 :], self.area[first + 1 :]
        return True

    def points(self) -> np.ndarray:
        """(n, 3) array of t, x, y."""
        return np.column_stack([self.t, self.x, self.y])


class BlobTracker:
    def __init__(self, params: TrackerParams) -> None:
        self.params = params
        self.live: list[Track] = []
        self._next_id = 1

    def update(self, t: float, blobs: Blobs) -> tuple[list[Track], list[Track]]:
        """Assign this frame's blobs; returns (tracks started, tracks ended)."""
        taken = self._assign(t, blobs)
        started = self._start(t, blobs, taken)
        ended = [tr for tr in self.live if self._over(tr, t)]
        if ended:
            done = {id(tr) for tr in ended}
            self.live = [tr for tr in self.live if id(tr) not in done]
        return started, ended

    def finish(self) -> list[Track]:
        ended, self.live = self.live, []
        return ended

    def _over(self, track: Track, t: float) -> bool:
        p = self.params
        if t - track.t[-1] > p.max_gap_s or track.t[-1] - track.t[0] > p.max_duration_s:
            return True
        return track.t[-1] - track.t[0] >= p.rest_s and track.settle(p.rest_s, p.rest_px)

    def _assign(self, t: float, blobs: Blobs) -> np.ndarray:
        taken = np.zeros(len(blobs), dtype=bool)
        if not self.live or not len(blobs):
            return taken
        cost = np.vstack([self._cost(tr, t, blobs) for tr in self.live])
        rows, cols = np.nonzero(np.isfinite(cost))
        order = np.argsort(cost[rows, cols], kind="stable")
        used_tracks: set[int] = set()
        for i in order:
            r, c = int(rows[i]), int(cols[i])
            if r in used_tracks or taken[c]:
                continue
            used_tracks.add(r)
            taken[c] = True
            self.live[r].add(t, float(blobs.x[c]), float(blobs.y[c]), float(blobs.area[c]))
        return taken

    def _start(self, t: float, blobs: Blobs, taken: np.ndarray) -> list[Track]:
        started = []
        room = self.params.max_tracks - len(self.live)
        for c in np.flatnonzero(~taken)[: max(room, 0)]:
            track = Track(self._next_id)
            self._next_id += 1
            track.add(t, float(blobs.x[c]), float(blobs.y[c]), float(blobs.area[c]))
            started.append(track)
        self.live.extend(started)
        return started

    def _cost(self, track: Track, t: float, blobs: Blobs) -> np.ndarray:
        """Distance to each blob in units of the gate, inf outside it; settled tracks (cost
        below 1) pick before young ones (1 to 2) and new ones (above 2), whose gates are wide."""
        p = self.params
        gap = t - track.t[-1]
        size = np.sqrt(track.area[-1])
        if len(track) == 1:
            dx = blobs.x - track.x[-1]
            dy = blobs.y - track.y[-1]
            reach_x = p.gate_px + size + p.max_side_speed_px * gap
            reach_down = p.gate_px + size + p.max_speed_px * gap
            reach_up = p.gate_px + size + p.max_side_speed_px * gap
            inside = (np.abs(dx) <= reach_x) & (dy <= reach_down) & (dy >= -reach_up)
            cost = 2.0 + np.hypot(dx, dy) / (reach_down + reach_x)
            return np.where(inside, cost, np.inf)
        px, py, speed = self._predict(track, t)
        distance = np.hypot(blobs.x - px, blobs.y - py)
        if len(track) < p.settled_points:
            gate = p.gate_px + size + 0.35 * speed * gap + 0.5 * p.gravity_px * gap * gap
            return np.where(distance <= gate, 1.0 + distance / gate, np.inf)
        gate = p.gate_px + 0.5 * size + 0.1 * speed * gap + 0.15 * p.gravity_px * gap * gap
        return np.where(distance <= gate, distance / gate, np.inf)

    def _predict(self, track: Track, t: float) -> tuple[float, float, float]:
        """Position at `t` from the track's recent points, and its current speed (px/s).

        Young tracks assume gravity (the row fit is then linear in y - g t²/2); settled
        ones fit their own acceleration, as light objects fall slower.
        """
        p = self.params
        n = min(len(track), p.fit_points)
        ts = np.asarray(track.t[-n:]) - track.t[-1]
        xs = np.asarray(track.x[-n:])
        ys = np.asarray(track.y[-n:])
        dt = t - track.t[-1]
        cx = np.polyfit(ts, xs, 1)
        if n < p.settled_points:
            fall = 0.5 * p.gravity_px
            cy = np.polyfit(ts, ys - fall * ts * ts, 1)
            cy = np.array([fall, cy[0], cy[1]])
        else:
            cy = np.polyfit(ts, ys, 2)
        speed = float(np.hypot(cx[0], cy[1] + 2 * cy[0] * dt))
        return float(np.polyval(cx, dt)), float(np.polyval(cy, dt)), speed

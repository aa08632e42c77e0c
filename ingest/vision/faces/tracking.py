"""Faces across frames: one person walking past a camera is one track and one capture.

A face in a new frame continues the track whose last box it overlaps (IoU) or whose face it
resembles (cosine ≥ the pack's match threshold, which bridges missed detections and fast
movement); pairs are taken greedily by overlap + similarity. A track unseen for the gap
has passed, and yields its best-quality frame as its one sighting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from ingest.vision.faces.analysis import AnalysedFace
from ingest.vision.faces.captures import Sighting

MIN_IOU = 0.3


@dataclass
class Track:
    track_id: int
    first_at: datetime
    last_at: datetime
    box: np.ndarray
    embedding: np.ndarray
    best: AnalysedFace
    best_frame: np.ndarray
    best_at: datetime
    frames: int = 1

    def extend(self, face: AnalysedFace, frame: np.ndarray, at: datetime) -> None:
        self.last_at, self.box = at, face.face.box
        mean = self.embedding * self.frames + face.embedding
        self.embedding = mean / max(float(np.linalg.norm(mean)), 1e-12)
        self.frames += 1
        if face.face.quality.score > self.best.face.quality.score:
            self.best, self.best_frame, self.best_at = face, frame, at

    def sighting(self, stream_key: str) -> Sighting:
        key = f"{stream_key}|{self.first_at.isoformat()}|{self.track_id}"
        return Sighting(self.best, self.best_frame, self.best_at, key)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


class FaceTracker:
    """Tracks of one camera stream."""

    def __init__(self, stream_key: str, similarity: float, gap: timedelta) -> None:
        self.stream_key = stream_key
        self.similarity = similarity
        self.gap = gap
        self.tracks: list[Track] = []
        self._next_id = 0

    def update(
        self, at: datetime, faces: Sequence[AnalysedFace], frame: np.ndarray
    ) -> list[Sighting]:
        """Fold one frame's faces in; returns the sightings of tracks that have passed."""
        unmatched = set(range(len(faces)))
        free = set(range(len(self.tracks)))
        for _, t, f in self._pairs(faces):
            if t in free and f in unmatched:
                self.tracks[t].extend(faces[f], frame, at)
                free.discard(t)
                unmatched.discard(f)
        for f in sorted(unmatched):
            self._start(faces[f], frame, at)
        return self._expire(at - self.gap)

    def finish(self) -> list[Sighting]:
        """The stream ended: every open track has passed."""
        done = [t.sighting(self.stream_key) for t in self.tracks]
        self.tracks = []
        return done

    def _pairs(self, faces: Sequence[AnalysedFace]) -> list[tuple[float, int, int]]:
        pairs = []
        for t, track in enumerate(self.tracks):
            for f, face in enumerate(faces):
                overlap = iou(track.box, face.face.box)
                similar = float(track.embedding @ face.embedding)
                if overlap >= MIN_IOU or similar >= self.similarity:
                    pairs.append((overlap + similar, t, f))
        return sorted(pairs, reverse=True)

    def _start(self, face: AnalysedFace, frame: np.ndarray, at: datetime) -> None:
        self.tracks.append(
            Track(self._next_id, at, at, face.face.box, face.embedding, face, frame, at)
        )
        self._next_id += 1

    def _expire(self, before: datetime) -> list[Sighting]:
        passed = [t for t in self.tracks if t.last_at < before]
        self.tracks = [t for t in self.tracks if t.last_at >= before]
        return [t.sighting(self.stream_key) for t in passed]

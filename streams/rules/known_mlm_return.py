"""KNOWN_MLM_RETURN: a face from a past pyramid-scheme raid is captured by any camera.

Stateless: every matching capture is a finding, the book folds repeats into the open alert.
Faces are compared to the watchlist as one normalised numpy matrix per embedding size, rebuilt
only when the reference data's version changes. `key()` runs on every face capture and has no
thresholds (they are per community), so it screens at `SCREENING_FLOOR`, below any useful match
threshold, and remembers its last match for `apply`, which holds the score to the community's
`similarity_threshold` (a threshold below the floor acts as the floor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schemas.alerts import AlertType, Severity, SubjectKind, WatchlistFace
from schemas.events import FaceCapture
from schemas.places import camera_place
from streams.rules.rule import (
    Explanation,
    Finding,
    Outcome,
    Reference,
    Rule,
    RuleState,
    evidence_of,
    hhmm,
    local_time,
)
from streams.rules.visitor_gallery import FaceMatchConfig

SCREENING_FLOOR = 0.3
"""Scores below this never reach `apply`: 3.4 standard deviations above chance for two
unrelated 128-d faces, well below the recogniser's 0.4."""


class KnownMlmReturnConfig(FaceMatchConfig):
    """A capture at or above `similarity_threshold` to a raid face is that face."""


@dataclass(frozen=True)
class Match:
    event_id: str
    face: WatchlistFace
    score: float


@dataclass(frozen=True)
class WatchlistIndex:
    version: int
    reference: Reference
    by_size: dict[int, tuple[np.ndarray, list[WatchlistFace]]]
    """Embedding size → (unit rows, the faces they belong to)."""


class KnownMlmReturnRule(Rule[FaceCapture, RuleState, KnownMlmReturnConfig]):
    name = "known_mlm_return"
    alert_types = (AlertType.KNOWN_MLM_RETURN,)
    Config = KnownMlmReturnConfig

    def __init__(self) -> None:
        self._index: WatchlistIndex | None = None
        self._last: Match | None = None

    def key(self, event: FaceCapture, reference: Reference) -> str | None:
        match = self._match(event, reference)
        return match.face.face_id if match is not None else None

    def apply(
        self,
        state: RuleState | None,
        event: FaceCapture,
        config: KnownMlmReturnConfig,
        reference: Reference,
    ) -> Outcome[RuleState]:
        match = self._match(event, reference)
        if match is None or match.score < config.similarity_threshold:
            return Outcome(None)
        return Outcome(None, findings=[return_finding(event, match, reference)])

    def _match(self, capture: FaceCapture, reference: Reference) -> Match | None:
        """The best watchlist match above the screening floor, computed once per capture."""
        rows = self._faces(reference).get(len(capture.embedding))
        if self._last is not None and self._last.event_id == capture.event_id:
            return self._last
        if rows is None:
            return None
        matrix, faces = rows
        vector = np.asarray(capture.embedding, dtype=np.float32)
        scores = matrix @ (vector / max(float(np.linalg.norm(vector)), 1e-12))
        best = int(np.argmax(scores))
        if scores[best] < SCREENING_FLOOR:
            return None
        self._last = Match(capture.event_id, faces[best], float(scores[best]))
        return self._last

    def _faces(self, reference: Reference) -> dict[int, tuple[np.ndarray, list[WatchlistFace]]]:
        index = self._index
        if index is None or index.reference is not reference or index.version != reference.version:
            index = WatchlistIndex(reference.version, reference, by_size(reference))
            self._index = index
            self._last = None
        return index.by_size


def by_size(reference: Reference) -> dict[int, tuple[np.ndarray, list[WatchlistFace]]]:
    groups: dict[int, list[WatchlistFace]] = {}
    for face in reference.watchlist_faces():
        groups.setdefault(len(face.embedding), []).append(face)
    index: dict[int, tuple[np.ndarray, list[WatchlistFace]]] = {}
    for size, faces in groups.items():
        matrix = np.asarray([f.embedding for f in faces], dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        index[size] = (matrix / np.maximum(norms, 1e-12), faces)
    return index


def return_finding(capture: FaceCapture, match: Match, reference: Reference) -> Finding:
    face = match.face
    place = camera_place(capture.camera_id, reference)
    when = local_time(capture.occurred_at).strftime("%m-%d ") + hhmm(capture.occurred_at)
    case_en = f"case {face.case}" if face.case else "an earlier raid"
    case_zh = f"案件 {face.case}" if face.case else "以往查处"
    note = f" ({face.note})" if face.note else ""
    return Finding(
        alert_type=AlertType.KNOWN_MLM_RETURN,
        severity=Severity.HIGH,
        community_id=capture.community_id,
        subject_kind=SubjectKind.PERSON,
        subject=face.face_id,
        occurred_at=capture.occurred_at,
        explanation=Explanation(
            en=(
                f"Watchlisted face {face.face_id} from pyramid-scheme {case_en}{note} captured "
                f"by camera {capture.camera_id} at {place} on {when} "
                f"(similarity {match.score:.2f})."
            ),
            zh=(
                f"传销{case_zh}涉案人员 {face.face_id}{note} 于 {when} 被 {place} 的摄像机 "
                f"{capture.camera_id} 抓拍（相似度 {match.score:.2f}），疑似回流"
            ),
        ),
        evidence=[
            evidence_of(
                capture,
                f"{face.face_id} at {capture.camera_id} {hhmm(capture.occurred_at)}, "
                f"similarity {match.score:.2f}",
            )
        ],
    )

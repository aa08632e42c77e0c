"""Pseudonymous visitors: unknown faces at one unit door, grouped by embedding similarity.

A visitor is the running mean (centroid) of the captures that matched it at cosine ≥ the
threshold; its id `v-<8 hex>` hashes the event id of its first capture, so a replay of the
same events names the same visitors. A gallery lives in one key's state (one unit door of
one rule): the same face at two units, or under two rules, gets two ids. Centroids are
stored as base64 float16 (344 characters for 128 dimensions) because states are rewritten
as JSON after every event.

Also here: how lists of visitor ids are named in explanations.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection, Sequence
from typing import Annotated

import numpy as np
from pydantic import BaseModel, Field

from streams.rules.rule import RuleConfig, sample

CENTROID_WEIGHT_CAP = 20
"""A centroid averages at most this many captures, so later captures (new glasses, another
season's light) keep moving it."""
MAX_VISITORS_PER_DOOR = 500
"""Visitors a gallery keeps (about 200 KB of state): past this the oldest go, and are
counted, so a camera facing a crowd cannot grow one door's state without bound."""
LISTED_IDS = 10
"""Ids named in one list of an explanation: enough to cross-check, short enough to read."""


class FaceMatchConfig(RuleConfig):
    similarity_threshold: Annotated[float, Field(ge=0.1, le=0.9)] = 0.4
    """Cosine at which two captures are one face: the match threshold of the district's 128-d
    face recogniser (from the face model's config), not a rule choice."""


class Visitor(BaseModel):
    visitor_id: str
    centroid: str
    """Unit vector as base64 of little-endian float16."""
    captures: int = 1


class VisitorGallery(BaseModel):
    """Never changed in place: a capture gives a new gallery sharing the unchanged visitors,
    so a rule's state is copied in O(visitors) pointers instead of deep-copied per event."""

    visitors: list[Visitor] = []
    """Oldest (first seen) first."""
    dropped: int = 0
    """Visitors dropped by the cap so far, oldest first: explanations say so."""

    def identified(
        self, embedding: Sequence[float], event_id: str, threshold: float
    ) -> tuple[VisitorGallery, str]:
        """The gallery with this capture counted, and the visitor it belongs to (a new one
        below `threshold`)."""
        capture = normalised(np.asarray(embedding, dtype=np.float32))
        candidates = [
            (n, centroid)
            for n, visitor in enumerate(self.visitors)
            if (centroid := decode(visitor.centroid)).size == capture.size
        ]
        if candidates:
            scores = np.stack([centroid for _, centroid in candidates]) @ capture
            best = int(np.argmax(scores))
            if scores[best] >= threshold:
                n, centroid = candidates[best]
                visitor = self.visitors[n]
                weight = visitor.captures
                moved = visitor.model_copy(
                    update={
                        "centroid": encode(normalised(centroid * weight + capture)),
                        "captures": min(weight + 1, CENTROID_WEIGHT_CAP),
                    }
                )
                visitors = [*self.visitors[:n], moved, *self.visitors[n + 1 :]]
                return self.model_copy(update={"visitors": visitors}), visitor.visitor_id
        visitor = Visitor(visitor_id=visitor_id(event_id), centroid=encode(capture))
        grown = self.model_copy(update={"visitors": [*self.visitors, visitor]})
        return grown.without_oldest(len(grown.visitors) - MAX_VISITORS_PER_DOOR), visitor.visitor_id

    def without_oldest(self, count: int) -> VisitorGallery:
        """The gallery with its `count` oldest visitors dropped and counted."""
        if count <= 0:
            return self
        return self.model_copy(
            update={"visitors": self.visitors[count:], "dropped": self.dropped + count}
        )

    def retained(self, visitor_ids: Collection[str]) -> VisitorGallery:
        """Without the visitors the rule no longer refers to (seen only before its window)."""
        visitors = [v for v in self.visitors if v.visitor_id in visitor_ids]
        return self.model_copy(update={"visitors": visitors})


def visitor_id(event_id: str) -> str:
    return "v-" + hashlib.blake2s(event_id.encode(), digest_size=4).hexdigest()


def listed(ids: Sequence[str]) -> str:
    """The first ids of a list, and how many more there are."""
    more = len(ids) - LISTED_IDS
    return ", ".join(sample(ids, LISTED_IDS)) + (f" +{more} more" if more > 0 else "")


def normalised(vector: np.ndarray) -> np.ndarray:
    vector = vector.astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def encode(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype("<f2").tobytes()).decode("ascii")


def decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f2").astype(np.float32)

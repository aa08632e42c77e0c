"""The SQL of face search: the captures most similar to a photo's face, scored in ClickHouse.

Embeddings never leave the warehouse: the photo's embedding goes in as a parameter and only
scores come back. Like `graphql_api.queries`, only constant text from this module becomes
SQL; the caller's communities and the time window are conditions of every scan.

Two plans, one answer:
- exact: cosine similarity of every capture in scope (Float32, `face_captures.embedding`);
- coarse then exact (what the API runs): rank the captures in scope on their Int8 copy
  (`face_search_vectors`, migration 0014), a quarter of the bytes to read, keep the best
  `candidates`, and score only those exactly on `face_captures`. `bench.face_search` measures
  both on the same data and the recall of the second against the first.

Captures do not record which recogniser made them, so a capture is compared only when its
embedding has the probe's length: a 128-d probe never meets a 512-d pack's captures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graphql_api.criteria import TimeWindow
from graphql_api.queries import Conditions, WarehouseReader

INT8_SCALE = 127
"""A unit vector's components, times this, rounded: as migration 0014 quantises them."""
CANDIDATE_FACTOR = 2
"""Captures kept from the coarse ranking per result asked for, to be scored exactly."""
MIN_CANDIDATES = 20

MATCH_COLUMNS = (
    "event_id, community_id, camera_id, occurred_at, quality, matched_person_id, "
    "crop_ref IS NOT NULL AS has_crop, 1 - cosineDistance(embedding, {probe:Array(Float32)}) "
    "AS score"
)
APPROX_SCORE = "dotProduct(embedding_i8, {probe:Array(Float32)}) / 127"


@dataclass(frozen=True)
class FaceSearchCriteria:
    """One search: the probe (unit length), where and when to look, how many, how similar."""

    probe: Sequence[float]
    community_ids: frozenset[str] | None
    occurred: TimeWindow
    top_k: int
    min_score: float

    @property
    def dims(self) -> int:
        return len(self.probe)

    @property
    def candidates(self) -> int:
        return max(self.top_k * CANDIDATE_FACTOR, MIN_CANDIDATES)

    @property
    def coarse_floor(self) -> float:
        """No capture scoring `min_score` exactly falls below this on the Int8 copy: each
        component is off by at most 0.5/127, so the approximate score by at most
        0.5/127 * |probe|_1 <= 0.5/127 * sqrt(dims) (0.045 for 128-d; 0.089 for 512-d)."""
        return self.min_score - 0.5 * math.sqrt(self.dims) / INT8_SCALE - 1e-3


@dataclass(frozen=True)
class FaceMatchRow:
    """A capture found, as the API may show it: everything but the embedding."""

    event_id: str
    community_id: str
    camera_id: str
    occurred_at: datetime
    quality: float
    matched_person_id: str | None
    has_crop: bool
    score: float


def unit(vector: Sequence[float]) -> list[float]:
    """The probe at unit length, so scores and the coarse floor are cosine similarities."""
    norm = math.sqrt(sum(v * v for v in vector))
    if not norm or not math.isfinite(norm):
        raise ValueError("the face embedding is zero or not finite")
    return [v / norm for v in vector]


def _conditions(criteria: FaceSearchCriteria, *clauses: str) -> Conditions:
    """The caller's communities and the window, plus constant `clauses`."""
    conditions = Conditions()
    conditions.one_of("community_id", criteria.community_ids)
    conditions.within("occurred_at", criteria.occurred)
    conditions.clauses.extend(clauses)
    conditions.params |= {
        "probe": [float(v) for v in criteria.probe],
        "dims": criteria.dims,
        "min_score": criteria.min_score,
        "top_k": criteria.top_k,
    }
    return conditions


SAME_RECOGNISER = "length(embedding) = {dims:UInt32}"
GOOD_ENOUGH = "score >= {min_score:Float64}"
BEST_FIRST = "ORDER BY score DESC, event_id LIMIT {top_k:UInt32}"


def exact_sql(criteria: FaceSearchCriteria) -> tuple[str, dict[str, Any]]:
    """Every capture in scope scored on its Float32 embedding."""
    conditions = _conditions(criteria, SAME_RECOGNISER, GOOD_ENOUGH)
    return (
        f"SELECT {MATCH_COLUMNS} FROM face_captures FINAL {conditions.where} {BEST_FIRST}",
        conditions.params,
    )


def coarse_sql(criteria: FaceSearchCriteria) -> tuple[str, dict[str, Any]]:
    """The best `candidates` captures in scope on the Int8 copy, by their keys.

    The floor lets ClickHouse drop implausible captures while reading (PREWHERE), before
    any other column is read; no tie-break on event_id, which would read every id."""
    conditions = _conditions(
        criteria, "dims = {dims:UInt32}", f"{APPROX_SCORE} >= {{floor:Float64}}"
    )
    conditions.params |= {"floor": criteria.coarse_floor, "candidates": criteria.candidates}
    return (
        f"SELECT community_id, occurred_at, event_id FROM face_search_vectors "
        f"{conditions.where} ORDER BY {APPROX_SCORE} DESC LIMIT {{candidates:UInt32}}",
        conditions.params,
    )


def accelerated_sql(criteria: FaceSearchCriteria) -> tuple[str, dict[str, Any]]:
    """The coarse candidates scored exactly. Their keys are face_captures' primary key, so
    only the granules holding them are read. The key conditions go to PREWHERE, which FINAL
    allows because they hold for every version of a row alike; the scope is repeated so no
    candidate outside it could be returned."""
    coarse, params = coarse_sql(criteria)
    keys = _conditions(criteria, f"(community_id, occurred_at, event_id) IN ({coarse})")
    return (
        f"SELECT {MATCH_COLUMNS} FROM face_captures FINAL "
        f"PREWHERE {' AND '.join(keys.clauses)} "
        f"WHERE {SAME_RECOGNISER} AND {GOOD_ENOUGH} {BEST_FIRST}",
        keys.params | params,
    )


async def search_faces(
    reader: WarehouseReader, criteria: FaceSearchCriteria, *, exact: bool = False
) -> list[FaceMatchRow]:
    """The captures most similar to the probe, best first, each scored exactly."""
    sql, params = exact_sql(criteria) if exact else accelerated_sql(criteria)
    rows = await reader.rows(sql, params)
    return [FaceMatchRow(**row) for row in rows]

"""Face records beyond the capture events: the resident gallery and the biometric-search log.

Embeddings are tied to the recogniser that made them (`model_id`, the sha256 of its ONNX
file): vectors of two recognisers are not comparable, so a new model pack needs a new
enrolment and the old entries are simply not matched.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field

from schemas.events import NonEmpty, Record, Timestamp, embedding_dims

ModelId = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def gallery_key(person_id: str, model_id: str) -> str:
    """One embedding per person and recogniser: a re-enrolment replaces the earlier photo."""
    return f"{person_id}@{model_id[:16]}"


class ResidentFace(Record):
    """A resident enrolled from a photo (`pingan faces enroll`), on a compacted topic."""

    face_id: NonEmpty
    person_id: NonEmpty
    community_id: NonEmpty
    embedding: Annotated[list[float], AfterValidator(embedding_dims)]
    model_id: ModelId
    enrolled_at: Timestamp
    enrolled_by: NonEmpty


class BiometricSearch(Record):
    """One search of a face against the gallery: who searched, when, why, what was found.

    The searched image itself is not kept, only its sha256, so an auditor can match it to
    the file an operator holds.
    """

    kind: ClassVar[str] = "biometric_search"

    search_id: NonEmpty
    operator: NonEmpty
    searched_at: Timestamp
    reason: str = ""
    source: NonEmpty = "cli"
    image_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    faces: Annotated[int, Field(ge=0)]
    matched_person_ids: list[str] = Field(default_factory=list)
    model_id: ModelId

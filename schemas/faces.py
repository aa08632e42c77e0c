"""Face records beyond the capture events: the resident gallery and the biometric-search log.

Embeddings are tied to the recogniser that made them (`model_id`, the sha256 of its ONNX
file): vectors of two recognisers are not comparable, so a new model pack needs a new
enrolment and the old entries are simply not matched.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from schemas.bounds import Id, Note, UInt16
from schemas.events import Embedding, NonEmpty, Record, Timestamp

Sha256 = Annotated[str, Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")]
"""A sha256 in lowercase hex."""
ModelId = Sha256


MAX_MATCHES = 1000


def gallery_key(person_id: str, model_id: str) -> str:
    """One embedding per person and recogniser: a re-enrolment replaces the earlier photo."""
    return f"{person_id}@{model_id[:16]}"


class ResidentFace(Record):
    """A resident enrolled from a photo (`pingan faces enroll`), on a compacted topic."""

    face_id: NonEmpty
    person_id: NonEmpty
    community_id: NonEmpty
    embedding: Embedding
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
    reason: Note = ""
    source: NonEmpty = "cli"
    image_sha256: Sha256
    faces: UInt16
    matched_person_ids: Annotated[list[Id], Field(max_length=MAX_MATCHES)] = Field(
        default_factory=list, description=f"at most {MAX_MATCHES} people"
    )
    model_id: ModelId

"""Face search: which cameras saw the face in this photo, and when.

The seed case: an officer holds a photo of the person who lost a wallet (or who found it)
and asks where that face was seen. A search follows an identifiable person by their face,
so it needs `read:biometrics` and a purpose, is scoped in SQL to the caller's communities
and to a bounded window, and leaves an audit row naming the photo by its sha256 only; the
photo and its embedding are never stored or logged. The photo is embedded on the face
model's threads by the hosting process's engine; similarity is computed in ClickHouse.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

import strawberry

from graphql_api.access import Permission
from graphql_api.audit import checked_purpose, image_digest
from graphql_api.criteria import TimeWindow
from graphql_api.errors import InvalidArgument
from graphql_api.face_search_queries import (
    FaceMatchRow,
    FaceSearchCriteria,
    search_faces,
    unit,
)
from graphql_api.faces import MAX_PHOTO_BYTES, PhotoFace, UnusablePhoto, check_photo_size
from graphql_api.movement_types import crop_url
from graphql_api.permissions import needs
from graphql_api.resolvers.common import ApiInfo, audit
from schemas.events import utc_now

DEFAULT_WINDOW = timedelta(days=30)
MAX_WINDOW = timedelta(days=93)
"""A quarter: long enough for a case, short of a dossier of someone's year."""
DEFAULT_TOP_K = 10
MAX_TOP_K = 100
MAX_IMAGE_TEXT = (MAX_PHOTO_BYTES + 2) // 3 * 4
"""Base64 of the largest photo taken: longer text is refused before it is decoded."""
IMAGE_SIGNATURES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}


@strawberry.type(description="A face capture similar to the searched face.")
class FaceSearchMatch:
    capture_id: strawberry.ID
    community_id: strawberry.ID
    camera_id: str
    occurred_at: datetime
    score: float = strawberry.field(
        description="Cosine similarity of the capture's face to the photo's (-1 to 1), from "
        "their Float32 embeddings."
    )
    quality: float = strawberry.field(description="0-1: size, sharpness, pose, detector score.")
    matched_person_id: str | None = strawberry.field(
        description="The enrolled resident the camera's pipeline matched; null if nobody."
    )
    crop_url: str | None = strawberry.field(
        description="GET it with your bearer token: the capture's small face crop (audited)."
    )

    @classmethod
    def of(cls, row: FaceMatchRow) -> FaceSearchMatch:
        return cls(
            capture_id=strawberry.ID(row.event_id),
            community_id=strawberry.ID(row.community_id),
            camera_id=row.camera_id,
            occurred_at=row.occurred_at,
            score=round(float(row.score), 4),
            quality=round(float(row.quality), 4),
            matched_person_id=row.matched_person_id,
            crop_url=crop_url(row.event_id) if row.has_crop else None,
        )


@strawberry.type(description="The captures most similar to a photo's face, best first.")
class FaceSearchResult:
    matches: list[FaceSearchMatch]
    min_score: float = strawberry.field(
        description="The similarity a capture needed: given, or the face model pack's match "
        "threshold."
    )
    since: datetime
    until: datetime
    photo_quality: float = strawberry.field(description="0-1: the searched face's quality.")


@strawberry.type
class FaceSearchQuery:
    @strawberry.field(
        description="Face captures similar to the main face of a photo (base64 JPEG or PNG, "
        "at most 5 MB), best first: within your communities, in [since, until) (the last 30 "
        "days by default, at most 93), at most topK (1-100, default 10), each scoring at "
        "least minScore (default: the face model pack's match threshold). Only captures "
        "whose embeddings have the length of the server's recogniser's are compared. Give a "
        "purpose; every search is audited with the photo's sha256, never the photo.",
        permission_classes=[needs(Permission.READ_BIOMETRICS)],
    )
    async def face_search(
        self,
        info: ApiInfo,
        image: str,
        purpose: str,
        since: datetime | None = None,
        until: datetime | None = None,
        community_ids: list[strawberry.ID] | None = None,
        top_k: int = DEFAULT_TOP_K,
        min_score: float | None = None,
    ) -> FaceSearchResult:
        why = checked_purpose(purpose)
        window = search_window(since, until, utc_now())
        context = info.context
        scope = context.caller.scope(community_ids, context.community_ids)
        top = checked_top_k(top_k)
        engine = context.api.faces
        threshold = engine.match_threshold if min_score is None else checked_score(min_score)
        photo = decoded_photo(image)
        arguments: dict[str, object] = {
            "image_sha256": image_digest(photo),
            "community_ids": community_ids,
            "since": window.since,
            "until": window.until,
            "top_k": top,
            "min_score": threshold,
        }
        face = await _face(info, photo, arguments, why, scope)
        criteria = FaceSearchCriteria(unit(face.embedding), scope, window, top, threshold)
        rows = await search_faces(context.api.reader, criteria)
        await audit(
            info,
            "face_search",
            arguments | {"model_id": face.model_id},
            result_count=len(rows),
            purpose=why,
            community_ids=scope,
        )
        assert window.since is not None and window.until is not None
        return FaceSearchResult(
            matches=[FaceSearchMatch.of(row) for row in rows],
            min_score=threshold,
            since=window.since,
            until=window.until,
            photo_quality=round(face.quality, 4),
        )


async def _face(
    info: ApiInfo,
    photo: bytes,
    arguments: dict[str, object],
    why: str,
    scope: frozenset[str] | None,
) -> PhotoFace:
    """The photo's main face. A photo handed to the face model and refused by it (no usable
    face, or not decodable after all) is audited too: it was processed on the caller's
    behalf."""
    try:
        return await info.context.api.faces.photo_face(photo)
    except UnusablePhoto as exc:
        await audit(
            info,
            "face_search",
            arguments | {"refused": str(exc)},
            purpose=why,
            community_ids=scope,
        )
        raise


def search_window(since: datetime | None, until: datetime | None, now: datetime) -> TimeWindow:
    """[since, until): the last 30 days by default, never longer than 93 days."""
    return TimeWindow.bounded(
        since, until, now, default=DEFAULT_WINDOW, longest=MAX_WINDOW, lookup="a face search"
    )


def checked_top_k(top_k: int) -> int:
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidArgument(f"topK must be between 1 and {MAX_TOP_K}, got {top_k}")
    return top_k


def checked_score(min_score: float) -> float:
    if not -1.0 <= min_score <= 1.0:
        raise InvalidArgument(f"minScore is a cosine similarity, -1 to 1; got {min_score}")
    return min_score


def decoded_photo(text: str) -> bytes:
    """The photo's bytes from base64 (line breaks allowed): a JPEG or PNG of at most
    MAX_PHOTO_BYTES. Checked here, before the face model is bothered with it."""
    compact = "".join(text.split())
    if compact.startswith("data:") and "," in compact:
        compact = compact.split(",", 1)[1]
    if not compact:
        raise InvalidArgument("image is empty: send the photo's bytes base64-encoded")
    if len(compact) > MAX_IMAGE_TEXT:
        raise InvalidArgument(f"image is larger than {MAX_PHOTO_BYTES // 2**20} MB")
    try:
        photo = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(
            "image is not base64: send the photo's bytes base64-encoded"
        ) from None
    if not any(photo.startswith(signature) for signature in IMAGE_SIGNATURES):
        raise InvalidArgument("image is not a JPEG or PNG photo")
    check_photo_size(photo)
    return photo

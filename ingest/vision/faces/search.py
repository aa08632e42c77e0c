"""Enrolment of residents from photos, and identify: an audited search of the gallery.

Every identify is a biometric search: it is published to `pingan.audit.biometric-searches`
(operator, reason, time, the image's sha256, what was found) and acknowledged by Kafka
before any result is shown, so no search goes unrecorded.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.vision.faces.analysis import AnalysedFace, FaceAnalyser
from ingest.vision.faces.gallery import Gallery, GalleryFollower
from ingest.vision.faces.images import decode_image
from ingest.vision.faces.pack import ModelPack
from pingan.platform.images import ImageLimits
from pingan.platform.publisher import Publisher
from pingan.platform.reference_data import ReferenceData, ReferenceFollower
from pingan.platform.settings import Settings
from schemas.events import utc_now
from schemas.faces import BiometricSearch, ResidentFace, gallery_key

SECOND_FACE_RATIO = 0.5
"""An enrolment photo with another face at least half the main one's area is ambiguous."""


class EnrolmentError(ValueError):
    """The photo cannot enrol the person; the message says why and what photo would do."""


def enrolment_face(analyser: FaceAnalyser, image: np.ndarray) -> AnalysedFace:
    """The one clear face of an enrolment photo."""
    faces = analyser.detect(image)
    if not faces:
        raise EnrolmentError(
            f"no face of at least {analyser.config.min_face_px} px found: use a frontal, "
            "well-lit photo of the person"
        )

    def area(box: np.ndarray) -> float:
        return float((box[2] - box[0]) * (box[3] - box[1]))

    main = faces[0]
    if len(faces) > 1 and area(faces[1].box) >= SECOND_FACE_RATIO * area(main.box):
        raise EnrolmentError(
            f"{len(faces)} faces of similar size found: use a photo of the person alone"
        )
    quality = main.quality
    if quality.score < analyser.config.min_quality:
        raise EnrolmentError(
            f"face quality {quality.score:.2f} is below {analyser.config.min_quality} "
            f"(size {quality.size:.2f}, sharpness {quality.sharpness:.2f}, pose "
            f"{quality.pose:.2f}, detector {quality.detector:.2f}): use a sharper, larger, "
            "frontal photo"
        )
    return analyser.embed([main])[0]


def resident_face(
    pack: ModelPack, person_id: str, community_id: str, face: AnalysedFace, operator: str
) -> ResidentFace:
    return ResidentFace(
        face_id=gallery_key(person_id, pack.model_id),
        person_id=person_id,
        community_id=community_id,
        embedding=[float(v) for v in face.embedding],
        model_id=pack.model_id,
        enrolled_at=utc_now(),
        enrolled_by=operator,
    )


async def resident_community(bootstrap: str, person_id: str) -> str | None:
    """The community of a resident from pingan.reference.residents, if registered."""
    reference = ReferenceData()
    follower = ReferenceFollower(bootstrap, reference)
    await follower.start()
    try:
        await follower.loaded.wait()
    finally:
        await follower.stop()
    resident = reference.resident(person_id)
    return resident.community_id if resident else None


async def enrol(
    settings: Settings,
    pack: ModelPack,
    person_id: str,
    image: bytes,
    community_id: str | None,
    operator: str,
) -> ResidentFace:
    """Enrol a resident from a photo; durable in Kafka when this returns."""
    face = enrolment_face(FaceAnalyser(pack), decode_image(image, ImageLimits.of(settings)))
    community = community_id or await resident_community(settings.bootstrap, person_id)
    if community is None:
        raise EnrolmentError(f"{person_id} is not in pingan.reference.residents: pass --community")
    record = resident_face(pack, person_id, community, face, operator)
    async with Publisher(settings.bootstrap) as publisher:
        await publisher.publish(record)
    return record


@dataclass(frozen=True)
class Identified:
    box: np.ndarray
    person_id: str | None
    score: float

    def as_json(self) -> dict[str, Any]:
        return {
            "bbox": [round(float(v), 1) for v in self.box],
            "person_id": self.person_id,
            "score": round(self.score, 4),
        }


def identify_faces(analyser: FaceAnalyser, gallery: Gallery, image: np.ndarray) -> list[Identified]:
    """Every face of the image with its best resident: named at or above the threshold,
    else null with the best (too low) score, 0 for an empty gallery."""
    faces = analyser.analyse(image)
    best = gallery.best(np.stack([f.embedding for f in faces])) if faces else []
    threshold = analyser.config.match_threshold
    return [
        Identified(
            face.face.box,
            match.person_id if match is not None and match.score >= threshold else None,
            float(np.clip(match.score, 0.0, 1.0)) if match is not None else 0.0,
        )
        for face, match in zip(faces, best, strict=True)
    ]


def search_record(
    pack: ModelPack, image: bytes, found: Sequence[Identified], operator: str, reason: str
) -> BiometricSearch:
    return BiometricSearch(
        search_id=uuid.uuid4().hex,
        operator=operator,
        searched_at=utc_now(),
        reason=reason,
        image_sha256=hashlib.sha256(image).hexdigest(),
        faces=len(found),
        matched_person_ids=sorted({f.person_id for f in found if f.person_id}),
        model_id=pack.model_id,
    )


async def identify(
    settings: Settings, pack: ModelPack, image: bytes, operator: str, reason: str
) -> list[Identified]:
    """Search the current gallery; the search is logged in Kafka before this returns."""
    frame = decode_image(image, ImageLimits.of(settings))
    gallery = Gallery(pack.model_id, pack.dims)
    async with GalleryFollower(settings.bootstrap, gallery) as follower:
        await follower.catch_up()
    found = identify_faces(FaceAnalyser(pack), gallery, frame)
    async with Publisher(settings.bootstrap) as publisher:
        await publisher.publish(search_record(pack, image, found, operator, reason))
    return found

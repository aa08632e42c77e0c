"""Faces become events: a face capture for every good-enough face, plus a door access when
a unit-door camera recognises a resident of its community.

A capture stores the embedding, the quality, the match and a reference to a small JPEG crop
of the face (under PINGAN_DATA_DIR/crops; the worker's sweeper,
pingan/platform/retention.py, deletes it after PINGAN_BIOMETRIC_TTL_DAYS) —
never the frame or video it came from. Unknown faces are captures without a person: the
MLM rule groups them into visitors. Face is one door method among card, ID card, QR and
password; nothing here grants or refuses entry, it records what the camera recognised.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from ingest.vision.faces.analysis import AnalysedFace
from ingest.vision.faces.gallery import Gallery, Match
from pingan.platform.face_pack import PackConfig
from pingan.platform.reference_data import ReferenceData
from schemas.events import (
    AccessMethod,
    BoundingBox,
    DoorAccess,
    DoorKind,
    Event,
    FaceCapture,
    utc_now,
)
from schemas.places import unit_door_of
from schemas.reference import Device, DeviceKind

log = logging.getLogger(__name__)

CROP_SIDE = 160
"""Longest side of a stored face crop: enough for an officer to recognise, no more."""
CROP_MARGIN = 0.25
CROP_JPEG_QUALITY = 85


class UnknownCamera(ValueError):
    """The camera is not a registered camera device (pingan.reference.devices)."""


@dataclass(frozen=True)
class Sighting:
    """One face at the moment chosen for its capture (a snapshot, or a track's best frame)."""

    face: AnalysedFace
    frame: np.ndarray
    at: datetime
    key: str
    """Stable across retries and replays: the capture's event id is derived from it."""


class CropStore:
    """Small face crops on local disk, one directory per community and day, expired by the
    worker's sweeper (pingan/platform/retention.py)."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "crops"

    def save(
        self, frame: np.ndarray, box: np.ndarray, community_id: str, at: datetime, name: str
    ) -> str:
        """Write the crop; returns its reference relative to the data directory."""
        day = at.astimezone(UTC).strftime("%Y-%m-%d")
        directory = self.root / community_id / day
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.jpg"
        ok, jpeg = cv2.imencode(
            ".jpg", face_crop(frame, box), [cv2.IMWRITE_JPEG_QUALITY, CROP_JPEG_QUALITY]
        )
        if not ok:
            raise RuntimeError(f"JPEG encoding of the crop {name} failed")
        path.write_bytes(jpeg.tobytes())
        return str(path.relative_to(self.root.parent))


def face_crop(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The face box with a margin, scaled down to at most CROP_SIDE."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = box
    margin_x, margin_y = (x2 - x1) * CROP_MARGIN, (y2 - y1) * CROP_MARGIN
    left, top = max(0, int(x1 - margin_x)), max(0, int(y1 - margin_y))
    right, bottom = min(width, int(x2 + margin_x)), min(height, int(y2 + margin_y))
    crop = frame[top : max(bottom, top + 1), left : max(right, left + 1)]
    scale = CROP_SIDE / max(crop.shape[:2])
    if scale < 1:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return crop


def event_id(prefix: str, key: str) -> str:
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:24]}"


class CaptureRecorder:
    """Matches sightings against the gallery and writes the events they amount to."""

    def __init__(
        self, gallery: Gallery, reference: ReferenceData, crops: CropStore, config: PackConfig
    ) -> None:
        self.gallery = gallery
        self.reference = reference
        self.crops = crops
        self.config = config
        self.skipped_low_quality = 0
        self._counting = threading.Lock()
        """Snapshots are recorded from several model threads at once."""

    def camera(self, camera_id: str) -> Device:
        device = self.reference.device(camera_id)
        if device is None or device.device_kind is not DeviceKind.CAMERA:
            raise UnknownCamera(
                f"camera {camera_id!r} is not a registered camera (pingan.reference.devices)"
            )
        return device

    def records(self, camera: Device, sightings: Sequence[Sighting]) -> list[Event]:
        good = [s for s in sightings if s.face.face.quality.score >= self.config.min_quality]
        with self._counting:
            self.skipped_low_quality += len(sightings) - len(good)
        if not good:
            return []
        embeddings = np.stack([s.face.embedding for s in good])
        matches = self.gallery.match(embeddings, self.config.match_threshold)
        door = unit_door_of(camera.device_id, self.reference)
        events: list[Event] = []
        for sighting, match in zip(good, matches, strict=True):
            events.append(self._capture(camera, sighting, match))
            if door is not None and match is not None and match.community_id == camera.community_id:
                events.append(_door_access(camera, door, sighting, match))
        return events

    def _capture(self, camera: Device, sighting: Sighting, match: Match | None) -> FaceCapture:
        face = sighting.face.face
        capture_id = event_id("fc", f"{camera.device_id}|{sighting.key}")
        crop_ref = self.crops.save(
            sighting.frame, face.box, camera.community_id, sighting.at, capture_id
        )
        x1, y1, x2, y2 = (float(v) for v in face.box)
        return FaceCapture(
            event_id=capture_id,
            community_id=camera.community_id,
            occurred_at=sighting.at,
            received_at=utc_now(),
            camera_id=camera.device_id,
            embedding=[float(v) for v in sighting.face.embedding],
            quality=round(face.quality.score, 4),
            bbox=BoundingBox(x=x1, y=y1, width=max(x2 - x1, 1e-3), height=max(y2 - y1, 1e-3)),
            matched_person_id=match.person_id if match else None,
            match_score=round(min(1.0, match.score), 4) if match else None,
            crop_ref=crop_ref,
        )


def _door_access(camera: Device, door: str, sighting: Sighting, match: Match) -> DoorAccess:
    return DoorAccess(
        event_id=event_id("da", f"{camera.device_id}|{sighting.key}"),
        community_id=camera.community_id,
        occurred_at=sighting.at,
        received_at=utc_now(),
        door_id=door,
        door_kind=DoorKind.UNIT_DOOR,
        method=AccessMethod.FACE,
        person_id=match.person_id,
        granted=True,
    )

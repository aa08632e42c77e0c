"""What the API needs of a face model, without importing one.

The process hosting the API (the worker) hands in an engine built on its face pipeline;
without a model pack there is none, and face search and enrolment say so instead of
failing obscurely. Keeping the API on this seam keeps it from importing the vision code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from graphql_api.errors import Busy, InvalidArgument, PublicError
from pingan.platform.images import (
    IMAGE_DECODES,
    DecodesBusy,
    ImageLimits,
    ImageTooLarge,
    UnusableImage,
    checked_size,
)
from pingan.platform.settings import get_settings

MAX_PHOTO_BYTES = 5 * 1024 * 1024


def check_photo_size(photo: bytes) -> None:
    """From the photo's header, before the face model decodes it: a small file may declare
    a huge image (PINGAN_MAX_IMAGE_PIXELS, PINGAN_MAX_IMAGE_SIDE)."""
    try:
        checked_size(photo, ImageLimits.of(get_settings()))
    except ImageTooLarge as exc:
        raise InvalidArgument(f"image is too large: {exc}") from None
    except UnusableImage as exc:
        raise InvalidArgument(f"cannot decode the image: {exc}") from None


class FaceModelUnavailable(PublicError):
    def __init__(self) -> None:
        super().__init__("no face model pack is installed on this server: face search is off")


class UnusablePhoto(InvalidArgument):
    """The photo holds no usable face; the message says what photo would do."""


@dataclass(frozen=True)
class PhotoFace:
    """The one clear face of a photo, as the recogniser sees it."""

    embedding: list[float]
    quality: float
    model_id: str


class FaceEngine(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def match_threshold(self) -> float: ...

    async def photo_face(self, image: bytes) -> PhotoFace:
        """The main face of an uploaded photo; raises UnusablePhoto (a ValueError) if none."""
        ...


@dataclass(frozen=True)
class CappedFaceEngine:
    """A face engine behind the process-wide decode cap that snapshot webhooks share: beyond
    PINGAN_MAX_IMAGE_DECODES images at once a photo is refused with a time to retry, never
    queued behind the models."""

    engine: FaceEngine
    cap: int
    retry_after_seconds: int

    @property
    def model_id(self) -> str:
        return self.engine.model_id

    @property
    def match_threshold(self) -> float:
        return self.engine.match_threshold

    async def photo_face(self, image: bytes) -> PhotoFace:
        try:
            with IMAGE_DECODES.slot(self.cap):
                return await self.engine.photo_face(image)
        except DecodesBusy as busy:
            raise Busy(
                f"{busy.cap} images are being analysed; retry in {self.retry_after_seconds} s"
            ) from None

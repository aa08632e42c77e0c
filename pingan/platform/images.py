"""An image's size from its header, before anything decodes it.

A PNG or JPEG of a hundred kilobytes can declare a billion pixels; the decoder would
allocate them all. Every path that takes an image from outside (snapshot webhooks, face
search and watchlist photos, enrolment) reads the width and height here first and refuses
what is over the limits. Only PNG and JPEG are taken: the header of anything else is not
read here, so nothing else may reach a decoder.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pingan.platform.settings import Settings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_START = b"\xff\xd8"
JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
"""SOF0–SOF15, less DHT, JPG and DAC, which share the range but carry no frame size."""
JPEG_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})
JPEG_START_OF_SCAN = 0xDA


class UnusableImage(ValueError):
    """The bytes are not a PNG or JPEG whose size can be read, or the size is over a limit."""


class ImageTooLarge(UnusableImage):
    pass


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int
    max_side: int

    @classmethod
    def of(cls, settings: Settings) -> ImageLimits:
        return cls(settings.max_image_pixels, settings.max_image_side)


class DecodesBusy(Exception):
    """Every decode slot is taken: the caller should be told to retry, not be queued."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"{cap} images are being analysed")
        self.cap = cap


class DecodeSlots:
    """Images decoded at once in this process. Snapshot webhooks and the API's photos share
    the memory and cores the models decode with, and in embedded mode the API runs on a
    thread of its own: one lock-guarded count for both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_use = 0

    @contextmanager
    def slot(self, cap: int) -> Iterator[None]:
        with self._lock:
            if self.in_use >= cap:
                raise DecodesBusy(cap)
            self.in_use += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_use -= 1


IMAGE_DECODES = DecodeSlots()


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def image_size(data: bytes) -> ImageSize | None:
    """The size a PNG or JPEG declares; None for other or malformed bytes."""
    if data.startswith(PNG_SIGNATURE):
        return _png_size(data)
    if data.startswith(JPEG_START):
        return _jpeg_size(data)
    return None


def checked_size(data: bytes, limits: ImageLimits) -> ImageSize:
    """The declared size, or UnusableImage saying what is wrong with the image."""
    size = image_size(data)
    if size is None:
        raise UnusableImage("not a JPEG or PNG image")
    if size.width > limits.max_side or size.height > limits.max_side:
        raise ImageTooLarge(
            f"{size.width}×{size.height} pixels: a side is over {limits.max_side} pixels"
        )
    if size.pixels > limits.max_pixels:
        raise ImageTooLarge(
            f"{size.width}×{size.height} pixels is over the limit of {limits.max_pixels} pixels"
        )
    return size


def _png_size(data: bytes) -> ImageSize | None:
    """From IHDR, which the format requires to be the first chunk."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return ImageSize(width, height) if width and height else None


def _jpeg_size(data: bytes) -> ImageSize | None:
    """From the first frame header, walking segment by segment so that a thumbnail inside
    an APP segment (EXIF) is skipped, not taken for the image."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker in JPEG_STANDALONE_MARKERS:
            position += 2
            continue
        if marker == JPEG_START_OF_SCAN:
            return None
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in JPEG_FRAME_MARKERS:
            if length < 7 or position + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return ImageSize(width, height) if width and height else None
        if length < 2:
            return None
        position += 2 + length
    return None

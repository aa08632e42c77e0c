"""Image sizes read from headers and refused before decoding: decompression bombs."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from ingest.vision.faces.images import UnreadableImage, decode_image
from pingan.platform.images import (
    ImageLimits,
    ImageSize,
    ImageTooLarge,
    UnusableImage,
    checked_size,
)
from pingan.platform.images import image_size as declared

LIMITS = ImageLimits(max_pixels=40_000_000, max_side=16_384)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + data))
    return struct.pack(">I", len(data)) + kind + data + crc


def bomb_png(width: int, height: int, rows: int = 64) -> bytes:
    """A few hundred bytes declaring width×height 1-bit pixels, with only `rows` rows of
    (zero) data: what a decoder would allocate is decided by the header alone."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = (b"\x00" * (1 + (width + 7) // 8)) * rows
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(data, 9))
        + _chunk(b"IEND", b"")
    )


def encoded(extension: str, width: int, height: int) -> bytes:
    ok, data = cv2.imencode(extension, np.full((height, width, 3), 128, np.uint8))
    assert ok
    return data.tobytes()


def test_sizes_of_real_png_and_jpeg_files() -> None:
    assert declared(encoded(".png", 33, 21)) == ImageSize(33, 21)
    assert declared(encoded(".jpg", 640, 360)) == ImageSize(640, 360)
    progressive = cv2.imencode(
        ".jpg", np.zeros((50, 70, 3), np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
    )[1].tobytes()
    assert declared(progressive) == ImageSize(70, 50)


def test_a_jpeg_thumbnail_in_an_app_segment_is_not_taken_for_the_image() -> None:
    jpeg = encoded(".jpg", 640, 360)
    frame_header = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", 20_000, 20_000) + b"\x03"
    thumbnail = b"Exif\x00\x00\xff\xd8" + frame_header + b"\x00" * 9
    app1 = b"\xff\xe1" + struct.pack(">H", len(thumbnail) + 2) + thumbnail
    assert declared(jpeg[:2] + app1 + jpeg[2:]) == ImageSize(640, 360)


@pytest.mark.parametrize(
    "data",
    [b"", b"GIF89a....", b"\xff\xd8 truncated", b"\x89PNG\r\n\x1a\n\x00", b"\xff\xd8\xff\xda"],
)
def test_other_or_malformed_bytes_have_no_size(data: bytes) -> None:
    assert declared(data) is None
    with pytest.raises(UnusableImage, match="not a JPEG or PNG image"):
        checked_size(data, LIMITS)


def test_a_tiny_png_declaring_fifty_thousand_squared_is_refused_from_its_header() -> None:
    bomb = bomb_png(50_000, 50_000)
    assert len(bomb) < 1000
    with pytest.raises(ImageTooLarge, match="50000×50000 pixels: a side is over 16384"):
        checked_size(bomb, LIMITS)
    with pytest.raises(UnreadableImage, match="50000×50000 pixels"):
        decode_image(bomb, LIMITS)


def test_pixel_limit_applies_below_the_side_limit() -> None:
    bomb = bomb_png(8_000, 8_000)
    with pytest.raises(ImageTooLarge, match="over the limit of 40000000 pixels"):
        checked_size(bomb, LIMITS)
    with pytest.raises(UnreadableImage, match="8000×8000 pixels is over the limit"):
        decode_image(bomb, LIMITS)
    small = ImageLimits(max_pixels=100, max_side=16_384)
    with pytest.raises(UnreadableImage, match="over the limit of 100 pixels"):
        decode_image(encoded(".jpg", 11, 10), small)


def test_an_image_within_the_limits_decodes() -> None:
    assert decode_image(encoded(".png", 40, 30), LIMITS).shape == (30, 40, 3)

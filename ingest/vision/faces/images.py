"""Uploaded image bytes → a BGR array, or an error a device's operator can act on."""

from __future__ import annotations

import cv2
import numpy as np

MAX_PIXELS = 40_000_000
"""Larger than any camera snapshot: refuses decompression bombs before analysis."""


class UnreadableImage(ValueError):
    """Not an image OpenCV can decode completely (garbage, truncated, empty, too large)."""


def decode_image(data: bytes) -> np.ndarray:
    if not data:
        raise UnreadableImage("empty image: no bytes were sent")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise UnreadableImage(
            f"cannot decode the image ({len(data)} bytes, starting {data[:8].hex()}): "
            "not a JPEG/PNG/BMP/WebP image, or truncated"
        )
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise UnreadableImage(
            f"image of {image.shape[1]}×{image.shape[0]} pixels is larger than {MAX_PIXELS}"
        )
    return image

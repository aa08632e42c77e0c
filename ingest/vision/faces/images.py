"""Uploaded image bytes → a BGR array, or an error a device's operator can act on.

The size is read from the header and checked before OpenCV decodes anything, so a small
file declaring a huge image is refused without allocating it (pingan/platform/images.py)."""

from __future__ import annotations

import cv2
import numpy as np

from pingan.platform.images import ImageLimits, UnusableImage, checked_size


class UnreadableImage(ValueError):
    """Not an image OpenCV can decode completely (garbage, truncated, empty, too large)."""


def decode_image(data: bytes, limits: ImageLimits) -> np.ndarray:
    if not data:
        raise UnreadableImage("empty image: no bytes were sent")
    try:
        checked_size(data, limits)
    except UnusableImage as exc:
        raise UnreadableImage(f"cannot decode the image ({len(data)} bytes): {exc}") from None
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise UnreadableImage(
            f"cannot decode the image ({len(data)} bytes, starting {data[:8].hex()}): "
            "not a JPEG or PNG image, or truncated"
        )
    return image

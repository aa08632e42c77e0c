"""Face-snapshot uploads parsed into image bytes and camera id, byte for byte."""

from __future__ import annotations

import os

import httpx
import pytest

from ingest.http.refusal import Refusal
from ingest.http.snapshots import snapshot_parts


def multipart(files: dict | None = None, data: dict | None = None) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://device/", files=files, data=data)
    return request.read(), request.headers["Content-Type"]


def test_binary_image_comes_back_unchanged() -> None:
    image = os.urandom(50_000) + b"\r\n--\r\n\n\r" + os.urandom(100)
    body, content_type = multipart({"image": ("a.jpg", image, "image/jpeg")}, {"camera_id": "c7"})
    assert snapshot_parts(body, content_type) == (image, "c7")


@pytest.mark.parametrize(
    ("files", "data", "message"),
    [
        (None, {"camera_id": "c7"}, "image: missing or empty file part"),
        ({"image": ("a.jpg", b"", "image/jpeg")}, {"camera_id": "c7"}, "image: missing"),
        ({"image": ("a.jpg", b"jpeg", "image/jpeg")}, None, "camera_id: missing or empty field"),
    ],
)
def test_missing_parts_are_named(files: dict | None, data: dict | None, message: str) -> None:
    body, content_type = multipart(files or {"other": ("x", b"1")}, data)
    with pytest.raises(Refusal) as caught:
        snapshot_parts(body, content_type)
    assert caught.value.status == 400
    assert caught.value.message.startswith(message)


def test_json_instead_of_multipart_is_refused() -> None:
    with pytest.raises(Refusal) as caught:
        snapshot_parts(b"{}", "application/json")
    assert "multipart/form-data" in caught.value.message


def test_garbage_multipart_is_refused_not_crashed() -> None:
    with pytest.raises(Refusal) as caught:
        snapshot_parts(b"\x00\xff garbage", "multipart/form-data; boundary=zzz")
    assert caught.value.status == 400

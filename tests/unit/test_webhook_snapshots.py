"""Face-snapshot uploads parsed into image bytes and camera id, byte for byte."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

import httpx
import pytest

from ingest.http.refusal import Refusal
from ingest.http.snapshots import MAX_PARTS, UploadTimes, snapshot_parts


def multipart(files: dict | None = None, data: dict | None = None) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://device/", files=files, data=data)
    return request.read(), request.headers["Content-Type"]


def test_binary_image_comes_back_unchanged() -> None:
    image = os.urandom(50_000) + b"\r\n--\r\n\n\r" + os.urandom(100)
    body, content_type = multipart({"image": ("a.jpg", image, "image/jpeg")}, {"camera_id": "c7"})
    snapshot = snapshot_parts(body, content_type)
    assert (snapshot.image, snapshot.camera_id, snapshot.captured_at) == (image, "c7", None)
    assert snapshot.digest == hashlib.sha256(image).hexdigest()


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T08:00:00.123456Z", datetime(2026, 11, 24, 8, 0, 0, 123000, UTC)),
        ("2026-11-24T16:00:00+08:00", datetime(2026, 11, 24, 8, 0, 0, tzinfo=UTC)),
        ("1795000000.5", datetime.fromtimestamp(1795000000.5, UTC)),
    ],
)
def test_capture_time_is_iso_or_unix_seconds(text: str, expected: datetime) -> None:
    body, content_type = multipart(
        {"image": ("a.jpg", b"jpeg", "image/jpeg")}, {"camera_id": "c7", "captured_at": text}
    )
    assert snapshot_parts(body, content_type).captured_at == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"captured_at": "yesterday"}, "captured_at: 'yesterday' is neither ISO 8601"),
        ({"captured_at": "2026-11-24T08:00:00"}, "captured_at: give a timezone"),
        ({"captured_at": "nan"}, "captured_at: 'nan' is not between 1970 and 2106"),
        ({"captured_at": "1e300"}, "captured_at: '1e300' is not between 1970 and 2106"),
        ({"captured_at": "0001-01-01T00:00:00Z"}, "captured_at: '0001-01-01T00:00:00Z' is not"),
        ({"captured_at": "1" * 65}, "captured_at: longer than 64 characters"),
        ({"camera_id": "c" * 129}, "camera_id: longer than 128 characters"),
    ],
)
def test_malformed_or_overlong_fields_are_named(fields: dict, message: str) -> None:
    body, content_type = multipart(
        {"image": ("a.jpg", b"jpeg", "image/jpeg")}, {"camera_id": "c7"} | fields
    )
    with pytest.raises(Refusal) as caught:
        snapshot_parts(body, content_type)
    assert (caught.value.status, caught.value.message[: len(message)]) == (400, message)


def test_a_body_of_many_parts_is_refused() -> None:
    parts = {f"f{n}": ("x", b"1") for n in range(MAX_PARTS + 1)}
    body, content_type = multipart({"image": ("a.jpg", b"jpeg", "image/jpeg"), **parts})
    with pytest.raises(Refusal) as caught:
        snapshot_parts(body, content_type)
    assert caught.value.message == f"more than {MAX_PARTS} multipart parts"


def test_an_upload_is_taken_at_its_first_arrival_in_this_process() -> None:
    times = UploadTimes(capacity=2)
    first, later = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    assert times.first_arrival("cam", "d1", first) == first
    assert times.first_arrival("cam", "d1", later) == first
    assert times.first_arrival("other-cam", "d1", later) == later
    times.first_arrival("cam", "d2", later)
    assert times.first_arrival("other-cam", "d1", first) == later
    assert times.first_arrival("cam", "d1", later) == later

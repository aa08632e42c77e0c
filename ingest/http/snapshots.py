"""Face snapshots: a multipart upload (`image` file, `camera_id` and an optional
`captured_at` field) from a camera.

The analysis (detect, embed, match) belongs to the face pipeline; this module only turns
the upload into its parts. The body is read whole first (bounded), because an HMAC
signature covers the raw bytes, then parsed by the standard library's MIME parser.

`captured_at` (ISO 8601 with a timezone, or Unix seconds) is when the camera took the
picture. It makes a retry idempotent everywhere: the same image and time give the same
events, which the event tables collapse even after a restart or on another ingest process.
Without it, an upload is taken at its first arrival, remembered per process (UploadTimes).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from ingest.http.refusal import Refusal
from schemas.events import Event
from schemas.reference import Device

SnapshotAnalyser = Callable[[bytes, str, Device, datetime], Awaitable[Sequence[Event]]]
"""(image bytes, camera id, the camera's device record, capture time) → events to publish.
The same arguments must give the same events (ids and times), so a retry collapses. It must
keep blocking inference off the event loop (the face pipeline runs it on its model thread);
raise ValueError with a message for an image it cannot use (garbage, truncated): the camera
gets a 400."""

MAX_PARTS = 8
"""An upload has three fields; a body of thousands of tiny parts is refused, not parsed on."""
MAX_CONTENT_TYPE_LENGTH = 256
MAX_FIELD_LENGTH = {"camera_id": 128, "captured_at": 64}
EARLIEST = datetime.fromtimestamp(0, UTC)
LATEST = datetime.fromtimestamp(2**32, UTC)
"""Unix seconds in 32 bits: older or later capture times are a device's clock gone wrong."""


@dataclass(frozen=True)
class Snapshot:
    image: bytes
    camera_id: str
    captured_at: datetime | None
    digest: str
    """SHA-256 of the image: with the camera, what identifies one upload across retries."""


def snapshot_parts(body: bytes, content_type: str) -> Snapshot:
    """The parts of a multipart/form-data body; 400 naming what is missing or malformed."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise Refusal(400, "expected multipart/form-data with an 'image' file and 'camera_id'")
    if len(content_type) > MAX_CONTENT_TYPE_LENGTH:
        raise Refusal(400, f"Content-Type is longer than {MAX_CONTENT_TYPE_LENGTH} characters")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", errors="replace") + b"\r\n\r\n" + body
    )
    fields = _form_fields(message)
    image = fields.get("image")
    if not image:
        raise Refusal(400, "image: missing or empty file part")
    camera_id = _text(fields, "camera_id")
    if not camera_id:
        raise Refusal(400, "camera_id: missing or empty field")
    captured = _text(fields, "captured_at")
    return Snapshot(
        image,
        camera_id,
        capture_time(captured) if captured else None,
        hashlib.sha256(image).hexdigest(),
    )


def capture_time(text: str) -> datetime:
    """ISO 8601 with a timezone, or Unix seconds; UTC at the millisecond ClickHouse keeps."""
    try:
        seconds = float(text)
    except ValueError:
        at = _iso(text)
    else:
        if not 0 <= seconds < 2**32:
            raise _out_of_range(text)
        at = datetime.fromtimestamp(seconds, UTC)
    if not EARLIEST <= at < LATEST:
        raise _out_of_range(text)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _out_of_range(text: str) -> Refusal:
    return Refusal(400, f"captured_at: {text!r} is not between 1970 and 2106")


def _iso(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise Refusal(400, f"captured_at: {text!r} is neither ISO 8601 nor Unix seconds") from None
    if at.tzinfo is None:
        raise Refusal(400, "captured_at: give a timezone (e.g. 2026-11-24T08:00:00.000Z)")
    return at.astimezone(UTC)


def _text(fields: dict[str, bytes], name: str) -> str:
    value = (fields.get(name) or b"").decode(errors="replace").strip()
    if len(value) > MAX_FIELD_LENGTH[name]:
        raise Refusal(400, f"{name}: longer than {MAX_FIELD_LENGTH[name]} characters")
    return value


def _form_fields(message: EmailMessage) -> dict[str, bytes]:
    if not message.is_multipart():
        raise Refusal(400, "malformed multipart body (no parts found; check the boundary)")
    fields: dict[str, bytes] = {}
    for count, part in enumerate(message.iter_parts(), start=1):
        if count > MAX_PARTS:
            raise Refusal(400, f"more than {MAX_PARTS} multipart parts")
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields.setdefault(name, payload)
    return fields


class UploadTimes:
    """When each recent upload (camera, image digest) first arrived, for uploads without
    `captured_at`: a retry to this process is taken at the same time, so it is a duplicate.
    Bounded, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._first: OrderedDict[tuple[str, str], datetime] = OrderedDict()

    def first_arrival(self, camera_id: str, digest: str, now: datetime) -> datetime:
        key = (camera_id, digest)
        at = self._first.setdefault(key, now)
        self._first.move_to_end(key)
        while len(self._first) > self._capacity:
            self._first.popitem(last=False)
        return at

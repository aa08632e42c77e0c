"""Face snapshots: a multipart upload (`image` file + `camera_id` field) from a camera.

The analysis (detect, embed, match) belongs to the face pipeline; this module only turns
the upload into its parts. The body is read whole first (bounded), because an HMAC
signature covers the raw bytes, then parsed by the standard library's MIME parser.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from ingest.http.refusal import Refusal
from schemas.events import Event
from schemas.reference import Device

SnapshotAnalyser = Callable[[bytes, str, Device], Awaitable[Sequence[Event]]]
"""(image bytes, camera id, the camera's device record) → events to publish. It must keep
blocking inference off the event loop (the face pipeline runs it on its model thread);
raise ValueError with a message for an image it cannot use (garbage, truncated): the camera
gets a 400."""


def snapshot_parts(body: bytes, content_type: str) -> tuple[bytes, str]:
    """The image and camera id of a multipart/form-data body; 400 naming what is missing."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise Refusal(400, "expected multipart/form-data with an 'image' file and 'camera_id'")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields = _form_fields(message)
    image = fields.get("image")
    camera_id = (fields.get("camera_id") or b"").decode(errors="replace").strip()
    if not image:
        raise Refusal(400, "image: missing or empty file part")
    if not camera_id:
        raise Refusal(400, "camera_id: missing or empty field")
    return image, camera_id


def _form_fields(message: EmailMessage) -> dict[str, bytes]:
    if not message.is_multipart():
        raise Refusal(400, "malformed multipart body (no parts found; check the boundary)")
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields.setdefault(name, payload)
    return fields

"""Hostile and heavy webhook traffic over real HTTP on loopback, with a real broker: bodies
of strangers are never read, images are refused from their header, decodes are capped."""

from __future__ import annotations

import asyncio
import struct
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import pytest

from ingest.http.server import serve_webhooks
from pingan.platform.settings import Settings
from schemas.credentials import CredentialScheme
from schemas.events import Event
from schemas.reference import Device
from tests.integration.test_webhooks import (
    DOOR,
    RETRY_AFTER,
    SIGNING_DOOR,
    UNIT_CAMERA,
    analyse_snapshot,
    jpeg,
    keys_of,
    register,
    signed,
    until,
)

pytestmark = pytest.mark.integration

FIVE_MIB = 5 * 1024 * 1024
DECODES = 2


@dataclass
class GatedAnalyser:
    """The stand-in face pipeline, held at its start until released: analyses in progress
    stay in progress for as long as a test needs."""

    started: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(
        self, image: bytes, camera_id: str, camera: Device, at: datetime
    ) -> list[Event]:
        self.started += 1
        await self.release.wait()
        return await analyse_snapshot(image, camera_id, camera, at)


@dataclass
class Server:
    url: str
    port: int
    http: httpx.AsyncClient
    keys: dict[str, str]
    analyser: GatedAnalyser

    async def snapshot(self, image: bytes, device: str, **fields: str) -> httpx.Response:
        return await self.http.post(
            f"{self.url}/ingest/v1/face-snapshots",
            files={"image": ("x.jpg", image, "image/jpeg")},
            data={"camera_id": UNIT_CAMERA.device_id, **fields},
            headers={"Authorization": f"Bearer {self.keys[device]}"},
        )


@pytest.fixture(scope="module")
async def server(kafka_bootstrap: str) -> AsyncIterator[Server]:
    keys = keys_of(
        await register(kafka_bootstrap, UNIT_CAMERA, DOOR, scheme=CredentialScheme.BEARER)
    )
    keys |= keys_of(await register(kafka_bootstrap, SIGNING_DOOR, scheme=CredentialScheme.HMAC))
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        ingest_max_snapshot_bytes=FIVE_MIB,
        ingest_retry_after_seconds=RETRY_AFTER,
        max_image_decodes=DECODES,
    )
    analyser = GatedAnalyser()
    runner = await serve_webhooks(settings, "127.0.0.1", 0, face_snapshots=analyser)
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}"
    try:
        async with httpx.AsyncClient(timeout=60) as http:

            async def loaded() -> bool:
                answer = await http.post(f"{url}/ingest/v1/door-access", content=b"{}")
                return answer.status_code != 503

            await until(loaded)
            yield Server(url, port, http, keys, analyser)
    finally:
        await runner.cleanup()


async def head_only_answer(port: int, headers: dict[str, str]) -> tuple[int, bytes]:
    """Send a request's head announcing a 5 MiB body and only its first 64 KiB, then read
    the answer: a server that waited for the body would never answer (the guard turns that
    into a failure rather than a hang)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = {
        "Host": "device",
        "Content-Type": "multipart/form-data; boundary=zzz",
        "Content-Length": str(FIVE_MIB),
        **headers,
    }
    writer.write(b"POST /ingest/v1/face-snapshots HTTP/1.1\r\n")
    writer.write("".join(f"{k}: {v}\r\n" for k, v in head.items()).encode() + b"\r\n")
    writer.write(b"\0" * 65536)
    await writer.drain()
    try:
        async with asyncio.timeout(60):
            status_line = await reader.readline()
            answer = await reader.readuntil(b"}")
    finally:
        writer.close()
    return int(status_line.split()[1]), answer


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, "missing credentials"),
        ({"Authorization": "Bearer pgk_made-up"}, "unknown or revoked device key"),
        (
            {
                "X-Pingan-Device": "nobody",
                "X-Pingan-Timestamp": "1",
                "X-Pingan-Signature": "sha256=00",
            },
            "unknown or revoked device nobody",
        ),
        ({"Authorization": "Bearer " + "k" * 300}, "Authorization is longer than 256"),
    ],
)
async def test_a_strangers_body_is_refused_unread(
    server: Server, headers: dict[str, str], error: str
) -> None:
    status, answer = await head_only_answer(server.port, headers)
    assert status == 401
    assert error.encode() in answer


async def test_a_stale_signature_is_refused_before_its_body_is_read(server: Server) -> None:
    stale = signed(
        server.keys[SIGNING_DOOR.device_id], b"", time.time() - 3600, SIGNING_DOOR.device_id
    )
    status, answer = await head_only_answer(server.port, stale)
    assert status == 401
    assert b"away from the server clock" in answer


async def test_a_wrong_kind_of_device_is_refused_before_its_body_is_read(server: Server) -> None:
    status, answer = await head_only_answer(
        server.port, {"Authorization": f"Bearer {server.keys[DOOR.device_id]}"}
    )
    assert status == 403
    assert b"only camera devices may post" in answer


async def test_a_signed_body_is_still_checked_once_read(server: Server) -> None:
    secret = server.keys[SIGNING_DOOR.device_id]
    body = b'{"event_id": "e"}'
    forged = signed(secret, b"another body", time.time(), SIGNING_DOOR.device_id)
    answer = await server.http.post(
        f"{server.url}/ingest/v1/door-access", content=body, headers=forged
    )
    assert answer.status_code == 401
    assert "X-Pingan-Signature does not match" in answer.json()["error"]


def bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = (b"\x00" * (1 + (width + 7) // 8)) * 64
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


async def test_images_over_the_limits_never_reach_the_analyser(server: Server) -> None:
    started = server.analyser.started
    cam = UNIT_CAMERA.device_id
    sides = await server.snapshot(bomb_png(50_000, 50_000), cam)
    assert (sides.status_code, sides.json()["error"]) == (
        413,
        "image: 50000×50000 pixels: a side is over 16384 pixels; send a smaller snapshot",
    )
    pixels = await server.snapshot(bomb_png(8_000, 8_000), cam)
    assert (pixels.status_code, pixels.json()["error"]) == (
        413,
        "image: 8000×8000 pixels is over the limit of 40000000 pixels; send a smaller snapshot",
    )
    assert server.analyser.started == started


async def test_decodes_beyond_the_cap_get_429_and_the_others_succeed(server: Server) -> None:
    analyser = server.analyser
    analyser.release.clear()
    started = analyser.started
    uploads = [
        asyncio.ensure_future(server.snapshot(jpeg(grey=100 + n), UNIT_CAMERA.device_id))
        for n in range(DECODES + 3)
    ]
    refused: list[httpx.Response] = []
    pending: set[asyncio.Future[httpx.Response]] = set(uploads)
    while len(refused) < 3:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        refused += [future.result() for future in done]
    assert analyser.started - started == DECODES
    analyser.release.set()
    admitted = [await future for future in pending]
    assert [r.status_code for r in refused] == [429] * 3
    assert {r.headers["Retry-After"] for r in refused} == {str(RETRY_AFTER)}
    assert refused[0].json()["error"] == (
        f"{DECODES} images are being analysed; retry after {RETRY_AFTER} s"
    )
    assert [r.json()["published"] for r in admitted] == [1] * DECODES


async def test_a_retried_upload_without_capture_time_is_a_duplicate(server: Server) -> None:
    server.analyser.release.set()
    image = jpeg(grey=7)
    first = await server.snapshot(image, UNIT_CAMERA.device_id)
    again = await server.snapshot(image, UNIT_CAMERA.device_id)
    assert first.json() == {"accepted": 1, "published": 1, "duplicates": 0}
    assert again.json() == {"accepted": 1, "published": 0, "duplicates": 1}
    timed = {"captured_at": "2026-11-24T08:00:00Z"}
    stamped = [await server.snapshot(image, UNIT_CAMERA.device_id, **timed) for _ in range(2)]
    assert [a.json()["published"] for a in stamped] == [1, 0]


async def test_a_capture_time_ahead_of_the_clock_is_refused(server: Server) -> None:
    ahead = await server.snapshot(jpeg(), UNIT_CAMERA.device_id, captured_at="2106-01-01T00:00Z")
    assert ahead.status_code == 400
    assert ahead.json()["error"].startswith("captured_at: ")
    assert "ahead of the server clock (allowed: 300 s)" in ahead.json()["error"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[" * 2000 + b"]" * 2000, "body is not JSON: depth limit exceeded"),
        (b'{"event_id": "' + b"e" * 200 + b'"}', "invalid door_access:"),
    ],
)
async def test_deep_or_overlong_json_is_a_400(server: Server, body: bytes, error: str) -> None:
    answer = await server.http.post(
        f"{server.url}/ingest/v1/door-access",
        content=body,
        headers={"Authorization": f"Bearer {server.keys[DOOR.device_id]}"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(error)


async def test_an_oversized_header_is_refused_by_the_server(server: Server) -> None:
    answer = await server.http.post(
        f"{server.url}/ingest/v1/door-access", content=b"{}", headers={"X-Junk": "j" * 9000}
    )
    assert answer.status_code in (400, 431)

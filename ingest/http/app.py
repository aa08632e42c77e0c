"""The webhook routes as an aiohttp sub-application, mounted at /ingest.

The sub-app owns its Kafka clients (a Publisher and a follower of the device and
credential topics) through its cleanup context, so mounting it into the API's app or
serving it alone (`pingan ingest http`) starts and stops them the same way.

Each request: credentials loaded? → device authenticated from its headers (401) → device
kind may post here (403) → body within the limit (413) → signature over the body (401) →
events valid (400) → own community (403) → published and acknowledged by Kafka (2xx), or
429 with Retry-After. No body byte is read before the headers name a live device.

A snapshot upload also has its image size read from the header and checked before any
decode (413), and waits for no one: past `max_image_decodes` analyses at once it gets 429.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from ingest.http.auth import identify, verify_body
from ingest.http.batch import parse_events
from ingest.http.credentials import DeviceDirectory
from ingest.http.forwarding import Forwarder
from ingest.http.recent import RecentEvents
from ingest.http.refusal import Refusal
from ingest.http.snapshots import Snapshot, SnapshotAnalyser, UploadTimes, snapshot_parts
from pingan.platform.images import (
    IMAGE_DECODES,
    DecodesBusy,
    ImageLimits,
    ImageTooLarge,
    UnusableImage,
    checked_size,
)
from pingan.platform.publisher import Publisher
from pingan.platform.reference_data import ReferenceFollower
from pingan.platform.settings import Settings
from pingan.platform.warehouse import event_retention
from schemas.events import (
    BraceletReading,
    CameraAnalytics,
    DeviceKind,
    DoorAccess,
    Event,
    VehiclePassage,
    utc_now,
)
from schemas.reference import Device

log = logging.getLogger(__name__)

PREFIX = "/ingest"
FACE_SNAPSHOTS = "/v1/face-snapshots"
CAMERAS = frozenset({DeviceKind.CAMERA})
RECENT_UPLOADS = 10_000
"""Uploads without `captured_at` whose first arrival is remembered (about 200 bytes each)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    path: str
    record: type[Event]
    device_kinds: frozenset[DeviceKind]


EVENT_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("/v1/vehicle-passages", VehiclePassage, frozenset({DeviceKind.CAMERA})),
    Endpoint("/v1/door-access", DoorAccess, frozenset({DeviceKind.DOOR})),
    Endpoint("/v1/bracelet-readings", BraceletReading, frozenset({DeviceKind.BRACELET_GATEWAY})),
    Endpoint("/v1/camera-analytics", CameraAnalytics, frozenset({DeviceKind.CAMERA})),
)
"""ANPR cameras post passages, door controllers door access, bracelet gateways readings,
cameras their own analytics."""


def ingest_app(
    settings: Settings, *, face_snapshots: SnapshotAnalyser | None = None
) -> web.Application:
    """The routes, to mount at PREFIX; `face_snapshots` adds the snapshot upload."""
    webhooks = Webhooks(settings)
    app = web.Application(middlewares=[answer_errors])
    for endpoint in EVENT_ENDPOINTS:
        app.router.add_post(endpoint.path, webhooks.events(endpoint))
    if face_snapshots is not None:
        app.router.add_post(FACE_SNAPSHOTS, webhooks.snapshots(face_snapshots))
    app.cleanup_ctx.append(webhooks.running)
    return app


@web.middleware
async def answer_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refusals become their JSON answer; anything unexpected a logged, generic 500."""
    try:
        return await handler(request)
    except Refusal as refusal:
        return refusal.response()
    except web.HTTPException:
        raise
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("webhook %s failed (incident %s)", request.path, incident)
        return web.json_response(
            {"error": f"internal error (incident {incident}); retry later"}, status=500
        )


class Webhooks:
    """What every webhook shares: the device directory, the forwarder and the limits."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.directory = DeviceDirectory(settings)
        self._recent = RecentEvents(settings.ingest_recent_event_ids)
        self._max_ahead = timedelta(seconds=settings.max_clock_skew_seconds)
        self._retention = event_retention(settings)
        self._image_limits = ImageLimits.of(settings)
        self._upload_times = UploadTimes(RECENT_UPLOADS)
        self._follower: ReferenceFollower | None = None
        self._forwarder: Forwarder | None = None

    async def running(self, app: web.Application) -> AsyncIterator[None]:
        """Kafka clients live as long as the app (they bind to the serving loop)."""
        publisher = Publisher(self._settings.bootstrap)
        await publisher.start()
        follower = ReferenceFollower(self._settings.bootstrap, self.directory)
        try:
            await follower.start()
            self._follower = follower
            self._forwarder = Forwarder(
                publisher,
                self._recent,
                timeout=self._settings.ingest_publish_timeout_seconds,
                max_pending=self._settings.ingest_max_pending_events,
                retry_after=self._settings.ingest_retry_after_seconds,
            )
            yield
        finally:
            await follower.stop()
            await publisher.stop()

    def events(self, endpoint: Endpoint) -> Handler:
        async def post_events(request: web.Request) -> web.Response:
            device, body = await self._authenticated(
                request, self._settings.ingest_max_body_bytes, endpoint.device_kinds, endpoint.path
            )
            events = parse_events(
                body, endpoint.record, utc_now(), self._max_ahead, self._retention
            )
            _check_community(device, events)
            return await self._forward(events)

        return post_events

    def snapshots(self, analyse: SnapshotAnalyser) -> Handler:
        async def post_snapshot(request: web.Request) -> web.Response:
            limit = self._settings.ingest_max_snapshot_bytes
            device, body = await self._authenticated(request, limit, CAMERAS, FACE_SNAPSHOTS)
            snapshot = await asyncio.to_thread(
                snapshot_parts, body, request.headers.get("Content-Type", "")
            )
            camera = self._camera(device, snapshot.camera_id)
            _check_image(snapshot.image, self._image_limits)
            at = self._taken_at(snapshot)
            with self._decode_slot():
                try:
                    events = await analyse(snapshot.image, snapshot.camera_id, camera, at)
                except ValueError as exc:
                    raise Refusal(400, f"image: {exc}") from None
            _check_community(device, events)
            return await self._forward(events)

        return post_snapshot

    async def _authenticated(
        self, request: web.Request, limit: int, kinds: frozenset[DeviceKind], path: str
    ) -> tuple[Device, bytes]:
        """The device and the body, read only once the headers name a live device that
        may post here."""
        if self._follower is None or not self._follower.loaded.is_set():
            raise Refusal(
                503,
                "device credentials are still loading",
                retry_after=self._settings.ingest_retry_after_seconds,
            )
        caller = identify(
            request.headers,
            self.directory,
            time.time(),
            self._settings.ingest_signature_window_seconds,
        )
        _check_kind(caller.device, kinds, path)
        body = await _bounded_body(request, limit)
        verify_body(caller, request.headers, body)
        return caller.device, body

    def _taken_at(self, snapshot: Snapshot) -> datetime:
        """The camera's capture time, or the upload's first arrival here."""
        now = utc_now()
        if snapshot.captured_at is None:
            return self._upload_times.first_arrival(snapshot.camera_id, snapshot.digest, now)
        if snapshot.captured_at > now + self._max_ahead:
            ahead = (snapshot.captured_at - now).total_seconds()
            raise Refusal(
                400,
                f"captured_at: {ahead:.0f} s ahead of the server clock "
                f"(allowed: {self._max_ahead.total_seconds():.0f} s)",
            )
        return snapshot.captured_at

    @contextmanager
    def _decode_slot(self) -> Iterator[None]:
        """One of `max_image_decodes` (shared with the API's photos), or 429 now: uploads
        never queue for the models."""
        try:
            with IMAGE_DECODES.slot(self._settings.max_image_decodes):
                yield
        except DecodesBusy as busy:
            retry_after = self._settings.ingest_retry_after_seconds
            raise Refusal(
                429,
                f"{busy.cap} images are being analysed; retry after {retry_after} s",
                retry_after=retry_after,
            ) from None

    def _camera(self, device: Device, camera_id: str) -> Device:
        """A camera may upload for itself, or for a camera of its own community (an NVR)."""
        camera = self.directory.device(camera_id)
        if camera is None or camera.device_kind is not DeviceKind.CAMERA:
            raise Refusal(403, f"camera_id: {camera_id} is not a registered camera")
        if camera.community_id != device.community_id:
            raise Refusal(403, f"camera_id: {camera_id} is not in {device.community_id}")
        return camera

    async def _forward(self, events: Sequence[Event]) -> web.Response:
        assert self._forwarder is not None
        forwarded = await self._forwarder.forward(events)
        return web.json_response(
            {
                "accepted": len(events),
                "published": forwarded.published,
                "duplicates": forwarded.duplicates,
            }
        )


async def _bounded_body(request: web.Request, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it is known to exceed `limit`."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit, request.content_length)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, size: int | None = None) -> Refusal:
    body = "body" if size is None else f"body of {size} bytes"
    return Refusal(
        413, f"{body} exceeds the limit of {limit} bytes; split the batch or shrink the upload"
    )


def _check_image(image: bytes, limits: ImageLimits) -> None:
    """From the image's header: nothing is decoded for an image over the limits."""
    try:
        checked_size(image, limits)
    except ImageTooLarge as exc:
        raise Refusal(413, f"image: {exc}; send a smaller snapshot") from None
    except UnusableImage as exc:
        raise Refusal(400, f"image: {exc}") from None


def _check_kind(device: Device, kinds: frozenset[DeviceKind], path: str) -> None:
    if device.device_kind not in kinds:
        allowed = " or ".join(sorted(k.value for k in kinds))
        raise Refusal(
            403,
            f"device {device.device_id} is a {device.device_kind.value}; "
            f"only {allowed} devices may post to {PREFIX}{path}",
        )


def _check_community(device: Device, events: Sequence[Event]) -> None:
    for index, event in enumerate(events):
        if event.community_id != device.community_id:
            where = f"[{index}] " if len(events) > 1 else ""
            raise Refusal(
                403,
                f"{where}community_id: {event.community_id} is not the community of device "
                f"{device.device_id} ({device.community_id})",
            )

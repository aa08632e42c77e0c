"""Following people and vehicles: face captures, trajectories, a vehicle's record, face crops.

The seed case: a wallet found by following a person across cameras to the unit door they
entered. Each of these lookups follows an identifiable person, so each needs a purpose and
leaves one audit row before its answer leaves the server; the caller's communities are
conditions of every query, never a filter on fetched rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import strawberry
from aiohttp import web

from graphql_api import movement_queries as queries
from graphql_api.access import Caller, Permission
from graphql_api.audit import AuditUnavailable, checked_purpose
from graphql_api.context import ApiContext
from graphql_api.criteria import TimeWindow, checked_plate
from graphql_api.errors import InvalidArgument, NotFound, PublicError, QueryFailed, http_refusal
from graphql_api.facility_types import ParkingSession
from graphql_api.movement_queries import (
    CaptureCriteria,
    FaceSubject,
    MovementEvent,
    PersonSubject,
    PlateSubject,
    SightingKind,
    TrajectorySubject,
)
from graphql_api.movement_types import (
    FACE_CAPTURES_LISTING,
    FaceCapture,
    MonthlyPass,
    Trajectory,
    Vehicle,
    VehicleRegistration,
    sightings_of,
)
from graphql_api.pagination import Cursor, PageRequest
from graphql_api.permissions import needs
from graphql_api.reference_registry import ReferenceRegistry
from graphql_api.resolvers.common import ApiInfo, audit
from graphql_api.types import Alert, Connection, VehiclePassage, connection
from pingan.platform.face_pack import pack_match_threshold
from pingan.platform.settings import get_settings
from schemas.events import AccessMethod, utc_now
from schemas.parking import ParkingPass
from schemas.reference import DeviceKind, ResidentVehicle
from schemas.topics import PARKING_PASSES

log = logging.getLogger(__name__)

MAX_SIGHTINGS = 500
MAX_TRAJECTORY_EVENTS = 10_000
"""Events read for one trajectory before merging into sightings: a person standing in front
of a camera all day must not read the whole day's captures."""
DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=31)
VEHICLE_ITEMS = 20
"""Latest passages, parking stays and alerts shown for a vehicle."""
ID_MAX_LENGTH = 128


@strawberry.type
class MovementQuery:
    @strawberry.field(
        description="Faces seen by cameras, newest first. Embeddings are never served; a "
        "capture's crop is at its cropUrl. Give a purpose (a case number, an incident); "
        "every call is audited.",
        permission_classes=[needs(Permission.READ_BIOMETRICS)],
    )
    async def face_captures(
        self,
        info: ApiInfo,
        purpose: str,
        community_ids: list[strawberry.ID] | None = None,
        camera_ids: list[str] | None = None,
        person_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[FaceCapture]:
        why = checked_purpose(purpose)
        context = info.context
        criteria = CaptureCriteria(
            community_ids=context.caller.scope(community_ids, context.community_ids),
            camera_ids=_checked_ids("cameraIds", camera_ids),
            person_id=None if person_id is None else _checked_id("personId", person_id),
            occurred=TimeWindow.checked(since, until),
        )
        request = PageRequest.parse(FACE_CAPTURES_LISTING, first, after)
        reader = context.api.reader
        page = await queries.face_captures_page(reader, criteria, request)
        await audit(
            info,
            "face_captures",
            {
                "community_ids": community_ids,
                "camera_ids": camera_ids,
                "person_id": person_id,
                "since": since,
                "until": until,
                "first": request.first,
                "after": after,
            },
            result_count=len(page.items),
            purpose=why,
            community_ids=criteria.community_ids,
        )
        return connection(
            [(Cursor(c.occurred_at, c.event_id), FaceCapture.from_stored(c)) for c in page.items],
            FACE_CAPTURES_LISTING,
            page.has_next,
            lambda: queries.count_face_captures(reader, criteria),
        )

    @strawberry.field(
        description="Where one person, face or vehicle was seen, in time order: face "
        "captures, door accesses (every method) and vehicle passages, merged into sightings "
        "with their dwell. Give exactly one of personId, captureId (the person matched on "
        "that capture; for an unknown face, captures of the same face) and plate. The window "
        "is at most 31 days, the last 24 h by default; at most 500 sightings. Give a "
        "purpose; every call is audited.",
        permission_classes=[needs(Permission.READ_BIOMETRICS)],
    )
    async def trajectory(
        self,
        info: ApiInfo,
        purpose: str,
        person_id: str | None = None,
        capture_id: strawberry.ID | None = None,
        plate: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int | None = MAX_SIGHTINGS,
    ) -> Trajectory:
        why = checked_purpose(purpose)
        start, end = trajectory_window(since, until, utc_now())
        window = TimeWindow(since=start, until=end)
        limit = _checked_sightings(first)
        context = info.context
        scope = context.caller.scope(None, context.community_ids)
        subject = await _subject(info, scope, person_id, capture_id, plate)
        events = await queries.trajectory_events(
            context.api.reader, subject, scope, window, MAX_TRAJECTORY_EVENTS + 1
        )
        followed = subject.person_id if isinstance(subject, PersonSubject) else None
        door_crops = await _door_face_crops(info, events, scope, followed)
        sightings = sightings_of(events[:MAX_TRAJECTORY_EVENTS], door_crops)
        truncated = len(events) > MAX_TRAJECTORY_EVENTS or len(sightings) > limit
        sightings = sightings[:limit]
        await audit(
            info,
            "trajectory",
            {
                "person_id": person_id,
                "capture_id": capture_id,
                "plate": plate,
                "since": start,
                "until": end,
                "first": limit,
            },
            result_count=len(sightings),
            purpose=why,
            community_ids=scope,
        )
        return Trajectory(
            person_id=followed,
            capture_id=capture_id,
            plate=subject.plate if isinstance(subject, PlateSubject) else None,
            match_threshold=subject.threshold if isinstance(subject, FaceSubject) else None,
            since=start,
            until=end,
            sightings=sightings,
            truncated=truncated,
        )

    @strawberry.field(
        description="One plate within your communities: whom it is registered to, monthly "
        "passes, the latest 20 passages, parking stays with their fees, and alerts about "
        "it. Give a purpose; every call is audited.",
        permission_classes=[needs(Permission.READ_PLATES)],
    )
    async def vehicle(self, info: ApiInfo, plate: str, purpose: str) -> Vehicle:
        why = checked_purpose(purpose)
        wanted = checked_plate(plate)
        context = info.context
        caller = context.caller
        scope = caller.scope(None, context.community_ids)
        registrations, passes = await _registry(info.context.api.reference_registry, wanted, caller)
        reader = context.api.reader
        passages = await queries.latest_passages(reader, wanted, scope, VEHICLE_ITEMS)
        sessions = await queries.parking_sessions(reader, wanted, scope, VEHICLE_ITEMS)
        alerts = await queries.plate_alerts(
            reader, wanted, scope, caller.visible_types(None), VEHICLE_ITEMS
        )
        await audit(
            info,
            "vehicle",
            {"plate": wanted},
            result_count=len(registrations)
            + len(passes)
            + len(passages)
            + len(sessions)
            + len(alerts),
            purpose=why,
            community_ids=scope,
        )
        return Vehicle(
            plate=wanted,
            registrations=[VehicleRegistration.from_record(r) for r in registrations],
            monthly_passes=[MonthlyPass.from_record(p) for p in passes],
            recent_passages=[VehiclePassage.from_record(p) for p in passages],
            parking_sessions=[ParkingSession.from_record(s) for s in sessions],
            alerts=[Alert.from_record(a) for a in alerts],
        )


def trajectory_window(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """[since, until): the last 24 h by default, never longer than 31 days."""
    window = TimeWindow.bounded(
        since, until, now, default=DEFAULT_WINDOW, longest=MAX_WINDOW, lookup="a trajectory"
    )
    assert window.since is not None and window.until is not None
    return window.since, window.until


def _checked_sightings(first: int | None) -> int:
    size = MAX_SIGHTINGS if first is None else first
    if not 1 <= size <= MAX_SIGHTINGS:
        raise InvalidArgument(
            f"first must be between 1 and {MAX_SIGHTINGS} sightings, got {size}: for a longer "
            "trajectory, ask again with a later since"
        )
    return size


def _checked_id(name: str, value: str) -> str:
    text = value.strip()
    if not text or len(text) > ID_MAX_LENGTH:
        raise InvalidArgument(f"{name} must be an id of 1-{ID_MAX_LENGTH} characters")
    return text


def _checked_ids(name: str, values: list[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    if not values:
        raise InvalidArgument(f"{name} is empty: omit it to include every value")
    return frozenset(_checked_id(name, v) for v in values)


async def _subject(
    info: ApiInfo,
    scope: frozenset[str] | None,
    person_id: str | None,
    capture_id: str | None,
    plate: str | None,
) -> TrajectorySubject:
    given = [v for v in (person_id, capture_id, plate) if v is not None]
    if len(given) != 1:
        raise InvalidArgument("give exactly one of personId, captureId and plate")
    if person_id is not None:
        return PersonSubject(_checked_id("personId", person_id))
    if plate is not None:
        return PlateSubject(checked_plate(plate))
    assert capture_id is not None
    wanted = _checked_id("captureId", capture_id)
    capture = await queries.capture_by_id(info.context.api.reader, wanted, scope)
    if capture is None:
        raise NotFound(f"no face capture with id {wanted!r}")
    if capture.matched_person_id is not None:
        return PersonSubject(capture.matched_person_id)
    return FaceSubject(wanted, await _match_threshold())


class FaceMatchUnavailable(PublicError):
    def __init__(self) -> None:
        super().__init__(
            "this capture matched nobody, and following an unknown face needs the face model "
            "pack's match threshold, which this server cannot read: ask its administrator to "
            "set PINGAN_FACE_MODEL_DIR"
        )


async def _match_threshold() -> float:
    """The pack's own threshold, as the face pipeline matches with: a similar face found
    here is one the pipeline would also have called the same person."""
    threshold = await asyncio.to_thread(pack_match_threshold, get_settings().face_model_dir)
    if threshold is None:
        raise FaceMatchUnavailable
    return threshold


async def _door_face_crops(
    info: ApiInfo,
    events: list[MovementEvent],
    scope: frozenset[str] | None,
    person_id: str | None,
) -> dict[str, str]:
    """The best face crop for each door opened by face, from the cameras at that door."""
    accesses = [
        e
        for e in events
        if e.kind is SightingKind.DOOR_ACCESS and e.method == AccessMethod.FACE.value
    ]
    if not accesses:
        return {}
    api = info.context.api
    cameras_at = await _cameras_at(api.reference_registry, {a.place_id for a in accesses})
    return await queries.door_face_crops(api.reader, accesses, cameras_at, scope, person_id)


async def _cameras_at(
    registry: ReferenceRegistry, doors: Collection[str]
) -> dict[str, frozenset[str]]:
    """Cameras whose device `place` is the door, plus `<door>-cam` (the district's naming,
    as the face pipeline assumes for cameras not yet in the device registry). The registry
    is the API process's live copy; without it only the naming is used: the crop is
    evidence offered when found, not a result."""
    data = await registry.current()
    if data is None:
        log.warning("device registry unreadable, door cameras by name only")
    return {
        door: frozenset(
            {f"{door}-cam"}
            | {
                d.device_id
                for d in (data.devices_at(door) if data is not None else ())
                if d.device_kind is DeviceKind.CAMERA
            }
        )
        for door in doors
    }


async def _registry(
    registry: ReferenceRegistry, plate: str, caller: Caller
) -> tuple[list[ResidentVehicle], list[ParkingPass]]:
    """The plate's registration and monthly passes within the caller's communities, from
    the registries the API follows (they live only on compacted Kafka topics)."""
    data = await registry.current()
    if data is None:
        log.error("the vehicle registry could not be read from Kafka")
        raise QueryFailed
    registration = data.resident_vehicle(plate)
    passes = [
        p
        for p in data.records(PARKING_PASSES).values()
        if p.plate == plate and caller.sees(p.community_id)
    ]
    registered = (
        [registration]
        if registration is not None and caller.sees(registration.community_id)
        else []
    )
    return registered, sorted(passes, key=lambda p: (p.community_id, p.valid_from))


@dataclass(frozen=True)
class CropRequest:
    """A GET of one face crop, after the access middleware has authenticated it."""

    caller: Caller | None
    capture_id: str
    client_address: str


async def serve_face_crop(api: ApiContext, data_dir: Path, request: CropRequest) -> web.Response:
    """The crop's JPEG, to a caller who may see faces in the capture's community.

    A capture outside the caller's communities is answered exactly like a missing one, and
    the file is read only if it resolves inside the crops directory, whatever the stored
    reference says. Each lookup is audited before any byte is sent."""
    if request.caller is None:
        return http_refusal(401, "sign in: send Authorization: Bearer <token>")
    caller = request.caller
    if not caller.may(Permission.READ_BIOMETRICS):
        return http_refusal(
            403,
            f"face crops need the permission {Permission.READ_BIOMETRICS.value!r}, which the "
            f"role {caller.role.value!r} does not have",
        )
    capture_id = request.capture_id
    if not _plain_id(capture_id):
        return http_refusal(400, "not a face capture id: use a cropUrl as the API returned it")
    scope = caller.scope(None, api.community_ids)
    try:
        stored = await queries.stored_crop(api.reader, capture_id, scope)
    except QueryFailed as exc:
        return http_refusal(503, str(exc))
    path = None if stored is None else _crop_file(data_dir, stored.crop_ref)
    jpeg = None if path is None else await asyncio.to_thread(_read_file, path)
    try:
        await api.audit.record(
            caller,
            "face_crop",
            arguments={"capture_id": capture_id},
            client_address=request.client_address,
            result_count=0 if jpeg is None else 1,
            community_ids=scope if stored is None else [stored.community_id],
        )
    except AuditUnavailable as exc:
        return http_refusal(503, str(exc))
    if jpeg is None:
        return http_refusal(404, f"no face crop for capture {capture_id!r}")
    return web.Response(
        body=jpeg,
        content_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def _plain_id(capture_id: str) -> bool:
    """An id, never a path: no separators, no `..`, nothing a file system would interpret."""
    return (
        0 < len(capture_id) <= ID_MAX_LENGTH
        and ".." not in capture_id
        and not any(ch in capture_id for ch in "/\\\0")
    )


def _crop_file(data_dir: Path, crop_ref: str | None) -> Path | None:
    """The crop's path if it resolves (symlinks followed) inside PINGAN_DATA_DIR/crops."""
    if not crop_ref:
        return None
    root = (data_dir / "crops").resolve()
    path = (data_dir / crop_ref).resolve()
    if not path.is_relative_to(root) or path == root:
        log.warning("refused a crop reference outside %s: %r", root, crop_ref)
        return None
    return path


def _read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None

"""The SQL of movement lookups: face captures, trajectories, a vehicle's record, face crops.

Like `graphql_api.queries`, only constant text from this module becomes SQL and every
client value travels as a `{name:Type}` parameter. The caller's communities are always one
of the conditions, so a row outside them is never read. Embeddings never leave ClickHouse:
face similarity is computed in the query, and no query here selects the embedding column.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from graphql_api.criteria import AlertCriteria, PassageCriteria, TimeWindow
from graphql_api.facility_queries import ParkingCriteria, parking_page
from graphql_api.pagination import Page, PageRequest
from graphql_api.queries import (
    ALERT_COLUMNS,
    LATEST_VERSION,
    NEWEST_VERSION_FIRST,
    Conditions,
    EventListing,
    WarehouseReader,
    alert_conditions,
    alert_from_row,
    passages_page,
)
from schemas.alerts import Alert, AlertType, SubjectKind
from schemas.events import VehiclePassage
from schemas.parking import ParkingSession

CAPTURE_COLUMNS = (
    "event_id, community_id, camera_id, occurred_at, quality, matched_person_id, match_score, "
    "crop_ref IS NOT NULL AS has_crop"
)
DOOR_LAST = "kind = 'door_access'"
"""At one moment a unit door's camera sees the face that then opens the door: the door last."""
FACE_SIGHTINGS = (
    "SELECT 'face_capture' AS kind, event_id, toString(community_id) AS community_id, "
    "occurred_at, toString(camera_id) AS place_id, '' AS door_kind, '' AS method, "
    "CAST(NULL, 'Nullable(Bool)') AS granted, '' AS direction, crop_ref IS NOT NULL AS has_crop "
    "FROM face_captures"
)
DOOR_SIGHTINGS = (
    "SELECT 'door_access' AS kind, event_id, toString(community_id) AS community_id, "
    "occurred_at, toString(door_id) AS place_id, toString(door_kind) AS door_kind, "
    "toString(method) AS method, CAST(granted, 'Nullable(Bool)') AS granted, '' AS direction, "
    "false AS has_crop FROM door_access"
)
PASSAGE_SIGHTINGS = (
    "SELECT 'vehicle_passage' AS kind, event_id, toString(community_id) AS community_id, "
    "occurred_at, toString(gate_id) AS place_id, '' AS door_kind, '' AS method, "
    "CAST(NULL, 'Nullable(Bool)') AS granted, toString(direction) AS direction, "
    "false AS has_crop FROM vehicle_passages"
)
SAME_FACE = (
    "length(embedding) = length(probe) AND 1 - cosineDistance(embedding, probe) >= "
    "{threshold:Float64}"
)

DOOR_CROP_MARGIN = timedelta(seconds=30)
"""A face crop counts as a door access's when a camera at that door took it this close in
time: the door's own face reader and the camera beside it see the same moment."""
MAX_DOOR_CROP_CANDIDATES = 10_000


class SightingKind(StrEnum):
    FACE_CAPTURE = "face_capture"
    DOOR_ACCESS = "door_access"
    VEHICLE_PASSAGE = "vehicle_passage"


@dataclass(frozen=True)
class StoredCapture:
    """A face capture as the API may show it: everything but the embedding."""

    event_id: str
    community_id: str
    camera_id: str
    occurred_at: datetime
    quality: float
    matched_person_id: str | None
    match_score: float | None
    has_crop: bool


@dataclass(frozen=True)
class MovementEvent:
    """One event of a trajectory, before consecutive events at one place become a sighting."""

    kind: SightingKind
    event_id: str
    community_id: str
    occurred_at: datetime
    place_id: str
    """The camera, door or gate."""
    door_kind: str
    method: str
    granted: bool | None
    direction: str
    has_crop: bool

    @property
    def place(self) -> tuple[str, str, str, str]:
        return (self.kind.value, self.community_id, self.place_id, self.door_kind)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> MovementEvent:
        return cls(**(row | {"kind": SightingKind(row["kind"])}))


@dataclass(frozen=True)
class CaptureCriteria:
    """Which face captures a listing wants; None in a field means any."""

    community_ids: frozenset[str] | None = None
    camera_ids: frozenset[str] | None = None
    person_id: str | None = None
    occurred: TimeWindow = field(default_factory=TimeWindow)


@dataclass(frozen=True)
class PersonSubject:
    """Face captures matched to the person, and every door access recorded for them."""

    person_id: str


@dataclass(frozen=True)
class PlateSubject:
    plate: str


@dataclass(frozen=True)
class FaceSubject:
    """Captures of the same face as an unmatched capture: cosine similarity of their
    embeddings at least the face model pack's match threshold."""

    capture_id: str
    threshold: float


TrajectorySubject = PersonSubject | PlateSubject | FaceSubject


@dataclass(frozen=True)
class StoredCrop:
    community_id: str
    crop_ref: str | None


def _capture_conditions(criteria: CaptureCriteria) -> Conditions:
    conditions = Conditions()
    conditions.one_of("community_id", criteria.community_ids)
    conditions.one_of("camera_id", criteria.camera_ids)
    if criteria.person_id is not None:
        conditions.equals("matched_person_id", criteria.person_id)
    conditions.within("occurred_at", criteria.occurred)
    return conditions


CAPTURES = EventListing("face_captures", CAPTURE_COLUMNS)


async def face_captures_page(
    reader: WarehouseReader, criteria: CaptureCriteria, request: PageRequest
) -> Page[StoredCapture]:
    """Captures newest first, a camera's retried uploads of one capture collapsed into the
    latest."""
    by_person = criteria.person_id is not None
    rows = await CAPTURES.page(reader, _capture_conditions(criteria), request, by_subject=by_person)
    return Page.from_rows([StoredCapture(**row) for row in rows], request)


async def count_face_captures(reader: WarehouseReader, criteria: CaptureCriteria) -> int:
    conditions = _capture_conditions(criteria)
    return await CAPTURES.count(reader, conditions, by_subject=criteria.person_id is not None)


def _one_capture(capture_id: str, scope: frozenset[str] | None) -> Conditions:
    conditions = Conditions()
    conditions.equals("event_id", capture_id)
    conditions.one_of("community_id", scope)
    return conditions


async def capture_by_id(
    reader: WarehouseReader, capture_id: str, scope: frozenset[str] | None
) -> StoredCapture | None:
    """The capture, if it lies within `scope`; outside it is the same as missing."""
    conditions = _one_capture(capture_id, scope)
    rows = await reader.rows(
        f"SELECT {CAPTURE_COLUMNS} FROM face_captures FINAL {conditions.where} LIMIT 1",
        conditions.params,
    )
    return StoredCapture(**rows[0]) if rows else None


async def trajectory_events(
    reader: WarehouseReader,
    subject: TrajectorySubject,
    scope: frozenset[str] | None,
    window: TimeWindow,
    limit: int,
) -> list[MovementEvent]:
    """The subject's events in time order, at most `limit`, from one query."""
    sql, params = _trajectory_sql(subject, scope, window)
    rows = await reader.rows(
        f"SELECT * FROM ({sql}) ORDER BY occurred_at, {DOOR_LAST}, kind, event_id "
        "LIMIT {limit:UInt32}",
        params | {"limit": limit},
    )
    return [MovementEvent.from_row(row) for row in rows]


def _latest(sightings: str, conditions: Conditions) -> str:
    """The sightings of one table's events, each in its latest version: a lookup by plate or
    person reads the table's projection ordered by it, which FINAL would not."""
    return (
        f"SELECT * FROM ({sightings} {conditions.where} "
        f"ORDER BY {NEWEST_VERSION_FIRST} {LATEST_VERSION})"
    )


def _trajectory_sql(
    subject: TrajectorySubject, scope: frozenset[str] | None, window: TimeWindow
) -> tuple[str, dict[str, Any]]:
    """The UNION ALL of the tables the subject can appear in, each narrowed to the scope."""

    def scoped() -> Conditions:
        conditions = Conditions()
        conditions.one_of("community_id", scope)
        conditions.within("occurred_at", window)
        return conditions

    match subject:
        case PersonSubject(person_id=person_id):
            faces, doors = scoped(), scoped()
            faces.equals("matched_person_id", person_id)
            doors.equals("person_id", person_id)
            return (
                f"{_latest(FACE_SIGHTINGS, faces)} UNION ALL {_latest(DOOR_SIGHTINGS, doors)}",
                faces.params | doors.params,
            )
        case PlateSubject(plate=plate):
            passages = scoped()
            passages.equals("plate", plate)
            return _latest(PASSAGE_SIGHTINGS, passages), passages.params
        case FaceSubject(capture_id=capture_id, threshold=threshold):
            probe = Conditions()
            probe.equals("event_id", capture_id)
            probe.one_of("community_id", scope)
            faces = scoped()
            faces.clauses.append(SAME_FACE)
            faces.params["threshold"] = threshold
            return (
                "WITH (SELECT embedding FROM face_captures FINAL "
                f"{probe.where} LIMIT 1) AS probe {FACE_SIGHTINGS} FINAL {faces.where}",
                probe.params | faces.params,
            )


async def door_face_crops(
    reader: WarehouseReader,
    accesses: Sequence[MovementEvent],
    cameras_at: Mapping[str, Collection[str]],
    scope: frozenset[str] | None,
    person_id: str | None,
) -> dict[str, str]:
    """For each face door access, the best face capture with a crop that a camera at the
    same door took around the same moment, by access event id; one query for all.

    Best means matched to the followed person if any is, then the highest quality. Only
    the accesses' own communities are read (a crop counts in its access's community alone),
    so a trajectory of days does not read every community's captures of those days.
    """
    cameras = sorted({c for a in accesses for c in cameras_at.get(a.place_id, ())})
    if not accesses or not cameras:
        return {}
    communities = {a.community_id for a in accesses}
    conditions = Conditions()
    conditions.one_of("community_id", communities if scope is None else communities & scope)
    conditions.one_of("camera_id", cameras)
    conditions.within(
        "occurred_at",
        TimeWindow(
            since=min(a.occurred_at for a in accesses) - DOOR_CROP_MARGIN,
            until=max(a.occurred_at for a in accesses) + DOOR_CROP_MARGIN,
        ),
    )
    conditions.clauses.append("crop_ref IS NOT NULL")
    rows = await reader.rows(
        f"SELECT {CAPTURE_COLUMNS} FROM face_captures FINAL {conditions.where} "
        "ORDER BY occurred_at LIMIT {limit:UInt32}",
        conditions.params | {"limit": MAX_DOOR_CROP_CANDIDATES},
    )
    captures = [StoredCapture(**row) for row in rows]
    crops: dict[str, str] = {}
    for access in accesses:
        at_door = cameras_at.get(access.place_id, ())
        near = [
            c
            for c in captures
            if c.camera_id in at_door
            and c.community_id == access.community_id
            and abs(c.occurred_at - access.occurred_at) <= DOOR_CROP_MARGIN
        ]
        if near:
            best = max(near, key=lambda c: (c.matched_person_id == person_id, c.quality))
            crops[access.event_id] = best.event_id
    return crops


async def stored_crop(
    reader: WarehouseReader, capture_id: str, scope: frozenset[str] | None
) -> StoredCrop | None:
    """Where a capture's crop is, if the capture lies within `scope`."""
    conditions = _one_capture(capture_id, scope)
    rows = await reader.rows(
        f"SELECT community_id, crop_ref FROM face_captures FINAL {conditions.where} LIMIT 1",
        conditions.params,
    )
    return StoredCrop(**rows[0]) if rows else None


async def latest_passages(
    reader: WarehouseReader, plate: str, scope: frozenset[str] | None, limit: int
) -> list[VehiclePassage]:
    criteria = PassageCriteria(plate=plate, community_ids=scope)
    page = await passages_page(reader, criteria, PageRequest(first=limit, after=None))
    return page.items


async def parking_sessions(
    reader: WarehouseReader, plate: str, scope: frozenset[str] | None, limit: int
) -> list[ParkingSession]:
    """The plate's latest stays, each in its latest revision, as the parking listing reads them."""
    criteria = ParkingCriteria(community_ids=scope, plate=plate, status=None, started=TimeWindow())
    page = await parking_page(reader, criteria, PageRequest(first=limit, after=None))
    return page.items


async def plate_alerts(
    reader: WarehouseReader,
    plate: str,
    scope: frozenset[str] | None,
    types: Iterable[AlertType] | None,
    limit: int,
) -> list[Alert]:
    """Alerts about the plate in their current state, newest first."""
    criteria = AlertCriteria(
        community_ids=scope,
        types=None if types is None else frozenset(types),
        subject_kinds=frozenset({SubjectKind.PLATE}),
    )
    conditions = alert_conditions(criteria)
    conditions.equals("subject", plate)
    rows = await reader.rows(
        f"SELECT {ALERT_COLUMNS} FROM alerts FINAL {conditions.where} "
        "ORDER BY first_seen DESC, alert_id DESC LIMIT {limit:UInt32}",
        conditions.params | {"limit": limit},
    )
    return [alert_from_row(row) for row in rows]

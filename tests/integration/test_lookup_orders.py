"""Lookups by plate and by person read migration 0015's projections without FINAL and keep
each event's latest version themselves (`LATEST_VERSION`): on a store holding several
versions of events, they answer exactly what the FINAL queries they replaced answer.

The store: passages, door accesses and face captures over 40 days (two or three monthly
partitions), written in four inserts. Later inserts re-send earlier events as devices retry
them (a later received_at, another confidence, grant, quality or crop; never another plate or
person), one insert holds three versions of one event, one event id is reused at another
moment (two events for FINAL, which collapses by (community, time, id)), and between the
inserts one month's parts are merged. Merges are stopped otherwise, so the versions stay
until queried. Real chDB, the resolvers' own query functions; the references are the SQL
they replaced.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graphql_api import movement_queries as mq
from graphql_api.criteria import PassageCriteria, TimeWindow
from graphql_api.limits import ReadLimits
from graphql_api.pagination import Cursor, PageRequest
from graphql_api.queries import (
    PASSAGE_COLUMNS,
    Conditions,
    WarehouseReader,
    count_passages,
    passage_conditions,
    passages_page,
)
from pingan.platform.warehouse import EmbeddedWarehouse
from schemas.events import (
    AccessMethod,
    BoundingBox,
    Direction,
    DoorAccess,
    DoorKind,
    Event,
    FaceCapture,
    PlateColour,
    VehiclePassage,
    utc_now,
)
from tests.integration.api_harness import insert_records, prepared_warehouse

pytestmark = pytest.mark.integration

RNG = np.random.default_rng(15)
NOW = utc_now().replace(hour=12, minute=0, second=0, microsecond=0)
START = NOW - timedelta(days=40)
COMMUNITIES = ["c01", "c02", "c03"]
PLATES = ["浙A10001", "浙A10002", "皖H0F2QC", "沪B99999"]
PERSONS = ["c01-p0001", "c01-p0002", "c02-p0003", "c03-p0004"]
TABLES = ("vehicle_passages", "door_access", "face_captures")
EVENTS_PER_TABLE = 160
OTHERS = 240_000
"""Rows of other plates and people in c01 and c02, so that a lookup reads fewer marks from
its projection than from the table, as in any real district: ClickHouse then uses it."""
OTHER_ROWS = {
    "vehicle_passages": (
        "event_id, community_id, occurred_at, received_at, plate, plate_colour, direction, "
        "gate_id, camera_id, confidence",
        "'vehicle-other', 'blue', 'in', concat(community, '-g9'), "
        "concat(community, '-g9-anpr'), 0.9",
    ),
    "door_access": (
        "event_id, community_id, occurred_at, received_at, door_id, door_kind, method, "
        "person_id, granted",
        "concat(community, '-b09-u1'), 'unit_door', 'card', concat(community, '-other'), true",
    ),
    "face_captures": (
        "event_id, community_id, occurred_at, received_at, camera_id, embedding, quality, bbox, "
        "matched_person_id",
        "concat(community, '-b09-u1-cam'), [], 0.7, [], concat(community, '-other')",
    ),
}
REFERENCE_PASSAGES = (
    f"SELECT {PASSAGE_COLUMNS} FROM vehicle_passages FINAL {{where}} "
    "ORDER BY occurred_at DESC, event_id DESC LIMIT {{limit:UInt32}}"
)
REFERENCE_TRAJECTORY = {
    "person": (
        "SELECT * FROM ({faces} FINAL {faces_where} UNION ALL {doors} FINAL {doors_where}) "
        "ORDER BY occurred_at, kind, event_id LIMIT {{limit:UInt32}}"
    ),
    "plate": (
        "SELECT * FROM ({passages} FINAL {where}) "
        "ORDER BY occurred_at, kind, event_id LIMIT {{limit:UInt32}}"
    ),
}


def _at(rng: np.random.Generator) -> datetime:
    """A moment in the last 40 days at millisecond precision, as ClickHouse stores it."""
    return START + timedelta(milliseconds=int(rng.integers(0, 40 * 86_400_000)))


def _passage(n: int) -> VehiclePassage:
    at = _at(RNG)
    gate = f"{RNG.choice(COMMUNITIES)}-g{RNG.integers(1, 3)}"
    return VehiclePassage(
        event_id=f"vp-{n}",
        community_id=gate[:3],
        occurred_at=at,
        received_at=at + timedelta(milliseconds=200),
        plate=str(RNG.choice(PLATES)),
        plate_colour=PlateColour.BLUE,
        direction=Direction.IN,
        gate_id=gate,
        camera_id=f"{gate}-anpr",
        confidence=0.9,
    )


def _door(n: int) -> DoorAccess:
    at = _at(RNG)
    community = str(RNG.choice(COMMUNITIES))
    method = AccessMethod.FACE if RNG.random() < 0.5 else AccessMethod.CARD
    return DoorAccess(
        event_id=f"da-{n}",
        community_id=community,
        occurred_at=at,
        received_at=at + timedelta(milliseconds=200),
        door_id=f"{community}-b0{RNG.integers(1, 3)}-u1",
        door_kind=DoorKind.UNIT_DOOR,
        method=method,
        person_id=str(RNG.choice(PERSONS)) if RNG.random() < 0.9 else None,
        granted=True,
    )


def _capture(n: int, door: DoorAccess | None) -> FaceCapture:
    """At `door`'s camera (its `-cam`) within about a minute of the access, if given."""
    if door is None:
        at, community = _at(RNG), str(RNG.choice(COMMUNITIES))
        camera = f"{community}-b0{RNG.integers(1, 3)}-u1-cam"
    else:
        at = door.occurred_at + timedelta(milliseconds=int(RNG.integers(-45_000, 45_000)))
        community, camera = door.community_id, f"{door.door_id}-cam"
    person = str(RNG.choice(PERSONS)) if RNG.random() < 0.8 else None
    embedding = RNG.normal(size=128)
    return FaceCapture(
        event_id=f"fc-{n}",
        community_id=community,
        occurred_at=at,
        received_at=at + timedelta(milliseconds=300),
        camera_id=camera,
        embedding=[float(v) for v in embedding / np.linalg.norm(embedding)],
        quality=0.7,
        bbox=BoundingBox(x=1, y=2, width=30, height=36),
        matched_person_id=person,
        match_score=0.7 if person else None,
        crop_ref=f"crops/{community}/fc-{n}.jpg" if RNG.random() < 0.7 else None,
    )


def _retried(event: Event, attempt: int) -> Event:
    """The same event as a device (or the face pipeline) sends it again: what changes is
    what a retry may change, never the plate or the person."""
    later = {"received_at": event.received_at + timedelta(seconds=5 * attempt)}
    match event:
        case VehiclePassage():
            return event.model_copy(
                update=later
                | {
                    "confidence": round(0.5 + 0.07 * attempt, 2),
                    "direction": Direction.OUT if attempt % 2 else Direction.IN,
                    "snapshot_ref": f"snap/{event.event_id}-{attempt}.jpg",
                }
            )
        case DoorAccess():
            return event.model_copy(update=later | {"granted": attempt % 2 == 0})
        case FaceCapture():
            crop = None if attempt % 2 else f"crops/{event.community_id}/{event.event_id}.jpg"
            return event.model_copy(
                update=later | {"quality": round(0.5 + 0.07 * attempt, 2), "crop_ref": crop}
            )
    raise AssertionError(event)


@dataclass(frozen=True)
class Store:
    warehouse: EmbeddedWarehouse
    reader: WarehouseReader
    written: dict[str, list[Event]]
    """Every version of every event, by table, in the order they were written."""


def _batches(events: Sequence[Event]) -> list[list[Event]]:
    """Four inserts: new events in each, and versions of earlier ones in the later three."""
    reused = events[0].model_copy(update={"occurred_at": events[0].occurred_at + timedelta(1)})
    quarter = EVENTS_PER_TABLE // 4
    batches: list[list[Event]] = [[*events[:quarter], reused]]
    for k in range(1, 4):
        earlier = [e for batch in batches for e in batch]
        chosen = RNG.choice(len(earlier), size=len(earlier) // 3, replace=False)
        versions = [_retried(earlier[i], k) for i in sorted(chosen)]
        batches.append([*events[k * quarter : (k + 1) * quarter], *versions])
    twice = batches[2][0]
    batches[2] += [_retried(twice, 5), _retried(twice, 6)]
    return batches


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    data_dir: Path = tmp_path_factory.mktemp("lookup-orders")
    with prepared_warehouse(data_dir) as warehouse:
        written: dict[str, list[Event]] = {}
        doors = [_door(n) for n in range(EVENTS_PER_TABLE)]
        batches = {
            "vehicle_passages": _batches([_passage(n) for n in range(EVENTS_PER_TABLE)]),
            "door_access": _batches(doors),
            "face_captures": _batches(
                [_capture(n, doors[n] if n % 2 else None) for n in range(EVENTS_PER_TABLE)]
            ),
        }
        middle_month = f"{(NOW - timedelta(days=20)):%Y%m}"
        for table, (columns, values) in OTHER_ROWS.items():
            warehouse.command(
                f"INSERT INTO {table} ({columns}) "
                "WITH if(number % 2, 'c01', 'c02') AS community, "
                f"{{start:DateTime64(3, 'UTC')}} + toIntervalMillisecond(number * 14000) AS at "
                f"SELECT concat('other-', toString(number)), community, at, at, {values} "
                f"FROM numbers({OTHERS})",
                {"start": START},
            )
        for table in TABLES:
            warehouse.command(f"SYSTEM STOP MERGES {table}")
        for k in range(4):
            for table in TABLES:
                insert_records(warehouse, table, batches[table][k])
                written.setdefault(table, []).extend(batches[table][k])
                if k == 1:
                    warehouse.command(f"SYSTEM START MERGES {table}")
                    warehouse.command(f"OPTIMIZE TABLE {table} PARTITION {middle_month}")
                    warehouse.command(f"SYSTEM STOP MERGES {table}")
        for table in TABLES:
            stored = warehouse.query(f"SELECT count() AS n FROM {table}")[0]["n"]
            events = warehouse.query(f"SELECT count() AS n FROM {table} FINAL")[0]["n"]
            assert stored > events + 20, f"{table}: too few versions left to compare"
        yield Store(warehouse, WarehouseReader(warehouse, ReadLimits()), written)


SCOPES: list[frozenset[str] | None] = [None, frozenset({"c01"}), frozenset({"c02", "c03"})]
WINDOWS = [
    TimeWindow(),
    TimeWindow(since=NOW - timedelta(days=14), until=NOW),
    TimeWindow(since=START + timedelta(days=5), until=NOW - timedelta(days=20)),
]


EVERYTHING = TimeWindow(since=START - timedelta(days=1), until=NOW + timedelta(days=2))
TRAJECTORY_WINDOWS = [*WINDOWS[1:], EVERYTHING]


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("window", WINDOWS)
async def test_a_plates_passages_page_by_page_and_their_count_are_finals(
    store: Store, scope: frozenset[str] | None, window: TimeWindow
) -> None:
    for plate in PLATES:
        criteria = PassageCriteria(plate=plate, community_ids=scope, occurred=window)
        after: Cursor | None = None
        seen = 0
        while True:
            request = PageRequest(first=7, after=after)
            page = await passages_page(store.reader, criteria, request)
            conditions = passage_conditions(criteria)
            conditions.older_than("occurred_at", "event_id", after)
            expected = await store.reader.rows(
                REFERENCE_PASSAGES.format(where=conditions.where),
                conditions.params | {"limit": request.limit},
            )
            assert [p.model_dump() for p in page.items] == [
                VehiclePassage.model_validate(row).model_dump() for row in expected[:7]
            ]
            assert page.has_next == (len(expected) > 7)
            seen += len(page.items)
            if not page.has_next:
                break
            after = Cursor(page.items[-1].occurred_at, page.items[-1].event_id)
        counted = passage_conditions(criteria)
        [final] = await store.reader.rows(
            f"SELECT count() AS n FROM vehicle_passages FINAL {counted.where}", counted.params
        )
        assert await count_passages(store.reader, criteria) == final["n"] == seen


async def test_the_versions_kept_are_the_latest_written(store: Store) -> None:
    """Not merely some version: the last one each event was written in."""
    latest: dict[tuple[str, datetime, str], VehiclePassage] = {}
    for passage in store.written["vehicle_passages"]:
        assert isinstance(passage, VehiclePassage)
        latest[(passage.community_id, passage.occurred_at, passage.event_id)] = passage
    for plate in PLATES:
        page = await passages_page(
            store.reader, PassageCriteria(plate=plate), PageRequest(first=500, after=None)
        )
        wanted = sorted(
            (p for p in latest.values() if p.plate == plate),
            key=lambda p: (p.occurred_at, p.event_id),
            reverse=True,
        )
        assert [_version(p) for p in page.items] == [_version(p) for p in wanted]


def _version(p: VehiclePassage) -> tuple[object, ...]:
    """What tells the versions of a passage apart (confidence is stored as Float32)."""
    return (p.event_id, p.community_id, p.occurred_at, p.received_at, p.snapshot_ref, p.direction)


def _reference_trajectory(
    subject: mq.TrajectorySubject, scope: frozenset[str] | None, window: TimeWindow
) -> tuple[str, dict[str, Any]]:
    def scoped() -> Conditions:
        conditions = Conditions()
        conditions.one_of("community_id", scope)
        conditions.within("occurred_at", window)
        return conditions

    if isinstance(subject, mq.PersonSubject):
        faces, doors = scoped(), scoped()
        faces.equals("matched_person_id", subject.person_id)
        doors.equals("person_id", subject.person_id)
        sql = REFERENCE_TRAJECTORY["person"].format(
            faces=mq.FACE_SIGHTINGS,
            faces_where=faces.where,
            doors=mq.DOOR_SIGHTINGS,
            doors_where=doors.where,
        )
        return sql, faces.params | doors.params
    assert isinstance(subject, mq.PlateSubject)
    passages = scoped()
    passages.equals("plate", subject.plate)
    sql = REFERENCE_TRAJECTORY["plate"].format(passages=mq.PASSAGE_SIGHTINGS, where=passages.where)
    return sql, passages.params


SUBJECTS: list[mq.TrajectorySubject] = [
    *(mq.PersonSubject(p) for p in PERSONS),
    *(mq.PlateSubject(p) for p in PLATES),
]


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("limit", [10_001, 5])
async def test_trajectories_are_finals(
    store: Store, scope: frozenset[str] | None, limit: int
) -> None:
    compared = 0
    for subject in SUBJECTS:
        for window in TRAJECTORY_WINDOWS:
            events = await mq.trajectory_events(store.reader, subject, scope, window, limit)
            sql, params = _reference_trajectory(subject, scope, window)
            expected = await store.reader.rows(sql, params | {"limit": limit})
            assert events == [mq.MovementEvent.from_row(row) for row in expected], subject
            compared += len(events)
    assert compared > 2 * len(SUBJECTS) * len(TRAJECTORY_WINDOWS)


@pytest.mark.parametrize("scope", SCOPES)
async def test_a_persons_face_captures_and_their_count_are_finals(
    store: Store, scope: frozenset[str] | None
) -> None:
    for person in PERSONS:
        criteria = mq.CaptureCriteria(community_ids=scope, person_id=person)
        page = await mq.face_captures_page(store.reader, criteria, PageRequest(500, None))
        conditions = Conditions()
        conditions.one_of("community_id", scope)
        conditions.equals("matched_person_id", person)
        expected = await store.reader.rows(
            f"SELECT {mq.CAPTURE_COLUMNS} FROM face_captures FINAL {conditions.where} "
            "ORDER BY occurred_at DESC, event_id DESC",
            conditions.params,
        )
        assert page.items == [mq.StoredCapture(**row) for row in expected]
        assert await mq.count_face_captures(store.reader, criteria) == len(expected)


async def test_door_crops_are_the_best_capture_at_the_door_of_the_accesss_community(
    store: Store,
) -> None:
    """Narrowed to the accesses' communities, the crops are those the rule picks among all
    current captures (FINAL) of the scope."""
    captures = [
        mq.StoredCapture(**row)
        for row in await store.reader.rows(
            f"SELECT {mq.CAPTURE_COLUMNS} FROM face_captures FINAL WHERE crop_ref IS NOT NULL",
            {},
        )
    ]
    found = 0
    for person in PERSONS:
        events = await mq.trajectory_events(
            store.reader, mq.PersonSubject(person), None, EVERYTHING, 10_001
        )
        accesses = [e for e in events if e.kind is mq.SightingKind.DOOR_ACCESS]
        cameras_at = {a.place_id: frozenset({f"{a.place_id}-cam"}) for a in accesses}
        crops = await mq.door_face_crops(store.reader, accesses, cameras_at, None, person)
        expected = {}
        for access in accesses:
            near = [
                c
                for c in captures
                if c.camera_id == f"{access.place_id}-cam"
                and c.community_id == access.community_id
                and abs(c.occurred_at - access.occurred_at) <= mq.DOOR_CROP_MARGIN
            ]
            if near:
                best = max(near, key=lambda c: (c.matched_person_id == person, c.quality))
                expected[access.event_id] = best.event_id
        assert crops == expected
        found += len(crops)
    assert found > 10, "too few door crops to compare"


class RecordingReader(WarehouseReader):
    def __init__(self, warehouse: EmbeddedWarehouse) -> None:
        super().__init__(warehouse, ReadLimits())
        self.queries: list[tuple[str, dict[str, Any]]] = []

    async def rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.queries.append((sql, params))
        return await super().rows(sql, params)


@pytest.mark.parametrize(
    ("lookup", "projections"),
    [
        ("passages", ["by_plate"]),
        ("count_passages", ["by_plate"]),
        ("trajectory_person", ["by_person"]),
        ("trajectory_plate", ["by_plate"]),
        ("captures", ["by_person"]),
        ("count_captures", ["by_person"]),
    ],
)
async def test_each_lookup_can_be_answered_from_its_projection(
    store: Store, lookup: str, projections: list[str]
) -> None:
    """ClickHouse refuses the query if it cannot use the projection (FINAL, or a column the
    projection lacks, would)."""
    reader = RecordingReader(store.warehouse)
    window = TimeWindow(since=NOW - timedelta(days=14), until=NOW)
    scope = frozenset({"c01", "c02"})
    match lookup:
        case "passages":
            criteria = PassageCriteria(plate=PLATES[0], community_ids=scope, occurred=window)
            await passages_page(reader, criteria, PageRequest(50, None))
        case "count_passages":
            await count_passages(reader, PassageCriteria(plate=PLATES[0], community_ids=scope))
        case "trajectory_person":
            await mq.trajectory_events(reader, mq.PersonSubject(PERSONS[0]), scope, window, 10)
        case "trajectory_plate":
            await mq.trajectory_events(reader, mq.PlateSubject(PLATES[0]), None, window, 10)
        case "captures":
            criteria = mq.CaptureCriteria(community_ids=scope, person_id=PERSONS[0])
            await mq.face_captures_page(reader, criteria, PageRequest(50, None))
        case "count_captures":
            criteria = mq.CaptureCriteria(person_id=PERSONS[0], occurred=window)
            await mq.count_face_captures(reader, criteria)
    [(sql, params)] = reader.queries
    for projection in projections:
        store.warehouse.query(
            f"{sql} SETTINGS preferred_optimize_projection_name = '{projection}', "
            f"force_optimize_projection_name = '{projection}'",
            params,
        )

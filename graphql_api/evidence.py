"""What an alert's evidence shows an officer beyond its one-line summary: the throw's floor
and window, the pictures a camera kept, whether a face crop exists, and a charging-shed
slot's temperature around an overheat.

Read only when a client asks for these fields (the console's alert detail), by the events'
primary key, so a page of alerts costs nothing extra. The caller already sees the alert;
what its evidence adds is what the alert is about, within the same community.
"""

from __future__ import annotations

import asyncio
import base64
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from graphql_api.queries import WarehouseReader

CROPS_PATH = "/graphql/crops/"
"""Face crops are served here, by capture id, to callers who may see faces (see the README)."""
TIMESTAMP = "DateTime64(3, 'UTC')"

MAX_KEYS_PER_QUERY = 100
MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024
"""A camera's JPEG frame is tens of KB; anything larger is not a snapshot."""
SNAPSHOT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
CURVE_BEFORE = timedelta(minutes=30)
CURVE_AFTER = timedelta(minutes=10)
CURVE_LONGEST = timedelta(hours=6)
"""An overheat kept open for days still draws the hours around its start."""
MAX_CURVE_POINTS = 1000
TEMPERATURE_METRIC = "temperature_c"

_NO_REFS = "CAST([], 'Array(String)') AS snapshot_refs"
_NO_THROW = "CAST(NULL, 'Nullable(Int16)') AS floor, CAST(NULL, 'Nullable(UInt8)') AS window_column"
EVENT_DETAIL_COLUMNS = {
    "vehicle_passage": (
        "vehicle_passages",
        "if(isNull(snapshot_ref), CAST([], 'Array(String)'), [assumeNotNull(snapshot_ref)]) "
        f"AS snapshot_refs, {_NO_THROW}, false AS has_crop",
    ),
    "camera_analytics": (
        "camera_analytics",
        "snapshot_refs, floor, window_column, false AS has_crop",
    ),
    "face_capture": (
        "face_captures",
        f"{_NO_REFS}, {_NO_THROW}, crop_ref IS NOT NULL AS has_crop",
    ),
}
"""Event kinds whose rows add to an alert's evidence, and the same columns from each."""


@dataclass(frozen=True)
class EvidenceKey:
    """The event tables' primary key, so one evidence line reads one granule."""

    event_kind: str
    community_id: str
    occurred_at: datetime
    event_id: str


@dataclass(frozen=True)
class EventDetail:
    snapshot_refs: tuple[str, ...] = ()
    floor: int | None = None
    window_column: int | None = None
    has_crop: bool = False


async def event_details(
    reader: WarehouseReader, keys: list[EvidenceKey]
) -> list[EventDetail | None]:
    """Each key's detail, None where the event is of another kind or no longer stored."""
    by_kind: dict[str, list[EvidenceKey]] = defaultdict(list)
    for key in keys:
        if key.event_kind in EVENT_DETAIL_COLUMNS:
            by_kind[key.event_kind].append(key)
    found: dict[EvidenceKey, EventDetail] = {}
    for kind, kind_keys in by_kind.items():
        for start in range(0, len(kind_keys), MAX_KEYS_PER_QUERY):
            chunk = kind_keys[start : start + MAX_KEYS_PER_QUERY]
            found |= await _details_of(reader, kind, chunk)
    return [found.get(key) for key in keys]


async def _details_of(
    reader: WarehouseReader, kind: str, keys: list[EvidenceKey]
) -> dict[EvidenceKey, EventDetail]:
    table, columns = EVENT_DETAIL_COLUMNS[kind]
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for i, key in enumerate(keys):
        clauses.append(
            f"(community_id = {{c{i}:String}} AND occurred_at = {{t{i}:{TIMESTAMP}}} "
            f"AND event_id = {{e{i}:String}})"
        )
        params |= {f"c{i}": key.community_id, f"t{i}": key.occurred_at, f"e{i}": key.event_id}
    rows = await reader.rows(
        f"SELECT event_id, {columns} FROM {table} FINAL PREWHERE {' OR '.join(clauses)}", params
    )
    by_id = {
        row["event_id"]: EventDetail(
            snapshot_refs=tuple(row["snapshot_refs"]),
            floor=row["floor"],
            window_column=row["window_column"],
            has_crop=bool(row["has_crop"]),
        )
        for row in rows
    }
    return {key: by_id[key.event_id] for key in keys if key.event_id in by_id}


def crop_url(capture_id: str) -> str:
    return CROPS_PATH + quote(capture_id, safe="")


def _snapshot_path(data_dir: Path, ref: str) -> Path | None:
    """A ref is a path under the data directory (as cameras and the simulator write them);
    anything leading out of it, or not a picture, is not served."""
    root = data_dir.resolve()
    path = (root / ref).resolve()
    if not path.is_relative_to(root) or path.suffix.lower() not in SNAPSHOT_TYPES:
        return None
    return path


def _read_snapshot(data_dir: Path, ref: str) -> str | None:
    path = _snapshot_path(data_dir, ref)
    if path is None or not path.is_file() or path.stat().st_size > MAX_SNAPSHOT_BYTES:
        return None
    encoded = base64.b64encode(path.read_bytes()).decode()
    return f"data:{SNAPSHOT_TYPES[path.suffix.lower()]};base64,{encoded}"


async def snapshot_image(data_dir: Path, ref: str) -> str | None:
    """The picture as a data: URL, or None when this server does not keep the file."""
    return await asyncio.to_thread(_read_snapshot, data_dir, ref)


def curve_window(first_seen: datetime, last_seen: datetime) -> tuple[datetime, datetime]:
    until = min(last_seen, first_seen + CURVE_LONGEST) + CURVE_AFTER
    return first_seen - CURVE_BEFORE, until


async def slot_temperatures(
    reader: WarehouseReader, community_id: str, device_id: str, since: datetime, until: datetime
) -> list[tuple[datetime, float]]:
    """The slot's temperature readings in [since, until), oldest first."""
    rows = await reader.rows(
        f"SELECT occurred_at, metrics[{{metric:String}}] AS value FROM device_telemetry FINAL "
        f"PREWHERE community_id = {{community_id:String}} "
        f"AND occurred_at >= {{since:{TIMESTAMP}}} AND occurred_at < {{until:{TIMESTAMP}}} "
        "WHERE device_id = {device_id:String} AND mapContains(metrics, {metric:String}) "
        "ORDER BY occurred_at LIMIT {limit:UInt32}",
        {
            "metric": TEMPERATURE_METRIC,
            "community_id": community_id,
            "device_id": device_id,
            "since": since,
            "until": until,
            "limit": MAX_CURVE_POINTS,
        },
    )
    return [(row["occurred_at"], float(row["value"])) for row in rows]

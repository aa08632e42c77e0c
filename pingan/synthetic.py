"""Synthetic district history for sizing and benchmarks (`pingan load-synthetic`).

Months of a district's data cannot be replayed through Kafka and the rules in reasonable
time, yet API latency only means something on a store of production size. This fills the
configured warehouse directly with rows shaped like the district's, drawn from the
simulator's own reference data (communities, gates, unit doors, residents and their cars,
devices):

- vehicle passages: residents' cars at their own community's gates (now and then at
  another's), and visitors' plates from a pool with a long tail, so delivery riders and
  taxis reappear at many gates of many communities;
- door access: residents at their unit door or a pedestrian gate by face, card, ID card,
  QR or password; visitors by QR or password, without a person;
- face captures: 128-d unit embeddings around one centre per resident and rider, with
  noise that grows as quality drops (residents matched from quality 0.6 on), and strangers
  who resemble nobody; `crop_ref` is null, as no crop file exists;
- device telemetry from every device of the district, around the clock;
- alerts of every type in a realistic mix, each stored in its versions (open, acknowledged,
  resolved), so that `FINAL` has the work it has in production.

People move by the district's hourly rhythm (ingest/simulator/rhythm.py) over `days`
ending now. Rows are generated in vectorised batches (numpy → Arrow) and written with
`Warehouse.insert`, never row by row and never through Kafka; the next batch is generated
while the current one is inserted, so memory holds two batches at most.

Every synthetic row has `kafka_partition` = 65535, a partition no topic has: the sink's
replay watermarks (kept per real partition) never skip a real message because of them, and
they can be counted or deleted apart from what a worker wrote.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.simulator.district import (
    CITY_LETTERS,
    EMBEDDING_DIMS,
    HOME_CITY_SHARE,
    PROVINCE_WEIGHTS,
    PROVINCES,
    SERIAL_DIGITS,
    SERIAL_LETTERS,
    CameraRole,
    ChargingSlot,
    Device,
    District,
    Site,
)
from ingest.simulator.everyday import (
    RESIDENT_METHOD_WEIGHTS,
    RESIDENT_METHODS,
    VISITOR_METHOD_WEIGHTS,
    VISITOR_METHODS,
)
from ingest.simulator.rhythm import MOVEMENT_BY_HOUR, OUTBOUND_BY_HOUR, UTC_OFFSET_HOURS
from pingan.platform.district import load_communities
from pingan.platform.warehouse import Warehouse
from schemas.alerts import AlertStatus, AlertType, Severity, SubjectKind
from schemas.events import SCHEMA_VERSION, AccessMethod, DeviceKind, utc_now

SYNTHETIC_PARTITION = 65535
"""`kafka_partition` of every synthetic row: no topic has that many partitions."""
EVENT_SHARES = {"vehicle_passages": 0.30, "door_access": 0.45, "device_telemetry": 0.25}
"""How `--events` splits between the event tables; face captures are counted apart."""
EVENTS_PER_ALERT = 1_000
BATCH_ROWS = 1_000_000
CAPTURE_BATCH_ROWS = 100_000
"""Captures carry 128 floats each: 100k rows are ~50 MB of embeddings."""
ALERT_BATCH_ROWS = 200_000
"""Distinct alerts per batch: each becomes 1-3 rows, one per version."""
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

RESIDENT_CAR_SHARE = 0.6
RESIDENT_CAR_AWAY_SHARE = 0.1
"""Of residents' passages, the share at another community's gate (visiting, shopping)."""
VISITOR_POOL_PER_EVENT = 0.02
VISITOR_POOL_LIMITS = (10_000, 1_000_000)
VISITOR_TAIL = 2.0
"""Visitor plate = pool[size × u²]: the top 1% of plates make a tenth of all visits."""
PLATE_COLOURS = ("blue", "green", "yellow")
PLATE_COLOUR_WEIGHTS = (75, 15, 10)
RESIDENT_DOOR_SHARE = 0.8
HOME_SHARE = {"resident": 0.8, "visitor": 0.6}
GRANTED = {"resident": 0.985, "visitor": 0.92}
RESIDENT_FACE_SHARE = 0.75
RIDER_FACE_SHARE = 0.125
MATCH_MIN_QUALITY = 0.6
OFFLINE_SHARE = 0.003
KIND_METRIC = {
    DeviceKind.CAMERA: ("cpu_pct", 10.0, 70.0),
    DeviceKind.DOOR: ("rssi_dbm", -85.0, -45.0),
    DeviceKind.FENCE_CONTROLLER: ("pulse_kv", 7.5, 9.5),
    DeviceKind.SMOKE_DETECTOR: ("obscuration_pct", 0.0, 0.4),
    DeviceKind.BRACELET_GATEWAY: ("connected", 5.0, 12.0),
    DeviceKind.CHARGING_SHED: ("temperature_c", 16.0, 38.0),
}
"""Each kind's own reading besides `online` and `uptime_s`, with its everyday range."""
RECENT_MS = DAY_MS
"""Alerts younger than this are more often still open or only acknowledged."""


@dataclass(frozen=True)
class AlertKind:
    """One alert type: its share of the mix, what it is about and how severe it is."""

    alert_type: AlertType
    weight: float
    subjects: str
    """The group of SUBJECTS its subject is drawn from."""
    event_kind: str
    severities: tuple[Severity, Severity]
    acknowledged_share: float
    """Of its resolved alerts, those an officer acknowledged first (the others cleared by
    themselves, e.g. a device reporting again)."""


ALERT_TABLE = (
    # alert type, weight, subjects, evidence event kind, severities, acknowledged share
    ("DEVICE_OFFLINE", 22, "device", "device_telemetry", "medium", 0.2),
    ("PERIMETER_INTRUSION", 12, "fence_zone", "perimeter_alarm", "critical/high", 0.9),
    ("EBIKE_IN_ELEVATOR", 10, "elevator_camera", "camera_analytics", "medium", 0.7),
    ("STRAY_DOG", 8, "community", "camera_analytics", "low", 0.5),
    ("BLOCKED_FIRE_PASSAGE", 8, "public_camera", "camera_analytics", "high", 0.8),
    ("OVERSTAY_VEHICLE", 8, "plate", "vehicle_passage", "low", 0.3),
    ("BRACELET_LOW_BATTERY", 8, "bracelet", "bracelet_reading", "low", 0.3),
    ("ROAMING_VEHICLE", 5, "plate", "vehicle_passage", "medium", 0.8),
    ("POSSIBLE_WATCHLIST_PLATE", 3, "plate", "vehicle_passage", "medium", 0.9),
    ("BRACELET_INACTIVE", 3, "bracelet", "bracelet_reading", "high", 0.9),
    ("BRACELET_GEOFENCE_EXIT", 3, "bracelet", "bracelet_reading", "high", 0.9),
    ("WATCHLIST_PLATE", 2, "plate", "vehicle_passage", "critical/high", 1.0),
    ("CHARGING_OVERHEAT", 2, "shed_slot", "device_telemetry", "critical", 1.0),
    ("ELDERLY_NOT_SEEN", 2, "elderly_alone", "door_access", "high", 1.0),
    ("HIGH_ALTITUDE_THROW", 1, "facade_camera", "camera_analytics", "high", 1.0),
    ("CLONED_PLATE", 1, "plate", "vehicle_passage", "high", 1.0),
    ("BRACELET_SOS", 1, "bracelet", "bracelet_reading", "critical", 1.0),
    ("GROUP_RENTING", 0.5, "unit", "door_access", "medium", 1.0),
    ("MLM_GATHERING", 0.3, "unit", "face_capture", "high", 1.0),
    ("KNOWN_MLM_RETURN", 0.2, "visitor", "face_capture", "high", 1.0),
)
"""A district's month: device outages and fence alarms lead, watchlist hits are rare."""
ALERT_MIX = tuple(
    AlertKind(
        AlertType(alert_type),
        weight,
        subjects,
        event_kind,
        (Severity(severities.split("/")[0]), Severity(severities.split("/")[-1])),
        acknowledged,
    )
    for alert_type, weight, subjects, event_kind, severities, acknowledged in ALERT_TABLE
)
FINAL_STATUS = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED)
FINAL_STATUS_WEIGHTS = {"recent": (0.45, 0.30, 0.25), "older": (0.04, 0.06, 0.90)}


@dataclass(frozen=True)
class SyntheticPlan:
    """What to load: sizes, span (ending at `end`) and the district (its first
    `communities` communities, built from `seed`)."""

    events: int
    captures: int
    days: float = 30.0
    communities: int = 42
    seed: int = 1
    end: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        total = len(load_communities())
        if not 1 <= self.communities <= total:
            raise ValueError(f"communities must be between 1 and {total}, got {self.communities}")
        if self.events < 0 or self.captures < 0:
            raise ValueError("events and captures must not be negative")
        if not 0 < self.days <= 365:
            raise ValueError(f"days must be more than 0 and at most 365, got {self.days}")

    def table_rows(self) -> dict[str, int]:
        """Rows per event table and of face captures; the last event table takes what
        rounding leaves, so they add up to `events`."""
        names = list(EVENT_SHARES)
        rows = {name: int(self.events * EVENT_SHARES[name]) for name in names[:-1]}
        rows[names[-1]] = self.events - sum(rows.values())
        rows["face_captures"] = self.captures
        return rows

    @property
    def alerts(self) -> int:
        """Distinct alerts: one per EVENTS_PER_ALERT events, each stored in 1-3 versions."""
        return math.ceil(self.events / EVENTS_PER_ALERT)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)

    @property
    def start_ms(self) -> int:
        return self.end_ms - int(self.days * DAY_MS)


@dataclass
class TableLoad:
    table: str
    rows: int = 0
    generate_seconds: float = 0.0
    insert_seconds: float = 0.0

    @property
    def busy_seconds(self) -> float:
        return self.generate_seconds + self.insert_seconds


@dataclass
class LoadReport:
    """Rows written per table and where the time went."""

    plan: SyntheticPlan
    tables: list[TableLoad]
    wall_seconds: float

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.wall_seconds if self.wall_seconds else 0.0

    def seconds_for(self, events: int, captures: int) -> float:
        """The wall time another size would take at this run's per-table rates: what the
        issue's 100M events and 10M captures would cost on this machine."""
        other = SyntheticPlan(events=events, captures=captures, communities=self.plan.communities)
        wanted = other.table_rows() | {"alerts": other.alerts * self._alert_versions()}
        busy = sum(t.busy_seconds for t in self.tables)
        overlap = self.wall_seconds / busy if busy else 1.0
        return overlap * sum(
            wanted.get(t.table, 0) * t.busy_seconds / t.rows for t in self.tables if t.rows
        )

    def _alert_versions(self) -> float:
        rows = sum(t.rows for t in self.tables if t.table == "alerts")
        return rows / self.plan.alerts if self.plan.alerts else 2.0

    def render(self) -> str:
        lines = [f"{'table':18}{'rows':>13}{'rows/s':>12}{'generate s':>12}{'insert s':>10}"]
        for t in self.tables:
            rate = t.rows / t.busy_seconds if t.busy_seconds else 0.0
            lines.append(
                f"{t.table:18}{t.rows:>13,}{rate:>12,.0f}{t.generate_seconds:>12.1f}"
                f"{t.insert_seconds:>10.1f}"
            )
        lines.append(
            f"{'total':18}{self.rows:>13,}{self.rows_per_second:>12,.0f}  rows/s over "
            f"{self.wall_seconds:.1f} s wall (the next batch is generated during each insert)"
        )
        return "\n".join(lines)


@dataclass(frozen=True)
class Grouped:
    """Ids grouped by community (an index into the plan's communities), so a whole batch
    draws one member of each row's own community in a few array operations."""

    values: pa.Array
    starts: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, groups: Sequence[Sequence[str]]) -> Grouped:
        counts = np.array([len(g) for g in groups], dtype=np.int64)
        if (counts == 0).any():
            raise ValueError("every community needs at least one member of each group")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return cls(_ids([v for g in groups for v in g]), starts, counts)

    def pick(self, rng: np.random.Generator, community: np.ndarray) -> np.ndarray:
        """One uniformly drawn member of each row's community, as an index into values."""
        within = (rng.random(len(community)) * self.counts[community]).astype(np.int64)
        return self.starts[community] + within

    def community_of(self, indices: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.starts, indices, side="right") - 1

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class SyntheticDistrict:
    """The simulator's district flattened into arrays: what every batch draws from."""

    community_ids: pa.Array
    gates: Grouped
    gate_cameras: pa.Array
    pedestrian_gates: Grouped
    pedestrian_cameras: pa.Array
    unit_doors: Grouped
    residents: Grouped
    resident_doors: pa.Array
    resident_cameras: pa.Array
    vehicles: Grouped
    vehicle_colours: pa.Array
    devices: Grouped
    device_kinds: np.ndarray
    """Index into KIND_METRIC, parallel to `devices.values` (as are the next arrays)."""
    controllers: pa.Array
    door_cameras: Grouped
    subjects: dict[str, Grouped]
    face_centres: np.ndarray
    """Unit vectors: one per resident (in `residents` order), then one per rider."""
    visitor_plates: pa.Array
    visitor_colours: pa.Array

    @classmethod
    def build(cls, plan: SyntheticPlan) -> SyntheticDistrict:
        communities = load_communities()[: plan.communities]
        district = District.build(plan.seed, communities)
        sites = district.sites
        rng = np.random.default_rng([plan.seed, 0])
        residents = Grouped.of([[r.person_id for r in s.residents] for s in sites])
        pool = _visitor_pool(rng, plan.events, {v.plate for s in sites for v in s.vehicles})
        centres = rng.standard_normal((len(residents) + district.riders, EMBEDDING_DIMS))
        kinds = list(KIND_METRIC)
        return cls(
            community_ids=_ids([c.community_id for c in communities]),
            gates=Grouped.of([[g.gate_id for g in s.gates] for s in sites]),
            gate_cameras=_ids([g.camera_id for s in sites for g in s.gates]),
            pedestrian_gates=Grouped.of([s.pedestrian_gates for s in sites]),
            pedestrian_cameras=_ids([f"{g}-cam" for s in sites for g in s.pedestrian_gates]),
            unit_doors=Grouped.of([s.unit_doors for s in sites]),
            residents=residents,
            resident_doors=_ids([r.door_id for s in sites for r in s.residents]),
            resident_cameras=_ids([f"{r.door_id}-cam" for s in sites for r in s.residents]),
            vehicles=Grouped.of([[v.plate for v in s.vehicles] for s in sites]),
            vehicle_colours=_ids([v.colour.value for s in sites for v in s.vehicles]),
            devices=Grouped.of([[d.device_id for d in s.devices] for s in sites]),
            device_kinds=np.array([kinds.index(d.kind) for s in sites for d in s.devices]),
            controllers=_ids([_controller(d) for s in sites for d in s.devices]),
            door_cameras=Grouped.of([s.cameras[CameraRole.DOOR_FACE] for s in sites]),
            subjects={
                name: Grouped.of([pick(s) for s in sites]) for name, (_, pick) in SUBJECTS.items()
            },
            face_centres=_unit_rows(centres.astype(np.float32)),
            visitor_plates=pool,
            visitor_colours=_ids(PLATE_COLOURS).take(
                pa.array(_weighted(rng, PLATE_COLOUR_WEIGHTS, len(pool)))
            ),
        )

    @property
    def communities(self) -> int:
        return len(self.community_ids)


def _controller(device: Device) -> str:
    """A charging slot is heard through its shed's controller; other devices report alone."""
    return (device.place or "") if isinstance(device, ChargingSlot) else ""


def _subject_kind(kind: AlertKind) -> SubjectKind:
    return SubjectKind.PLATE if kind.subjects == "plate" else SUBJECTS[kind.subjects][0]


def _elderly_or_anyone(site: Site) -> list[str]:
    """Who the welfare check watches: residents aged 70+ living alone (anyone, in the rare
    community without one)."""
    alone = [r.person_id for r in site.residents if r.elderly_alone]
    return alone or [r.person_id for r in site.residents]


SUBJECTS: dict[str, tuple[SubjectKind, Callable[[Site], list[str]]]] = {
    "device": (SubjectKind.DEVICE, lambda s: [d.device_id for d in s.devices]),
    "fence_zone": (SubjectKind.FENCE_ZONE, lambda s: list(s.fence_zones)),
    "elevator_camera": (SubjectKind.CAMERA, lambda s: s.cameras[CameraRole.ELEVATOR]),
    "public_camera": (SubjectKind.CAMERA, lambda s: s.cameras[CameraRole.PUBLIC]),
    "facade_camera": (SubjectKind.CAMERA, lambda s: s.cameras[CameraRole.FACADE]),
    "community": (SubjectKind.COMMUNITY, lambda s: [s.community_id]),
    "bracelet": (SubjectKind.BRACELET, lambda s: [b.bracelet_id for b in s.bracelets]),
    "shed_slot": (
        SubjectKind.SHED_SLOT,
        lambda s: [d.device_id for d in s.devices if isinstance(d, ChargingSlot)],
    ),
    "elderly_alone": (SubjectKind.PERSON, _elderly_or_anyone),
    "unit": (SubjectKind.UNIT, lambda s: list(s.unit_doors)),
    "visitor": (
        SubjectKind.VISITOR,
        lambda s: [f"visitor-{s.community_id}-{n:03d}" for n in range(200)],
    ),
}
"""What alerts can be about, per community, by group: its subject kind and members. Plates
(group "plate") come from the visitor pool instead."""


# -- small vectorised helpers ---------------------------------------------------------------


def _ids(values: Sequence[str]) -> pa.Array:
    """ClickHouse String columns are Arrow binary (see warehouse.arrow_type)."""
    return pa.array(list(values), type=pa.binary())


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def _weighted(rng: np.random.Generator, weights: Sequence[float], n: int) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _hex_ids(rng: np.random.Generator, n: int) -> pa.Array:
    """32 hex digits from 128 random bits per row, like uuid4().hex, without a Python loop."""
    text = rng.bytes(16 * n).hex().encode("ascii")
    return pa.array(np.frombuffer(text, dtype="S32"), type=pa.binary())


def _join(*parts: pa.Array | str) -> pa.Array:
    """Concatenate binary arrays and constant text row by row; the last part separates."""
    return pc.binary_join_element_wise(
        *(pa.scalar(p.encode(), pa.binary()) if isinstance(p, str) else p for p in parts)
    )


def _timestamps(ms: np.ndarray) -> pa.Array:
    return pa.array(ms.astype(np.int64), type=pa.timestamp("ms", tz="UTC"))


def _random_plates(rng: np.random.Generator, n: int) -> np.ndarray:
    """Plates like `random_plate` (鄂A12345; 9 bytes of UTF-8) as a fixed-width byte array."""
    provinces = np.frombuffer("".join(PROVINCES).encode(), dtype=np.uint8).reshape(-1, 3)
    cities = np.frombuffer(CITY_LETTERS.encode(), dtype=np.uint8)
    digits = np.frombuffer(SERIAL_DIGITS.encode(), dtype=np.uint8)
    letters = np.frombuffer(SERIAL_LETTERS.encode(), dtype=np.uint8)
    province = _weighted(rng, PROVINCE_WEIGHTS, n)
    plates = np.empty((n, 9), dtype=np.uint8)
    plates[:, :3] = provinces[province]
    home_city = (province == 0) & (rng.random(n) < HOME_CITY_SHARE)
    plates[:, 3] = np.where(home_city, ord("A"), cities[rng.integers(0, len(cities), n)])
    serial_letter = rng.random((n, 5)) < 0.15
    plates[:, 4:] = np.where(
        serial_letter,
        letters[rng.integers(0, len(letters), (n, 5))],
        digits[rng.integers(0, len(digits), (n, 5))],
    )
    return plates.view("S9").ravel()


def _visitor_pool(rng: np.random.Generator, events: int, residents: set[str]) -> pa.Array:
    """Strangers' plates, none a resident's; more events, more distinct visitors."""
    low, high = VISITOR_POOL_LIMITS
    size = min(high, max(low, int(events * VISITOR_POOL_PER_EVENT)))
    plates = _random_plates(rng, size)
    taken = np.array([p.encode() for p in residents], dtype="S9")
    return pa.array(plates[~np.isin(plates, taken)], type=pa.binary())


def _visitor_index(rng: np.random.Generator, pool: int, n: int) -> np.ndarray:
    return (pool * rng.random(n) ** VISITOR_TAIL).astype(np.int64)


def _people_times(rng: np.random.Generator, plan: SyntheticPlan, n: int) -> np.ndarray:
    """Epoch ms in [start, end) weighted by the district's hour of day (rush hours busy,
    nights quiet), as residents move."""
    hours = np.arange(plan.start_ms // HOUR_MS, plan.end_ms // HOUR_MS + 1)
    weights = np.asarray(MOVEMENT_BY_HOUR)[(hours + UTC_OFFSET_HOURS) % 24]
    slot = rng.choice(len(hours), size=n, p=weights / weights.sum())
    at = hours[slot] * HOUR_MS + rng.integers(0, HOUR_MS, n)
    outside = (at < plan.start_ms) | (at >= plan.end_ms)
    at[outside] = rng.integers(plan.start_ms, plan.end_ms, int(outside.sum()))
    return at


def _local_hours(at_ms: np.ndarray) -> np.ndarray:
    return (at_ms // HOUR_MS + UTC_OFFSET_HOURS) % 24


def _event_columns(
    rng: np.random.Generator, community: pa.Array, at_ms: np.ndarray, offset: int
) -> dict[str, pa.Array]:
    """What every event row has: id, community, times (received 50 ms-2 s after it
    happened) and the synthetic partition with a running offset."""
    n = len(at_ms)
    return {
        "event_id": _hex_ids(rng, n),
        "community_id": community,
        "occurred_at": _timestamps(at_ms),
        "received_at": _timestamps(at_ms + rng.integers(50, 2_000, n)),
        "schema_version": pa.array(np.full(n, SCHEMA_VERSION, dtype=np.uint16)),
        "kafka_partition": pa.array(np.full(n, SYNTHETIC_PARTITION, dtype=np.uint16)),
        "kafka_offset": pa.array(np.arange(offset, offset + n, dtype=np.uint64)),
    }


def _list_column(matrix: np.ndarray) -> pa.Array:
    """A (rows, k) float32 matrix as an Arrow list column, without copying per row."""
    rows, width = matrix.shape
    offsets = pa.array(np.arange(0, rows * width + 1, width, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.ravel().astype(np.float32)))


# -- batches --------------------------------------------------------------------------------


BatchMaker = Callable[[np.random.Generator, int, int], pa.Table]


class Batches:
    """One table's batch makers: `make(rng, rows, offset)` returns the batch's Arrow table
    in the warehouse's column types."""

    def __init__(self, district: SyntheticDistrict, plan: SyntheticPlan, warehouse: Warehouse):
        self._d = district
        self._plan = plan
        self._warehouse = warehouse

    def _table(self, name: str, columns: dict[str, pa.Array]) -> pa.Table:
        """The columns in the table's own Arrow types, read from ClickHouse (as the sink
        does), so a schema change fails here, not as a silently wrong insert."""
        schema = self._warehouse.arrow_schema(name)
        fields = [schema.field(column) for column in columns]
        arrays = [array.cast(f.type) for array, f in zip(columns.values(), fields, strict=True)]
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def vehicle_passages(self, rng: np.random.Generator, n: int, offset: int) -> pa.Table:
        """Residents' cars mostly at home, visitors' plates from the long-tailed pool."""
        d = self._d
        community = rng.integers(0, d.communities, n)
        at = _people_times(rng, self._plan, n)
        resident = rng.random(n) < RESIDENT_CAR_SHARE
        vehicle = d.vehicles.pick(rng, community)
        away = resident & (rng.random(n) < RESIDENT_CAR_AWAY_SHARE)
        vehicle[away] = rng.integers(0, len(d.vehicles), int(away.sum()))
        visitor = _visitor_index(rng, len(d.visitor_plates), n)
        choice = pa.array(np.where(resident, vehicle, len(d.vehicles) + visitor))
        gate = pa.array(d.gates.pick(rng, community))
        outbound = rng.random(n) < np.asarray(OUTBOUND_BY_HOUR)[_local_hours(at)]
        return self._table(
            "vehicle_passages",
            _event_columns(rng, d.community_ids.take(pa.array(community)), at, offset)
            | {
                "plate": pa.concat_arrays([d.vehicles.values, d.visitor_plates]).take(choice),
                "plate_colour": pa.concat_arrays([d.vehicle_colours, d.visitor_colours]).take(
                    choice
                ),
                "direction": _ids(["in", "out"]).take(pa.array(outbound.astype(np.int8))),
                "gate_id": d.gates.values.take(gate),
                "camera_id": d.gate_cameras.take(gate),
                "confidence": pa.array(rng.uniform(0.82, 0.995, n).astype(np.float32)),
                "snapshot_ref": pa.nulls(n, pa.binary()),
            },
        )

    def door_access(self, rng: np.random.Generator, n: int, offset: int) -> pa.Table:
        """Residents at their own unit door or a pedestrian gate by every method; visitors
        by QR or password and without a person id."""
        d = self._d
        community = rng.integers(0, d.communities, n)
        at = _people_times(rng, self._plan, n)
        resident = rng.random(n) < RESIDENT_DOOR_SHARE
        person = d.residents.pick(rng, community)
        home_share = np.where(resident, HOME_SHARE["resident"], HOME_SHARE["visitor"])
        home = rng.random(n) < home_share
        gates_at = len(d.resident_doors)
        units_at = gates_at + len(d.pedestrian_gates)
        door = np.where(
            home,
            np.where(resident, person, units_at + d.unit_doors.pick(rng, community)),
            gates_at + d.pedestrian_gates.pick(rng, community),
        )
        doors = pa.concat_arrays([d.resident_doors, d.pedestrian_gates.values, d.unit_doors.values])
        methods = [m.value for m in AccessMethod]
        resident_method = np.array([methods.index(m.value) for m in RESIDENT_METHODS])[
            _weighted(rng, RESIDENT_METHOD_WEIGHTS, n)
        ]
        visitor_method = np.array([methods.index(m.value) for m in VISITOR_METHODS])[
            _weighted(rng, VISITOR_METHOD_WEIGHTS, n)
        ]
        granted = np.where(resident, GRANTED["resident"], GRANTED["visitor"])
        return self._table(
            "door_access",
            _event_columns(rng, d.community_ids.take(pa.array(community)), at, offset)
            | {
                "door_id": doors.take(pa.array(door)),
                "door_kind": _ids(["gate", "unit_door"]).take(pa.array(home.astype(np.int8))),
                "method": _ids(methods).take(
                    pa.array(np.where(resident, resident_method, visitor_method))
                ),
                "person_id": d.residents.values.take(pa.array(person, mask=~resident)),
                "granted": pa.array(rng.random(n) < granted),
            },
        )

    def face_captures(self, rng: np.random.Generator, n: int, offset: int) -> pa.Table:
        """Residents (mostly at their own door, matched from quality 0.6), riders at the
        pedestrian gates, and strangers whose faces resemble nobody."""
        d = self._d
        community = rng.integers(0, d.communities, n)
        at = _people_times(rng, self._plan, n)
        who = rng.random(n)
        resident = who < RESIDENT_FACE_SHARE
        stranger = who >= RESIDENT_FACE_SHARE + RIDER_FACE_SHARE
        person = d.residents.pick(rng, community)
        riders = len(d.face_centres) - len(d.residents)
        centre = np.where(resident, person, len(d.residents) + rng.integers(0, riders, n))
        quality = rng.uniform(0.45, 0.99, n).astype(np.float32)
        sigma = np.where(resident, 0.015 + 0.04 * (1.0 - quality), 0.03).astype(np.float32)
        centres = d.face_centres[centre]
        noise = rng.standard_normal((n, EMBEDDING_DIMS), dtype=np.float32)
        embedding = np.where(stranger[:, None], noise, centres + noise * sigma[:, None])
        embedding = _unit_rows(embedding)
        matched = resident & (quality >= MATCH_MIN_QUALITY)
        score = np.einsum("ij,ij->i", embedding, centres)
        at_home = resident & (rng.random(n) < HOME_SHARE["resident"])
        gates_at = len(d.resident_cameras)
        doors_at = gates_at + len(d.pedestrian_cameras)
        camera = np.where(
            at_home,
            person,
            np.where(
                stranger,
                doors_at + d.door_cameras.pick(rng, community),
                gates_at + d.pedestrian_gates.pick(rng, community),
            ),
        )
        cameras = pa.concat_arrays(
            [d.resident_cameras, d.pedestrian_cameras, d.door_cameras.values]
        )
        width = rng.uniform(80.0, 240.0, n)
        bbox = np.stack(
            [
                rng.uniform(0.0, 1.0, n) * (1920.0 - width),
                rng.uniform(0.0, 1.0, n) * (1080.0 - 1.2 * width),
                width,
                1.2 * width,
            ],
            axis=1,
        )
        return self._table(
            "face_captures",
            _event_columns(rng, d.community_ids.take(pa.array(community)), at, offset)
            | {
                "camera_id": cameras.take(pa.array(camera)),
                "embedding": _list_column(embedding),
                "quality": pa.array(quality),
                "bbox": _list_column(bbox.astype(np.float32)),
                "matched_person_id": d.residents.values.take(pa.array(person, mask=~matched)),
                "match_score": pa.array(score.astype(np.float32), mask=~matched),
                "crop_ref": pa.nulls(n, pa.binary()),
            },
        )

    def device_telemetry(self, rng: np.random.Generator, n: int, offset: int) -> pa.Table:
        """Every device reports about equally often, day and night: online, uptime and its
        kind's own reading; charging slots name their shed's controller."""
        d = self._d
        device = rng.integers(0, len(d.devices), n)
        community = d.devices.community_of(device)
        at = rng.integers(self._plan.start_ms, self._plan.end_ms, n)
        kind = d.device_kinds[device]
        ranges = np.array([(low, high) for _, low, high in KIND_METRIC.values()])
        reading = ranges[kind, 0] + rng.random(n) * (ranges[kind, 1] - ranges[kind, 0])
        online = (rng.random(n) >= OFFLINE_SHARE).astype(np.float64)
        uptime = np.round(rng.uniform(3_600.0, 90 * 86_400.0, n))
        names = ["online", "uptime_s", *(name for name, _, _ in KIND_METRIC.values())]
        keys = np.stack([np.zeros(n, np.int64), np.ones(n, np.int64), 2 + kind], axis=1)
        metrics = pa.MapArray.from_arrays(
            pa.array(np.arange(0, 3 * n + 1, 3, dtype=np.int32)),
            _ids(names).take(pa.array(keys.ravel())),
            pa.array(np.stack([online, uptime, np.round(reading, 2)], axis=1).ravel()),
        )
        kinds = _ids([k.value for k in KIND_METRIC])
        return self._table(
            "device_telemetry",
            _event_columns(rng, d.community_ids.take(pa.array(community)), at, offset)
            | {
                "device_id": d.devices.values.take(pa.array(device)),
                "device_kind": kinds.take(pa.array(kind)),
                "metrics": metrics,
                "controller_id": d.controllers.take(pa.array(device)),
            },
        )

    def alerts(self, rng: np.random.Generator, n: int, offset: int) -> pa.Table:
        """`n` alerts, each stored as the versions it went through: opened by a rule, maybe
        acknowledged by an officer, resolved (recent ones more often still open)."""
        d = self._d
        plan = self._plan
        kind = _weighted(rng, [k.weight for k in ALERT_MIX], n)
        community = rng.integers(0, d.communities, n)
        first_seen = rng.integers(plan.start_ms, plan.end_ms, n)
        raised = np.minimum(first_seen + rng.integers(200, 1_500, n), plan.end_ms)
        final = self._final_status(rng, plan.end_ms - first_seen)
        acknowledged_share = np.array([k.acknowledged_share for k in ALERT_MIX])[kind]
        resolved = final == 2
        acked = (final == 1) | (resolved & (rng.random(n) < acknowledged_share))
        ack_at = np.minimum(raised + rng.integers(60_000, 1_800_000, n), plan.end_ms)
        resolved_at = np.minimum(
            np.where(acked, ack_at, raised) + rng.integers(600_000, DAY_MS, n), plan.end_ms
        )
        versions = [
            (np.arange(n), 0, raised),
            (np.flatnonzero(acked), 1, ack_at),
            (np.flatnonzero(resolved), 2, resolved_at),
        ]
        alert = np.concatenate([rows for rows, _, _ in versions])
        status = np.concatenate([np.full(len(rows), s) for rows, s, _ in versions])
        updated = np.concatenate([at[rows] for rows, _, at in versions])
        take = pa.array(alert)
        base = self._alert_columns(rng, kind, community, first_seen, raised, plan.end_ms)
        columns = {name: array.take(take) for name, array in base.items()}
        return self._table(
            "alerts",
            columns
            | {
                "status": _ids([s.value for s in FINAL_STATUS]).take(pa.array(status)),
                "updated_at": _timestamps(updated),
                "resolved_at": pa.array(
                    updated, type=pa.timestamp("ms", tz="UTC"), mask=status != 2
                ),
                "kafka_partition": pa.array(
                    np.full(len(alert), SYNTHETIC_PARTITION, dtype=np.uint16)
                ),
                "kafka_offset": pa.array(
                    np.arange(3 * offset, 3 * offset + len(alert), dtype=np.uint64)
                ),
            },
        )

    @staticmethod
    def _final_status(rng: np.random.Generator, age_ms: np.ndarray) -> np.ndarray:
        """0 open, 1 acknowledged, 2 resolved: what officers have done with it by now."""
        recent = _weighted(rng, FINAL_STATUS_WEIGHTS["recent"], len(age_ms))
        older = _weighted(rng, FINAL_STATUS_WEIGHTS["older"], len(age_ms))
        return np.where(age_ms < RECENT_MS, recent, older)

    def _alert_columns(
        self,
        rng: np.random.Generator,
        kind: np.ndarray,
        community: np.ndarray,
        first_seen: np.ndarray,
        raised: np.ndarray,
        end_ms: int,
    ) -> dict[str, pa.Array]:
        """One row per alert of what its versions share."""
        d = self._d
        n = len(kind)
        subject = self._subjects(rng, kind, community)
        severities = [s.value for s in Severity]
        severity = np.array([[severities.index(s.value) for s in k.severities] for k in ALERT_MIX])
        chosen_severity = severity[kind, rng.integers(0, 2, n)]
        evidence_ids = _hex_ids(rng, n)
        event_kinds = _ids([k.event_kind for k in ALERT_MIX]).take(pa.array(kind))
        seen = _timestamps(first_seen)
        types = [k.alert_type.value for k in ALERT_MIX]
        evidence = _join(
            '[{"event_id":"',
            evidence_ids,
            '","event_kind":"',
            event_kinds,
            '","occurred_at":"',
            pc.strftime(seen, format="%Y-%m-%dT%H:%M:%S").cast(pa.binary()),
            'Z","summary":"synthetic"}]',
            "",
        )
        return {
            "alert_id": _hex_ids(rng, n),
            "alert_type": _ids(types).take(pa.array(kind)),
            "severity": _ids(severities).take(pa.array(chosen_severity)),
            "community_id": d.community_ids.take(pa.array(community)),
            "subject_kind": _ids([_subject_kind(k).value for k in ALERT_MIX]).take(pa.array(kind)),
            "subject": subject,
            "first_seen": seen,
            "last_seen": _timestamps(
                np.minimum(first_seen + rng.integers(0, 2 * HOUR_MS, n), end_ms)
            ),
            "count": pa.array(rng.geometric(0.6, n).astype(np.uint32)),
            "explanation": _join(
                _ids([f"Synthetic {t.lower().replace('_', ' ')}" for t in types]).take(
                    pa.array(kind)
                ),
                subject,
                ": ",
            ),
            "explanation_zh": _join(
                _ids([f"模拟告警 {t}" for t in types]).take(pa.array(kind)), subject, "："
            ),
            "evidence": evidence,
            "evidence_event_ids": pa.ListArray.from_arrays(
                pa.array(np.arange(n + 1, dtype=np.int32)), evidence_ids
            ),
            "raised_at": _timestamps(raised),
            "source_received_at": _timestamps(first_seen + rng.integers(50, 300, n)),
            "note": pa.nulls(n, pa.binary()),
            "assigned_to": pa.nulls(n, pa.binary()),
        }

    def _subjects(
        self, rng: np.random.Generator, kind: np.ndarray, community: np.ndarray
    ) -> pa.Array:
        """Each alert's subject from its community's members of its group; plates from the
        visitor pool (residents' cars do not overstay or roam)."""
        d = self._d
        pools = [d.visitor_plates]
        offsets = {"plate": 0}
        at = len(d.visitor_plates)
        for name, grouped in d.subjects.items():
            offsets[name] = at
            pools.append(grouped.values)
            at += len(grouped)
        chosen = np.empty(len(kind), dtype=np.int64)
        for k, alert_kind in enumerate(ALERT_MIX):
            rows = np.flatnonzero(kind == k)
            if alert_kind.subjects == "plate":
                chosen[rows] = _visitor_index(rng, len(d.visitor_plates), len(rows))
            else:
                members = d.subjects[alert_kind.subjects].pick(rng, community[rows])
                chosen[rows] = offsets[alert_kind.subjects] + members
        return pa.concat_arrays(pools).take(pa.array(chosen))


# -- loading --------------------------------------------------------------------------------


def _batches(total: int, size: int) -> Iterator[tuple[int, int, int]]:
    """(batch number, first row, rows) covering `total` rows."""
    for number, first in enumerate(range(0, total, size)):
        yield number, first, min(size, total - first)


def load_synthetic(
    warehouse: Warehouse, plan: SyntheticPlan, progress: Callable[[str], None] | None = None
) -> LoadReport:
    """Write the plan's rows into the (migrated) warehouse; returns what it took.

    Each batch has its own generator seeded by (seed, table, batch), so a load is the same
    whichever machine runs it, and batches need nothing from one another.
    """
    say = progress or (lambda _: None)
    started = time.perf_counter()
    district = SyntheticDistrict.build(plan)
    makers = Batches(district, plan, warehouse)
    sizes = plan.table_rows()
    steps: list[tuple[str, int, int, BatchMaker]] = [
        ("alerts", plan.alerts, ALERT_BATCH_ROWS, makers.alerts),
        ("vehicle_passages", sizes["vehicle_passages"], BATCH_ROWS, makers.vehicle_passages),
        ("door_access", sizes["door_access"], BATCH_ROWS, makers.door_access),
        ("device_telemetry", sizes["device_telemetry"], BATCH_ROWS, makers.device_telemetry),
        ("face_captures", sizes["face_captures"], CAPTURE_BATCH_ROWS, makers.face_captures),
    ]
    loads = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthetic") as generator:
        for code, (table, total, size, make) in enumerate(steps, start=1):
            load = TableLoad(table)
            loads.append(load)
            _load_table(warehouse, plan, load, _batches(total, size), code, make, generator, say)
    return LoadReport(plan, loads, time.perf_counter() - started)


def _load_table(
    warehouse: Warehouse,
    plan: SyntheticPlan,
    load: TableLoad,
    batches: Iterator[tuple[int, int, int]],
    code: int,
    make: BatchMaker,
    generator: ThreadPoolExecutor,
    say: Callable[[str], None],
) -> None:
    """Insert each batch while the generator thread makes the next one."""

    def generate(number: int, first: int, rows: int) -> tuple[pa.Table, float]:
        began = time.perf_counter()
        rng = np.random.default_rng([plan.seed, code, number])
        return make(rng, rows, first), time.perf_counter() - began

    pending = [generator.submit(generate, *batch) for batch in _take(batches, 1)]
    while pending:
        table, seconds = pending.pop().result()
        pending += [generator.submit(generate, *batch) for batch in _take(batches, 1)]
        load.generate_seconds += seconds
        began = time.perf_counter()
        warehouse.insert(load.table, table)
        load.insert_seconds += time.perf_counter() - began
        load.rows += table.num_rows
        say(f"{load.table}: {load.rows:,} rows")


def _take(batches: Iterator[tuple[int, int, int]], count: int) -> list[tuple[int, int, int]]:
    return [batch for _, batch in zip(range(count), batches, strict=False)]


def parse_count(text: str) -> int:
    """`100M`, `10m`, `5k`, `2_000` or `1e6` as a whole number of rows."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000, "b": 1_000_000_000}
    factor = scale.get(cleaned[-1:].lower(), 1)
    number = cleaned[:-1] if factor > 1 else cleaned
    try:
        value = float(number) * factor
    except ValueError:
        raise ValueError(f"{text!r} is not a count: give e.g. 5000, 5k, 100M") from None
    if value < 0 or value != int(value):
        raise ValueError(f"{text!r} is not a whole, non-negative count")
    return int(value)

"""A week of a simulated district in chDB, for the analysts' SQL: the Grafana panels and the
example queries of schemas/clickhouse/README.md run against it.

Rows come from the platform's own code paths: the synthetic loader (passages, door access,
face captures, telemetry, alerts in all their versions), the simulator's everyday life (fence
alarms, camera analytics, bracelets), and the records the worker writes for parking sessions,
dead letters, device commands, face searches and the audit tables.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from ingest.simulator.district import CameraRole, District, Site
from ingest.simulator.everyday import EverydayLife
from pingan.platform.warehouse import EmbeddedWarehouse, Warehouse
from pingan.synthetic import SyntheticPlan, load_synthetic
from schemas.audit import AlertAction, AuditEntry
from schemas.commands import CommandAction, CommandOutcome, DeviceCommand
from schemas.events import (
    CameraAnalytics,
    CameraAnalyticsKind,
    PerimeterAlarm,
    PerimeterAlarmKind,
    PlateColour,
    Record,
    utc_now,
)
from schemas.faces import BiometricSearch
from schemas.parking import ParkingSession, SessionStatus
from schemas.topics import ALL_TOPICS, DEVICE_TELEMETRY, PERIMETER_ALARMS
from streams.dead_letters import DeadLetter
from tests.integration.api_harness import insert_records, prepared_warehouse

PLAN = SyntheticPlan(events=200_000, captures=5_000, days=7, communities=42, seed=1)
EVERYDAY_EVENTS = 3_000
"""Simulated events over the last day besides the synthetic load: what it leaves out."""
OCCASION_SITES = 6
"""Communities given a day's fence alarms and camera detections (a few each)."""
ANALYTICS_CAMERAS = {
    CameraAnalyticsKind.STRAY_DOG: CameraRole.PUBLIC,
    CameraAnalyticsKind.BLOCKED_FIRE_PASSAGE: CameraRole.PUBLIC,
    CameraAnalyticsKind.EBIKE_IN_ELEVATOR: CameraRole.ELEVATOR,
    CameraAnalyticsKind.HIGH_ALTITUDE_THROW: CameraRole.FACADE,
}
HOUR = timedelta(hours=1)
MODEL_ID = hashlib.sha256(b"buffalo_l").hexdigest()


@contextlib.contextmanager
def analyst_district(data_dir: Path) -> Iterator[EmbeddedWarehouse]:
    with prepared_warehouse(data_dir) as warehouse:
        now = utc_now()
        load_synthetic(warehouse, replace(PLAN, end=now))
        _insert_by_table(warehouse, _everyday_events(now))
        insert_records(warehouse, "parking_sessions", _parking_sessions(now))
        _insert_rows(warehouse, "dead_letters", [d.row() for d in _dead_letters(now)])
        shed_alerts = _charging_alerts(warehouse)
        insert_records(warehouse, "device_commands", _device_commands(shed_alerts))
        insert_records(warehouse, "biometric_searches", _face_searches(now))
        insert_records(warehouse, "audit_log", _audit_entries(now))
        insert_records(warehouse, "alert_actions", _alert_actions(warehouse, now))
        yield warehouse


def _insert_rows(warehouse: Warehouse, table: str, rows: list[dict[str, Any]]) -> None:
    rows = [r | {"kafka_partition": 0, "kafka_offset": i} for i, r in enumerate(rows)]
    warehouse.insert(table, pa.Table.from_pylist(rows, schema=warehouse.arrow_schema(table)))


def _insert_by_table(warehouse: Warehouse, records: Sequence[Record]) -> None:
    tables = {t.record: t.table for t in ALL_TOPICS if t.record and t.table}
    for record_type, group in itertools.groupby(
        sorted(records, key=lambda r: type(r).__name__), key=type
    ):
        insert_records(warehouse, tables[record_type], list(group))


def _everyday_events(now: datetime) -> list[Record]:
    """The simulator's ordinary day (people, cars, bracelets), received a second or so after
    each event, plus the occasions officers act on in a few of its communities."""
    district = District.build(seed=1)
    start = (now - 24 * HOUR).timestamp()
    life = EverydayLife(district, start)
    step = 24 * 3600 / EVERYDAY_EVENTS
    events: list[Record] = []
    for n in range(EVERYDAY_EVENTS):
        at = start + n * step
        received = datetime.fromtimestamp(at + 0.4 + (n % 7) * 0.3, tz=now.tzinfo)
        events.append(life.event(f"everyday-{n}", at, received))
    for site in district.sites[:OCCASION_SITES]:
        events += _occasions(site, now)
    return events


def _occasions(site: Site, now: datetime) -> list[Record]:
    """A day's fence alarms of each kind and one detection of each camera analytics kind."""
    name = site.community_id
    alarms: list[Record] = [
        PerimeterAlarm(
            event_id=f"{name}-fence-{n}",
            community_id=name,
            occurred_at=now - (3 + 5 * n) * HOUR,
            received_at=now - (3 + 5 * n) * HOUR + timedelta(seconds=1),
            fence_zone=site.fence_zones[n % len(site.fence_zones)],
            alarm_kind=kind,
        )
        for n, kind in enumerate(PerimeterAlarmKind)
    ]
    detections: list[Record] = [
        CameraAnalytics(
            event_id=f"{name}-{kind.value}",
            community_id=name,
            occurred_at=now - (2 + 4 * n) * HOUR,
            received_at=now - (2 + 4 * n) * HOUR + timedelta(milliseconds=700),
            camera_id=site.cameras[role][0],
            analytics_kind=kind,
            snapshot_refs=[f"snapshots/{name}-{kind.value}-0.jpg"],
            confidence=0.9,
        )
        for n, (kind, role) in enumerate(ANALYTICS_CAMERAS.items())
        if site.cameras.get(role)
    ]
    return alarms + detections


def _parking_sessions(now: datetime) -> list[ParkingSession]:
    """A day's stays in a few communities: paid, free for residents, still open, an exit whose
    entry was never read, and one retired by a late passage (revision 2, deleted)."""
    sessions: list[ParkingSession] = []
    for n, community in enumerate(["c01", "c02", "c03", "c07", "c12"]):
        entered = now - (20 - n) * HOUR
        exited = entered + (2 + n) * HOUR
        plate = f"鄂A{n + 1}{n + 2}{n + 3}Q{n}"
        closed = {
            "community_id": community,
            "plate": plate,
            "plate_colour": PlateColour.BLUE,
            "started_at": entered,
            "entered_at": entered,
            "exited_at": exited,
            "entry_gate_id": f"{community}-g1",
            "exit_gate_id": f"{community}-g2",
            "duration_seconds": int((exited - entered).total_seconds()),
            "tariff_id": "*",
        }
        sessions += [
            ParkingSession(
                session_id=f"{community}-open-{n}",
                status=SessionStatus.OPEN,
                reason="no exit yet",
                **{**closed, "exited_at": None, "duration_seconds": None},
            ),
            ParkingSession(
                session_id=f"{community}-paid-{n}",
                status=SessionStatus.CLOSED,
                fee_fen=500 * (n + 1),
                fee_basis=f"{n + 2} h day rate",
                **closed,
            ),
            ParkingSession(
                session_id=f"{community}-resident-{n}",
                status=SessionStatus.CLOSED,
                fee_fen=0,
                resident=True,
                fee_basis="resident",
                **{**closed, "plate": f"鄂A0000{n}"},
            ),
        ]
    sessions += [
        ParkingSession(
            session_id="c01-exit-only",
            community_id="c01",
            plate="鄂A99999",
            plate_colour=PlateColour.BLUE,
            status=SessionStatus.EXIT_WITHOUT_ENTRY,
            started_at=now - 3 * HOUR,
            exited_at=now - 3 * HOUR,
            reason="no entry read",
            revision=revision,
            is_deleted=revision == 2,
        )
        for revision in (1, 2)
    ]
    return sessions


def _dead_letters(now: datetime) -> list[DeadLetter]:
    reasons = [
        (PERIMETER_ALARMS.name, "unknown community 'c99'"),
        (PERIMETER_ALARMS.name, "unknown community 'c98'"),
        (DEVICE_TELEMETRY.name, "not JSON: Expecting value: line 1 column 1 (char 0)"),
        (DEVICE_TELEMETRY.name, "occurred_at 2031-01-01T00:00:00+00:00 is in the future"),
    ]
    return [
        DeadLetter(topic, 0, offset, reason, b"c99", b"{broken", now - offset * HOUR)
        for offset, (topic, reason) in enumerate(reasons, start=1)
    ]


def _charging_alerts(warehouse: Warehouse) -> list[dict[str, Any]]:
    return warehouse.query(
        "SELECT alert_id, community_id, subject, raised_at FROM alerts FINAL "
        "WHERE alert_type = 'CHARGING_OVERHEAT'"
    )


def _device_commands(alerts: list[dict[str, Any]]) -> list[DeviceCommand]:
    """The stop-charging command each overheating slot's alert asked for; the first failed."""
    return [
        DeviceCommand(
            command_id=f"stop-{a['alert_id']}",
            community_id=a["community_id"],
            device_id=a["subject"].rsplit("-", 1)[0],
            target_id=a["subject"],
            slot=int(a["subject"].rsplit("-s", 1)[1]),
            action=CommandAction.STOP_CHARGING,
            reason_alert_id=a["alert_id"],
            requested_at=a["raised_at"],
            outcome=CommandOutcome.FAILED if n == 0 else CommandOutcome.OK,
            error="no response from the shed controller" if n == 0 else None,
            executed_at=a["raised_at"] + timedelta(seconds=2),
        )
        for n, a in enumerate(alerts)
    ]


def _face_searches(now: datetime) -> list[BiometricSearch]:
    return [
        BiometricSearch(
            search_id=f"search-{n}",
            operator=operator,
            searched_at=now - (n + 1) * 2 * HOUR,
            reason="lost wallet case 2026-1187",
            source="api",
            image_sha256=hashlib.sha256(f"photo-{n}".encode()).hexdigest(),
            faces=1,
            matched_person_ids=["c01-p0078"] if n % 2 else [],
            model_id=MODEL_ID,
        )
        for n, operator in enumerate(["wang.li", "zhao.min", "wang.li"])
    ]


def _audit_entries(now: datetime) -> list[AuditEntry]:
    return [
        AuditEntry(
            audit_id=f"audit-{n}",
            at=now - n * HOUR,
            actor=actor,
            actor_role=role,
            operation=operation,
            arguments='{"plate": "鄂A12345"}',
            community_ids=communities,
            purpose="traffic accident follow-up" if operation == "vehicle_passages" else "",
            result_count=3,
            client_address="10.20.0.15",
        )
        for n, (actor, role, operation, communities) in enumerate(
            [
                ("wang.li", "district_officer", "vehicle_passages", []),
                ("zhao.min", "community_officer", "alerts", ["c01"]),
                ("wang.li", "district_officer", "face_search", []),
            ]
        )
    ]


def _alert_actions(warehouse: Warehouse, now: datetime) -> list[AlertAction]:
    """An officer acknowledged, then resolved, the newest acknowledged alerts."""
    alerts = warehouse.query(
        "SELECT alert_id, community_id FROM alerts FINAL WHERE status = 'acknowledged' "
        "ORDER BY first_seen DESC LIMIT 3"
    )
    return [
        AlertAction(
            action_id=f"{a['alert_id']}-{action}",
            alert_id=a["alert_id"],
            community_id=a["community_id"],
            action=action,
            actor="zhao.min",
            actor_role="community_officer",
            at=now - timedelta(minutes=30 - 10 * step),
            note="checked on site" if action == "resolve" else "",
        )
        for a in alerts
        for step, action in enumerate(["acknowledge", "resolve"])
    ]

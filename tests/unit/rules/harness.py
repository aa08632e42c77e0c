"""Drive a rule the way the engine does, without Kafka: keys, JSON-persisted state, the
event-time watermark for absence rules, and the alert book.

`StaticReference` is reference data held in lists, the pure-logic stand-in for the
compacted topics; integration tests use the real ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.alerts import Alert, AlertType, WatchlistFace, WatchlistPlate
from schemas.events import (
    AccessMethod,
    BoundingBox,
    BraceletReading,
    CameraAnalytics,
    CameraAnalyticsKind,
    DeviceKind,
    DeviceTelemetry,
    Direction,
    DoorAccess,
    DoorKind,
    Event,
    FaceCapture,
    PerimeterAlarm,
    PerimeterAlarmKind,
    PlateColour,
    VehiclePassage,
    Wearer,
)
from schemas.reference import (
    BraceletWearer,
    Community,
    Device,
    Resident,
    ResidentVehicle,
)
from streams.alert_book import AlertBook
from streams.rules.rule import Attachment, Clearance, Finding, Rule, RuleConfig, RuleState

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
"""10:00 in the district (UTC+8) on a Friday."""
_ids = itertools.count(1)


@dataclass
class StaticReference:
    communities: list[Community] = field(default_factory=list)
    residents: list[Resident] = field(default_factory=list)
    vehicles: list[ResidentVehicle] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    bracelets: list[BraceletWearer] = field(default_factory=list)
    plates: list[WatchlistPlate] = field(default_factory=list)
    faces: list[WatchlistFace] = field(default_factory=list)
    version: int = 1

    def community(self, community_id: str) -> Community | None:
        return next((c for c in self.communities if c.community_id == community_id), None)

    def resident(self, person_id: str) -> Resident | None:
        return next((r for r in self.residents if r.person_id == person_id), None)

    def residents_of_unit(self, unit_door_id: str) -> Sequence[Resident]:
        return [r for r in self.residents if r.unit_door_id == unit_door_id]

    def resident_vehicle(self, plate: str) -> ResidentVehicle | None:
        return next((v for v in self.vehicles if v.plate == plate), None)

    def device(self, device_id: str) -> Device | None:
        return next((d for d in self.devices if d.device_id == device_id), None)

    def devices_at(self, place: str) -> Sequence[Device]:
        return [d for d in self.devices if d.place == place]

    def bracelet(self, bracelet_id: str) -> BraceletWearer | None:
        return next((b for b in self.bracelets if b.bracelet_id == bracelet_id), None)

    def watchlist_plate(self, plate: str) -> WatchlistPlate | None:
        return next((p for p in self.plates if p.plate == plate), None)

    def watchlist_plates(self) -> Mapping[str, WatchlistPlate]:
        return {p.plate: p for p in self.plates}

    def watchlist_faces(self) -> Sequence[WatchlistFace]:
        return self.faces


@dataclass
class RuleRun:
    """Everything a harness run produced, in order."""

    findings: list[Finding] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    clearances: list[Clearance] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    def of(self, alert_type: AlertType) -> list[Finding]:
        return [f for f in self.findings if f.alert_type is alert_type]

    def open_alerts(self) -> dict[str, Alert]:
        """The latest version of each alert id."""
        latest: dict[str, Alert] = {}
        for alert in self.alerts:
            latest[alert.alert_id] = alert
        return latest


class RuleHarness:
    """Feeds events to one rule as the engine does; `restart()` round-trips all state."""

    def __init__(
        self,
        rule: Rule[Any, Any, Any],
        reference: StaticReference | None = None,
        lateness: timedelta = timedelta(seconds=30),
        **overrides: Any,
    ) -> None:
        self.rule = rule
        self.reference = reference or StaticReference()
        self.config: RuleConfig = rule.Config(**overrides)
        self.lateness = lateness
        self.states: dict[str, bytes] = {}
        self.book = AlertBook({})
        self.run = RuleRun()
        self.max_event_time: datetime | None = None

    def feed(self, events: Iterable[Event]) -> RuleRun:
        for event in events:
            self.one(event)
        return self.run

    def one(self, event: Event) -> None:
        key = self.rule.key(event, self.reference)
        if key is not None:
            state = self._load(key)
            outcome = self.rule.apply(state, event, self.config, self.reference)
            self._store(key, outcome.state)
            self._collect(outcome, event.received_at)
        if self.max_event_time is None or event.occurred_at > self.max_event_time:
            self.max_event_time = event.occurred_at
        self.advance_to(self.max_event_time - self.lateness)

    def advance_to(self, watermark: datetime) -> None:
        """Absence rules see time pass without events, as on the stream's watermark."""
        if self.rule.State is None:
            return
        for key in sorted(self.states):
            state = self._load(key)
            if state is None:
                continue
            wake = self.rule.wake_at(state, self.config)
            if wake is not None and wake <= watermark:
                outcome = self.rule.advance(state, key, watermark, self.config, self.reference)
                self._store(key, outcome.state)
                self._collect(outcome, watermark)

    def restart(self) -> None:
        """A worker restart: state survives only as the bytes the changelog carries."""
        self.states = {k: bytes(v) for k, v in self.states.items()}

    def _load(self, key: str) -> RuleState | None:
        raw = self.states.get(key)
        if raw is None or self.rule.State is None:
            return None
        return self.rule.State.model_validate_json(raw)

    def _store(self, key: str, state: RuleState | None) -> None:
        if self.rule.State is None:
            return
        if state is None:
            self.states.pop(key, None)
        else:
            self.states[key] = state.model_dump_json().encode()

    def _collect(self, outcome: Any, received_at: datetime) -> None:
        suppress = timedelta(minutes=self.config.suppress_minutes)
        for finding in outcome.findings:
            self.run.findings.append(finding)
            alert = self.book.record(finding, received_at, received_at, suppress)
            if alert is not None:
                self.run.alerts.append(alert)
        for attachment in outcome.attachments:
            self.run.attachments.append(attachment)
            alert = self.book.attach(attachment, received_at)
            if alert is not None:
                self.run.alerts.append(alert)
        for clearance in outcome.clearances:
            self.run.clearances.append(clearance)
            alert = self.book.clear(clearance, received_at)
            if alert is not None:
                self.run.alerts.append(alert)


def _base(community_id: str, at: datetime) -> dict[str, Any]:
    return {
        "event_id": f"e{next(_ids)}",
        "community_id": community_id,
        "occurred_at": at,
        "received_at": at,
    }


def passage(
    plate: str,
    at: datetime,
    community_id: str = "c01",
    gate_id: str | None = None,
    direction: Direction = Direction.IN,
    confidence: float = 0.95,
) -> VehiclePassage:
    gate = gate_id or f"{community_id}-g1"
    return VehiclePassage(
        **_base(community_id, at),
        plate=plate,
        plate_colour=PlateColour.BLUE,
        direction=direction,
        gate_id=gate,
        camera_id=f"{gate}-anpr",
        confidence=confidence,
    )


def door(
    door_id: str,
    at: datetime,
    person_id: str | None = None,
    community_id: str = "c01",
    method: AccessMethod = AccessMethod.CARD,
    door_kind: DoorKind = DoorKind.UNIT_DOOR,
    granted: bool = True,
) -> DoorAccess:
    return DoorAccess(
        **_base(community_id, at),
        door_id=door_id,
        door_kind=door_kind,
        method=method,
        person_id=person_id,
        granted=granted,
    )


def face(
    camera_id: str,
    at: datetime,
    embedding: Sequence[float],
    matched_person_id: str | None = None,
    community_id: str = "c01",
    quality: float = 0.9,
) -> FaceCapture:
    return FaceCapture(
        **_base(community_id, at),
        camera_id=camera_id,
        embedding=list(embedding),
        quality=quality,
        bbox=BoundingBox(x=10, y=10, width=100, height=120),
        matched_person_id=matched_person_id,
        match_score=0.9 if matched_person_id else None,
        crop_ref="crops/x.jpg",
    )


def telemetry(
    device_id: str,
    at: datetime,
    metrics: dict[str, float] | None = None,
    device_kind: DeviceKind = DeviceKind.CAMERA,
    community_id: str = "c01",
) -> DeviceTelemetry:
    return DeviceTelemetry(
        **_base(community_id, at),
        device_id=device_id,
        device_kind=device_kind,
        metrics=metrics or {"online": 1.0},
    )


def fence_alarm(
    zone: str,
    at: datetime,
    kind: PerimeterAlarmKind = PerimeterAlarmKind.CROSS,
    community_id: str = "c01",
) -> PerimeterAlarm:
    return PerimeterAlarm(**_base(community_id, at), fence_zone=zone, alarm_kind=kind)


def bracelet(
    bracelet_id: str,
    at: datetime,
    lat: float | None = 30.0,
    lon: float | None = 120.0,
    battery: float = 0.8,
    sos: bool = False,
    wearer: Wearer = Wearer.ELDERLY,
    community_id: str = "c01",
) -> BraceletReading:
    return BraceletReading(
        **_base(community_id, at),
        bracelet_id=bracelet_id,
        wearer=wearer,
        lat=lat,
        lon=lon,
        sos=sos,
        battery=battery,
    )


def analytics(
    camera_id: str,
    at: datetime,
    kind: CameraAnalyticsKind,
    community_id: str = "c01",
    confidence: float = 0.9,
    snapshot_refs: list[str] | None = None,
) -> CameraAnalytics:
    return CameraAnalytics(
        **_base(community_id, at),
        camera_id=camera_id,
        analytics_kind=kind,
        snapshot_refs=snapshot_refs or ["snapshots/a.jpg"],
        confidence=confidence,
    )

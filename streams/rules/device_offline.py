"""DEVICE_OFFLINE: a device has sent no telemetry for longer than the limit.

An absence rule: the outage is declared once the stream's event-time watermark shows that
more than `offline_minutes` passed since the device's last telemetry (strictly longer: a
device silent for exactly 5:00 is still online). Because the watermark only moves while
other telemetry flows, an ingest outage that silences every device raises nothing; and when
telemetry resumes, the time in which the partition's telemetry carried nothing at all is not
counted against any device (`heard_nothing`): after a platform outage each device has what
was left of its limit to report again, instead of every device not yet heard going offline at once
when the watermark leaps. One finding per outage; the device's next telemetry resolves it
with the outage length, and `suppress_minutes` is 0 so that a later outage opens a new
alert.

A device read through a controller (a charging shed's slots) is that controller here: its
readings are the controller's heartbeats, and an unreachable shed is one outage, not one per
slot.

Telemetry with `metrics["online"] == 0` is a poller reporting that it could not reach the
device (Modbus health): not a heartbeat. It neither postpones nor resolves an outage; for a
device never heard from before, it starts the clock, so a device unreachable from the
start is reported once the limit has passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field

from schemas.alerts import AlertType, Evidence, Severity, SubjectKind
from schemas.events import DeviceKind, DeviceTelemetry
from schemas.reference import Device
from schemas.rule_config import DEVICE_OFFLINE_MINUTES, SuppressMinutes
from streams.rules.rule import (
    Clearance,
    Explanation,
    Finding,
    Outcome,
    Reference,
    Rule,
    RuleConfig,
    RuleState,
    hhmm,
)

TICK = timedelta(milliseconds=1)
"""Event times carry millisecond precision: the first instant silence exceeds the limit."""

KIND_EN = {
    DeviceKind.CAMERA: "Camera",
    DeviceKind.DOOR: "Door controller",
    DeviceKind.CHARGING_SHED: "Charging shed",
    DeviceKind.FENCE_CONTROLLER: "Fence controller",
    DeviceKind.SMOKE_DETECTOR: "Smoke detector",
    DeviceKind.BRACELET_GATEWAY: "Bracelet gateway",
}
KIND_ZH = {
    DeviceKind.CAMERA: "摄像机",
    DeviceKind.DOOR: "门禁控制器",
    DeviceKind.CHARGING_SHED: "充电棚",
    DeviceKind.FENCE_CONTROLLER: "电子围栏控制器",
    DeviceKind.SMOKE_DETECTOR: "烟感探测器",
    DeviceKind.BRACELET_GATEWAY: "手环网关",
}


class DeviceOfflineConfig(RuleConfig):
    offline_minutes: Annotated[float, Field(ge=1, le=1440)] = DEVICE_OFFLINE_MINUTES
    high_kinds: Annotated[tuple[DeviceKind, ...], Field(max_length=len(DeviceKind))] = (
        DeviceKind.FENCE_CONTROLLER,
        DeviceKind.CAMERA,
        DeviceKind.SMOKE_DETECTOR,
        DeviceKind.BRACELET_GATEWAY,
    )
    """High severity: each is the only eye on its danger (perimeter, video, fire, SOS path).
    Other kinds (doors, charging sheds) are medium: their silence loses records, not sight."""
    suppress_minutes: SuppressMinutes = 0.0


class DeviceState(RuleState):
    """Written on every telemetry, so it stays a handful of fields."""

    last_seen: datetime
    heartbeat: str
    """Event id of the last telemetry: the evidence an outage alert points to."""
    device_kind: DeviceKind
    offline: bool = False
    unheard: timedelta = timedelta(0)
    """Time since `last_seen` in which the platform heard no device at all: not counted."""


class DeviceOfflineRule(Rule[DeviceTelemetry, DeviceState, DeviceOfflineConfig]):
    name = "device_offline"
    alert_types = (AlertType.DEVICE_OFFLINE,)
    Config = DeviceOfflineConfig
    State = DeviceState

    def key(self, event: DeviceTelemetry, reference: Reference) -> str | None:
        return heard_as(event)

    def apply(
        self,
        state: DeviceState | None,
        event: DeviceTelemetry,
        config: DeviceOfflineConfig,
        reference: Reference,
    ) -> Outcome[DeviceState]:
        if state is None:
            return Outcome(
                DeviceState(
                    community_id=event.community_id,
                    last_seen=event.occurred_at,
                    heartbeat=event.event_id,
                    device_kind=event.device_kind,
                )
            )
        if not is_heartbeat(event) or event.occurred_at <= state.last_seen:
            return Outcome(state)
        seen = state.model_copy(
            update={
                "last_seen": event.occurred_at,
                "heartbeat": event.event_id,
                "device_kind": event.device_kind,
                "offline": False,
                "unheard": timedelta(0),
            }
        )
        if not state.offline:
            return Outcome(seen)
        return Outcome(seen, clearances=[back_online(event, heard_as(event), state.last_seen)])

    def wake_at(self, state: DeviceState, config: DeviceOfflineConfig) -> datetime | None:
        return None if state.offline else outage_start(state, config)

    def advance(
        self,
        state: DeviceState,
        key: str,
        watermark: datetime,
        config: DeviceOfflineConfig,
        reference: Reference,
    ) -> Outcome[DeviceState]:
        finding = offline_finding(key, state, watermark, config, reference.device(key))
        return Outcome(state.model_copy(update={"offline": True}), findings=[finding])

    def heard_nothing(
        self, state: DeviceState, dark: timedelta, config: DeviceOfflineConfig
    ) -> DeviceState | None:
        if state.offline:
            return None
        return state.model_copy(update={"unheard": state.unheard + dark})

    def last_heard(self, state: DeviceState) -> datetime | None:
        return state.last_seen


def offline_finding(
    device_id: str,
    state: DeviceState,
    watermark: datetime,
    config: DeviceOfflineConfig,
    device: Device | None,
) -> Finding:
    silent_en, silent_zh = span(watermark - state.last_seen)
    dark_en, dark_zh = "", ""
    if state.unheard:
        dark_en, dark_zh = span(state.unheard)
        dark_en = f"; not counting {dark_en} in which the platform heard no device"
        dark_zh = f"，不计平台未收到任何设备数据的 {dark_zh}"
    label = (device.name or device.place) if device else None
    where_en, where_zh = (f" ({label})", f"（{label}）") if label else ("", " ")
    kind_en, kind_zh = KIND_EN[state.device_kind], KIND_ZH[state.device_kind]
    limit = f"{config.offline_minutes:g}"
    seen = hhmm(state.last_seen)
    return Finding(
        alert_type=AlertType.DEVICE_OFFLINE,
        severity=Severity.HIGH if state.device_kind in config.high_kinds else Severity.MEDIUM,
        community_id=state.community_id,
        subject_kind=SubjectKind.DEVICE,
        subject=device_id,
        occurred_at=outage_start(state, config),
        explanation=Explanation(
            en=(
                f"{kind_en} {device_id}{where_en} has sent no telemetry since {seen} "
                f"({silent_en} so far, limit {limit} min{dark_en}): presumed offline."
            ),
            zh=(
                f"{kind_zh} {device_id}{where_zh}自 {seen} 起已 {silent_zh}未上报心跳或数据"
                f"（阈值 {limit} 分钟{dark_zh}），疑似离线"
            ),
        ),
        evidence=[
            Evidence(
                event_id=state.heartbeat,
                event_kind=DeviceTelemetry.kind,
                occurred_at=state.last_seen,
                summary=f"last telemetry from {device_id} at {seen}",
            )
        ],
    )


def heard_as(event: DeviceTelemetry) -> str:
    """The device whose silence this telemetry disproves: the controller it came through."""
    return event.controller_id or event.device_id


def is_heartbeat(event: DeviceTelemetry) -> bool:
    """Telemetry proves the device alive unless a poller says it could not reach it."""
    return event.metrics.get("online") != 0.0


def outage_start(state: DeviceState, config: DeviceOfflineConfig) -> datetime:
    """When the outage began to count: the first instant silence exceeded the limit, not
    counting the time nothing was heard from any device."""
    limit = timedelta(minutes=config.offline_minutes)
    return state.last_seen + limit + state.unheard + TICK


def back_online(event: DeviceTelemetry, device_id: str, last_seen: datetime) -> Clearance:
    outage_en, outage_zh = span(event.occurred_at - last_seen)
    return Clearance(
        alert_type=AlertType.DEVICE_OFFLINE,
        community_id=event.community_id,
        subject=device_id,
        occurred_at=event.occurred_at,
        explanation=Explanation(
            en=(
                f"{device_id} reported again at {hhmm(event.occurred_at)} after "
                f"{outage_en} without telemetry (last seen {hhmm(last_seen)})."
            ),
            zh=(
                f"{device_id} 于 {hhmm(event.occurred_at)} 恢复上报，"
                f"中断 {outage_zh}（上次上报 {hhmm(last_seen)}）"
            ),
        ),
    )


def span(length: timedelta) -> tuple[str, str]:
    """A duration as an officer reads it, in English and Chinese: 12 min, 2 h 5 min."""
    minutes = int(length.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min", f"{minutes} 分钟"
    return f"{hours} h {rest} min", f"{hours} 小时 {rest} 分钟"

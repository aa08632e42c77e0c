"""PERIMETER_INTRUSION: a fence zone raised an alarm; the officer's phone must ring now.

Every alarm is a finding on arrival (cross → critical, tamper → high, power loss →
medium; repeats fold into the zone's open alert). The zone then stays open until
`attach_minutes` after its latest alarm (a capture exactly 2:00 after still counts): face
captures and camera analytics from the cameras at that zone (reference devices whose
`place` is the zone), taken from the alarm on, are attached to the alert as they arrive,
so the officer sees who was there. A zone without cameras attaches nothing.

Alarms and captures meet on the community key. Most captures come when no zone is open:
then there is no state at all, so the lookup misses and nothing is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import (
    CameraAnalytics,
    DeviceKind,
    FaceCapture,
    PerimeterAlarm,
    PerimeterAlarmKind,
)
from schemas.rule_config import SuppressMinutes
from streams.rules.rule import (
    Attachment,
    Explanation,
    Finding,
    Outcome,
    Reference,
    Rule,
    RuleConfig,
    RuleState,
    evidence_of,
    hhmm,
)

SEVERITY = {
    PerimeterAlarmKind.CROSS: Severity.CRITICAL,
    PerimeterAlarmKind.TAMPER: Severity.HIGH,
    PerimeterAlarmKind.POWER_LOSS: Severity.MEDIUM,
}
ALARM_EN = {
    PerimeterAlarmKind.CROSS: "someone crossing the fence",
    PerimeterAlarmKind.TAMPER: "tampering with the fence",
    PerimeterAlarmKind.POWER_LOSS: "loss of fence power",
}
ALARM_ZH = {
    PerimeterAlarmKind.CROSS: "翻越报警",
    PerimeterAlarmKind.TAMPER: "破坏报警",
    PerimeterAlarmKind.POWER_LOSS: "断电报警",
}


class PerimeterIntrusionConfig(RuleConfig):
    attach_minutes: Annotated[float, Field(ge=0, le=30)] = 2.0
    suppress_minutes: SuppressMinutes = 0.0
    """A climber after a resolved alarm is a new intrusion: never muted."""


class OpenZone(BaseModel):
    since: datetime
    """The alarm that opened the zone: captures from then on belong to it."""
    until: datetime
    """The latest alarm plus `attach_minutes`."""
    cameras: list[str]


class OpenZones(RuleState):
    zones: dict[str, OpenZone] = Field(default_factory=dict)


class PerimeterIntrusionRule(
    Rule[PerimeterAlarm | FaceCapture | CameraAnalytics, OpenZones, PerimeterIntrusionConfig]
):
    name = "perimeter_intrusion"
    alert_types = (AlertType.PERIMETER_INTRUSION,)
    Config = PerimeterIntrusionConfig
    State = OpenZones

    def key(
        self, event: PerimeterAlarm | FaceCapture | CameraAnalytics, reference: Reference
    ) -> str | None:
        if isinstance(event, PerimeterAlarm):
            return event.community_id
        camera = reference.device(event.camera_id)
        # A camera that guards no place is at no fence zone: skip the state lookup.
        return event.community_id if camera is not None and camera.place else None

    def apply(
        self,
        state: OpenZones | None,
        event: PerimeterAlarm | FaceCapture | CameraAnalytics,
        config: PerimeterIntrusionConfig,
        reference: Reference,
    ) -> Outcome[OpenZones]:
        at = event.occurred_at
        zones = {z: o for z, o in state.zones.items() if o.until >= at} if state else {}
        if isinstance(event, PerimeterAlarm):
            cameras = [
                d.device_id
                for d in reference.devices_at(event.fence_zone)
                if d.device_kind is DeviceKind.CAMERA
            ]
            if cameras:
                opened = zones.get(event.fence_zone)
                zones[event.fence_zone] = OpenZone(
                    since=opened.since if opened else at,
                    until=at + timedelta(minutes=config.attach_minutes),
                    cameras=cameras,
                )
            return Outcome(
                kept(state, zones, event.community_id), findings=[alarm_finding(event, cameras)]
            )
        attachments = [
            capture_attachment(event, zone)
            for zone, open_zone in zones.items()
            if event.camera_id in open_zone.cameras and open_zone.since <= at
        ]
        return Outcome(kept(state, zones, event.community_id), attachments=attachments)


def kept(
    state: OpenZones | None, zones: dict[str, OpenZone], community_id: str
) -> OpenZones | None:
    """No open zone, no state: the next capture's lookup misses and nothing is written.
    Otherwise the previous state's replay offsets (one per input topic) carry over."""
    if not zones:
        return None
    if state is None:
        return OpenZones(community_id=community_id, zones=zones)
    return state.model_copy(update={"zones": zones})


def alarm_finding(alarm: PerimeterAlarm, cameras: list[str]) -> Finding:
    at = hhmm(alarm.occurred_at)
    zone, kind = alarm.fence_zone, alarm.alarm_kind
    if cameras:
        watch_en = f"Captures from cameras {', '.join(cameras)} follow."
        watch_zh = f"周边摄像机 {'、'.join(cameras)} 的抓拍将陆续附上"
    else:
        watch_en, watch_zh = "No camera covers this zone.", "该防区无摄像机覆盖"
    return Finding(
        alert_type=AlertType.PERIMETER_INTRUSION,
        severity=SEVERITY[kind],
        community_id=alarm.community_id,
        subject_kind=SubjectKind.FENCE_ZONE,
        subject=zone,
        occurred_at=alarm.occurred_at,
        explanation=Explanation(
            en=f"Fence zone {zone} of {alarm.community_id} reported {ALARM_EN[kind]} at {at}. "
            + watch_en,
            zh=f"{alarm.community_id} 小区周界防区 {zone} 于 {at} 发生{ALARM_ZH[kind]}，{watch_zh}",
        ),
        evidence=[evidence_of(alarm, f"{kind} alarm in fence zone {zone} at {at}")],
    )


def capture_attachment(event: FaceCapture | CameraAnalytics, zone: str) -> Attachment:
    at = hhmm(event.occurred_at)
    if isinstance(event, FaceCapture):
        who = f"person {event.matched_person_id}" if event.matched_person_id else "unknown face"
        crop = f", crop {event.crop_ref}" if event.crop_ref else ""
        summary = f"{who} captured by {event.camera_id} at {at} (quality {event.quality:.2f}{crop})"
    else:
        snapshots = ", ".join(event.snapshot_refs) or "none"
        summary = (
            f"{event.analytics_kind} seen by {event.camera_id} at {at} (snapshots: {snapshots})"
        )
    return Attachment(
        alert_type=AlertType.PERIMETER_INTRUSION,
        community_id=event.community_id,
        subject=zone,
        occurred_at=event.occurred_at,
        evidence=[evidence_of(event, f"near fence zone {zone}: {summary}")],
    )

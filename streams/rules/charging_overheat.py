"""CHARGING_OVERHEAT: an e-bike charging-shed slot shows a fire precursor.

Four hazards, each judged on one slot's telemetry (strict limits: exactly 60.0 °C or
exactly the rated current is still normal):
- temperature above `max_temperature_c`;
- temperature rising faster than `max_rise_c_per_min`, measured between two points at
  least `rise_window_s` apart on the 3-reading median of the series, so one glitchy
  reading can neither raise nor mask a rise (it costs one reading of delay);
- current above the slot's rated current (`Device.rated_current_a`, else the default);
- the shed's smoke input (`smoke` ≥ 1).
A finding marks the onset of a hazard, not every hot reading: while the episode lasts,
only a hazard not yet reported (smoke after heat) updates the alert. A hazard-free
reading `clear_after_minutes` or more after the first of an unbroken hazard-free run
resolves it; a slot that goes silent stays alerted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from statistics import median
from typing import Annotated

from pydantic import BaseModel, Field

from schemas.alerts import AlertType, Evidence, Severity, SubjectKind
from schemas.events import DeviceKind, DeviceTelemetry
from schemas.rule_config import SuppressMinutes
from streams.rules.rule import (
    Clearance,
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


class ChargingOverheatConfig(RuleConfig):
    max_temperature_c: Annotated[float, Field(ge=30, le=100)] = 60.0
    max_rise_c_per_min: Annotated[float, Field(ge=0.5, le=30)] = 5.0
    rise_window_s: Annotated[float, Field(ge=30, le=900)] = 120.0
    default_rated_current_a: Annotated[float, Field(ge=1, le=32)] = 10.0
    """For slots whose reference record carries no rating."""
    clear_after_minutes: Annotated[float, Field(ge=1, le=240)] = 10.0
    suppress_minutes: SuppressMinutes = 0.0
    """A slot heating up again after it cooled down must ring again; findings mark onsets
    only, so there is no flood to hold back."""


class Cause(StrEnum):
    TEMPERATURE = "temperature"
    RISE = "rise"
    CURRENT = "current"
    SMOKE = "smoke"


class Reading(BaseModel):
    at: datetime
    temperature_c: float
    event_id: str


class SlotState(RuleState):
    readings: list[Reading] = Field(default_factory=list)
    """Temperatures back to just before the rise's anchor point, oldest first."""
    latest: datetime | None = None
    """The newest telemetry applied; older telemetry is checked but never extends the series."""
    causes: list[Cause] = Field(default_factory=list)
    """Hazards reported in the open episode; empty while the slot is normal."""
    normal_since: datetime | None = None
    """First hazard-free reading of the current run while an episode is open."""


@dataclass(frozen=True)
class Rise:
    start: Reading
    """Anchor point, temperature smoothed."""
    end: Reading
    rate_c_per_min: float


@dataclass(frozen=True)
class Hazard:
    cause: Cause
    en: str
    zh: str


class ChargingOverheatRule(Rule[DeviceTelemetry, SlotState, ChargingOverheatConfig]):
    name = "charging_overheat"
    alert_types = (AlertType.CHARGING_OVERHEAT,)
    Config = ChargingOverheatConfig
    State = SlotState

    def key(self, event: DeviceTelemetry, reference: Reference) -> str | None:
        return event.device_id if event.device_kind is DeviceKind.CHARGING_SHED else None

    def apply(
        self,
        state: SlotState | None,
        event: DeviceTelemetry,
        config: ChargingOverheatConfig,
        reference: Reference,
    ) -> Outcome[SlotState]:
        state = state or SlotState(community_id=event.community_id)
        in_order = state.latest is None or event.occurred_at > state.latest
        readings, rise = state.readings, None
        temperature = event.metrics.get("temperature_c")
        if in_order and temperature is not None:
            readings = [
                *readings,
                Reading(at=event.occurred_at, temperature_c=temperature, event_id=event.event_id),
            ]
            rise, readings = measure_rise(readings, config.rise_window_s)
        device = reference.device(event.device_id)
        rated = (device.rated_current_a if device else None) or config.default_rated_current_a
        hazards = hazards_of(event, rise, rated, config)
        fresh = [h for h in hazards if h.cause not in state.causes]
        latest = event.occurred_at if in_order else state.latest
        update: dict[str, object] = {"readings": readings, "latest": latest}
        findings: list[Finding] = []
        clearances: list[Clearance] = []
        if hazards:
            update |= {"causes": [*state.causes, *(h.cause for h in fresh)], "normal_since": None}
            if fresh:
                place = shed_of(event.device_id, device.place if device else None)
                findings.append(overheat_finding(event, place, hazards, rise))
        elif state.causes and in_order:
            since = state.normal_since or event.occurred_at
            if event.occurred_at - since >= timedelta(minutes=config.clear_after_minutes):
                clearances.append(cooled_down(event, since, temperature))
                update |= {"causes": [], "normal_since": None}
            else:
                update["normal_since"] = since
        return Outcome(state.model_copy(update=update), findings=findings, clearances=clearances)


def measure_rise(readings: list[Reading], window_s: float) -> tuple[Rise | None, list[Reading]]:
    """The smoothed rise over at least `window_s`, and the readings later rises still need.

    Point i of the smoothed series is the median of readings i-1, i, i+1, so the newest
    smoothed point is the second-newest reading. The anchor is the latest smoothed point at
    least `window_s` before it; later anchors only move forward, so everything before the
    anchor's left neighbour can go.
    """
    smoothed = [
        Reading(
            at=readings[i].at,
            temperature_c=median(r.temperature_c for r in readings[i - 1 : i + 2]),
            event_id=readings[i].event_id,
        )
        for i in range(1, len(readings) - 1)
    ]
    if len(smoothed) < 2:
        return None, readings
    end = smoothed[-1]
    for i in range(len(smoothed) - 2, -1, -1):
        start = smoothed[i]
        elapsed_s = (end.at - start.at).total_seconds()
        if elapsed_s >= window_s:
            rate = (end.temperature_c - start.temperature_c) / (elapsed_s / 60.0)
            return Rise(start=start, end=end, rate_c_per_min=rate), readings[i:]
    return None, readings


def hazards_of(
    event: DeviceTelemetry, rise: Rise | None, rated_a: float, config: ChargingOverheatConfig
) -> list[Hazard]:
    metrics = event.metrics
    hazards: list[Hazard] = []
    temperature = metrics.get("temperature_c")
    if temperature is not None and temperature > config.max_temperature_c:
        limit = f"{config.max_temperature_c:g} °C"
        hazards.append(
            Hazard(
                Cause.TEMPERATURE,
                f"temperature {temperature:.1f} °C (limit {limit})",
                f"温度 {temperature:.1f} °C（上限 {limit}）",
            )
        )
    if rise is not None and rise.rate_c_per_min > config.max_rise_c_per_min:
        span = (
            f"{rise.start.temperature_c:.1f} °C at {hhmm(rise.start.at)} → "
            f"{rise.end.temperature_c:.1f} °C at {hhmm(rise.end.at)}"
        )
        limit = f"{config.max_rise_c_per_min:g} °C/min"
        hazards.append(
            Hazard(
                Cause.RISE,
                f"temperature rising {rise.rate_c_per_min:.1f} °C/min ({span}, limit {limit})",
                f"温度每分钟上升 {rise.rate_c_per_min:.1f} °C（{span}，上限 {limit}）",
            )
        )
    current = metrics.get("current_a")
    if current is not None and current > rated_a:
        hazards.append(
            Hazard(
                Cause.CURRENT,
                f"current {current:.2f} A (rated {rated_a:g} A)",
                f"电流 {current:.2f} A（额定 {rated_a:g} A）",
            )
        )
    if metrics.get("smoke", 0.0) >= 1.0:
        hazards.append(Hazard(Cause.SMOKE, "shed smoke detector triggered", "充电棚烟感报警"))
    return hazards


def overheat_finding(
    event: DeviceTelemetry, shed: str, hazards: list[Hazard], rise: Rise | None
) -> Finding:
    slot = slot_of(event)
    at = hhmm(event.occurred_at)
    evidence = [
        evidence_of(event, f"{event.device_id} at {at}: " + "; ".join(h.en for h in hazards))
    ]
    if rise is not None and any(h.cause is Cause.RISE for h in hazards):
        evidence.insert(
            0,
            Evidence(
                event_id=rise.start.event_id,
                event_kind=DeviceTelemetry.kind,
                occurred_at=rise.start.at,
                summary=(
                    f"{event.device_id} at {hhmm(rise.start.at)}: "
                    f"{rise.start.temperature_c:.1f} °C (smoothed), start of the rise"
                ),
            ),
        )
    return Finding(
        alert_type=AlertType.CHARGING_OVERHEAT,
        severity=Severity.CRITICAL,
        community_id=event.community_id,
        subject_kind=SubjectKind.SHED_SLOT,
        subject=event.device_id,
        occurred_at=event.occurred_at,
        explanation=Explanation(
            en=(
                f"Charging shed {shed}, slot {slot} ({event.device_id}) at {at}: "
                + "; ".join(h.en for h in hazards)
                + ". Fire risk: check the slot and cut its power."
            ),
            zh=(
                f"充电棚 {shed} {slot} 号插座（{event.device_id}）于 {at} "
                + "；".join(h.zh for h in hazards)
                + "，存在起火风险，请立即到场检查并断电"
            ),
        ),
        evidence=evidence,
    )


def cooled_down(event: DeviceTelemetry, since: datetime, temperature: float | None) -> Clearance:
    at = hhmm(event.occurred_at)
    reading = reading_zh = ""
    if temperature is not None:
        reading, reading_zh = (
            f" ({temperature:.1f} °C at {at})",
            f"（{at} 温度 {temperature:.1f} °C）",
        )
    return Clearance(
        alert_type=AlertType.CHARGING_OVERHEAT,
        community_id=event.community_id,
        subject=event.device_id,
        occurred_at=event.occurred_at,
        explanation=Explanation(
            en=f"{event.device_id} has read normal since {hhmm(since)}{reading}.",
            zh=f"{event.device_id} 自 {hhmm(since)} 起读数正常{reading_zh}",
        ),
    )


def shed_of(slot_id: str, place: str | None) -> str:
    """The slot's shed from reference data, else from the id convention `c01-shed1-s03`."""
    return place or slot_id.rsplit("-", 1)[0]


def slot_of(event: DeviceTelemetry) -> str:
    number = event.metrics.get("slot")
    return f"{number:g}" if number is not None else event.device_id.rsplit("-", 1)[-1]

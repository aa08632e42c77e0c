"""BRACELET_LOW_BATTERY: a care bracelet is about to go dark; someone should charge it.

Hysteresis: the alert rises once when the battery reads below `low_battery` and resolves
only when it reads above `recharged`, so a battery hovering around the low mark (or read
noisily) raises one alert, not one per reading. State exists only while the battery is low.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import model_validator

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import BraceletReading, Wearer
from streams.rules.rule import (
    Clearance,
    Explanation,
    Finding,
    Fraction,
    Outcome,
    Reference,
    Rule,
    RuleConfig,
    RuleState,
    evidence_of,
    hhmm,
)

WEARER_EN = {Wearer.ELDERLY: "elderly wearer", Wearer.CHILD: "child", Wearer.PET: "pet"}
WEARER_ZH = {Wearer.ELDERLY: "老人", Wearer.CHILD: "儿童", Wearer.PET: "宠物"}


class LowBatteryConfig(RuleConfig):
    low_battery: Fraction = 0.15
    recharged: Fraction = 0.5

    @model_validator(mode="after")
    def _hysteresis(self) -> Self:
        if self.recharged <= self.low_battery:
            raise ValueError("recharged must be above low_battery, or the alert flaps")
        return self


class LowBatteryState(RuleState):
    since: datetime
    """The reading that went below the low mark."""


class BraceletLowBatteryRule(Rule[BraceletReading, LowBatteryState, LowBatteryConfig]):
    name = "bracelet_low_battery"
    alert_types = (AlertType.BRACELET_LOW_BATTERY,)
    Config = LowBatteryConfig
    State = LowBatteryState

    def key(self, event: BraceletReading, reference: Reference) -> str | None:
        return event.bracelet_id

    def apply(
        self,
        state: LowBatteryState | None,
        event: BraceletReading,
        config: LowBatteryConfig,
        reference: Reference,
    ) -> Outcome[LowBatteryState]:
        if state is not None:
            if event.battery > config.recharged:
                return Outcome(None, clearances=[recharged(event, state.since)])
            return Outcome(state)
        if event.battery >= config.low_battery:
            return Outcome(None)
        wearer = reference.bracelet(event.bracelet_id)
        name = wearer.name if wearer else ""
        who_en = f"{WEARER_EN[event.wearer]} {name}".rstrip()
        level, mark = f"{event.battery:.1%}", f"{config.low_battery * 100:g}%"
        now = hhmm(event.occurred_at)
        finding = Finding(
            alert_type=AlertType.BRACELET_LOW_BATTERY,
            severity=Severity.LOW,
            community_id=event.community_id,
            subject_kind=SubjectKind.BRACELET,
            subject=event.bracelet_id,
            occurred_at=event.occurred_at,
            explanation=Explanation(
                en=(
                    f"Bracelet {event.bracelet_id} ({who_en}) battery at {level} at {now}, "
                    f"below {mark}: charge it before SOS and location stop working."
                ),
                zh=(
                    f"手环 {event.bracelet_id}（{WEARER_ZH[event.wearer]}{name}）"
                    f"{now} 电量 {level}，低于 {mark}，请尽快充电，以免 SOS 求救和定位失效"
                ),
            ),
            evidence=[evidence_of(event, f"battery {level}")],
        )
        state = LowBatteryState(community_id=event.community_id, since=event.occurred_at)
        return Outcome(state, findings=[finding])


def recharged(reading: BraceletReading, since: datetime) -> Clearance:
    level, now = f"{reading.battery:.0%}", hhmm(reading.occurred_at)
    return Clearance(
        alert_type=AlertType.BRACELET_LOW_BATTERY,
        community_id=reading.community_id,
        subject=reading.bracelet_id,
        occurred_at=reading.occurred_at,
        explanation=Explanation(
            en=f"charged to {level} at {now} (low since {hhmm(since)}).",
            zh=f"{now} 电量已恢复至 {level}（{hhmm(since)} 起电量低）",
        ),
    )

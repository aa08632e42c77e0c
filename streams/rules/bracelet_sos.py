"""BRACELET_SOS: a care-bracelet wearer pressed the SOS button."""

from __future__ import annotations

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import BraceletReading, Wearer
from schemas.rule_config import SuppressMinutes
from streams.rules.rule import (
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

WEARER_EN = {Wearer.ELDERLY: "elderly wearer", Wearer.CHILD: "child", Wearer.PET: "pet"}
WEARER_ZH = {Wearer.ELDERLY: "老人", Wearer.CHILD: "儿童", Wearer.PET: "宠物"}


class BraceletSosConfig(RuleConfig):
    suppress_minutes: SuppressMinutes = 0.0
    """A press after an officer resolved the last one is a new call for help, never muted."""


class BraceletSosRule(Rule[BraceletReading, RuleState, BraceletSosConfig]):
    """Stateless: every press is a finding; the book folds repeated presses into the open
    alert, so its count and evidence show how often the wearer pressed."""

    name = "bracelet_sos"
    alert_types = (AlertType.BRACELET_SOS,)
    Config = BraceletSosConfig

    def key(self, event: BraceletReading, reference: Reference) -> str | None:
        return event.bracelet_id if event.sos else None

    def apply(
        self,
        state: RuleState | None,
        event: BraceletReading,
        config: BraceletSosConfig,
        reference: Reference,
    ) -> Outcome[RuleState]:
        wearer = reference.bracelet(event.bracelet_id)
        name = wearer.name if wearer else ""
        who_en = f"{WEARER_EN[event.wearer]} {name}".rstrip()
        who_zh = f"{WEARER_ZH[event.wearer]}{name}"
        at_en, at_zh = position(event)
        battery = f"{event.battery:.0%}"
        finding = Finding(
            alert_type=AlertType.BRACELET_SOS,
            severity=Severity.CRITICAL,
            community_id=event.community_id,
            subject_kind=SubjectKind.BRACELET,
            subject=event.bracelet_id,
            occurred_at=event.occurred_at,
            explanation=Explanation(
                en=(
                    f"SOS pressed on bracelet {event.bracelet_id} ({who_en}) at "
                    f"{hhmm(event.occurred_at)}, {at_en}, battery {battery}."
                ),
                zh=(
                    f"手环 {event.bracelet_id}（{who_zh}）于 {hhmm(event.occurred_at)} "
                    f"按下 SOS 求救，"
                    f"{at_zh}，电量 {battery}"
                ),
            ),
            evidence=[evidence_of(event, f"SOS from {event.bracelet_id}, {at_en}")],
        )
        return Outcome(None, findings=[finding])


def position(reading: BraceletReading) -> tuple[str, str]:
    """Where the wearer is, as precise as the reading allows, in English and Chinese."""
    zone_en = f" (zone {reading.zone})" if reading.zone else ""
    zone_zh = f"（区域 {reading.zone}）" if reading.zone else ""
    if reading.lat is None or reading.lon is None:
        return f"position unknown{zone_en}", f"位置未知{zone_zh}"
    where = f"{reading.lat:.6f}, {reading.lon:.6f}"
    return f"at {where}{zone_en}", f"位置 {where}{zone_zh}"

"""WATCHLIST_PLATE: a plate on the police watchlist passes any gate of the district."""

from __future__ import annotations

from schemas.alerts import WATCHLIST_SEVERITY, AlertType, SubjectKind, WatchlistPlate
from schemas.events import VehiclePassage
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

CATEGORY_ZH = {"wanted": "在逃关联", "stolen": "被盗", "attention": "重点关注"}


class WatchlistPlateRule(Rule[VehiclePassage, RuleState, RuleConfig]):
    """Stateless: every sighting is a finding; the book folds repeats into the open alert."""

    name = "watchlist_plate"
    alert_types = (AlertType.WATCHLIST_PLATE,)

    def key(self, event: VehiclePassage, reference: Reference) -> str | None:
        return event.plate if reference.watchlist_plate(event.plate) else None

    def apply(
        self,
        state: RuleState | None,
        event: VehiclePassage,
        config: RuleConfig,
        reference: Reference,
    ) -> Outcome[RuleState]:
        entry = reference.watchlist_plate(event.plate)
        if entry is None:
            return Outcome(None)
        return Outcome(None, findings=[watchlist_finding(event, entry)])


def watchlist_finding(passage: VehiclePassage, entry: WatchlistPlate) -> Finding:
    direction = "entered" if passage.direction == "in" else "left"
    direction_zh = "驶入" if passage.direction == "in" else "驶出"
    note = f": {entry.note}" if entry.note else ""
    return Finding(
        alert_type=AlertType.WATCHLIST_PLATE,
        severity=WATCHLIST_SEVERITY[entry.category],
        community_id=passage.community_id,
        subject_kind=SubjectKind.PLATE,
        subject=passage.plate,
        occurred_at=passage.occurred_at,
        explanation=Explanation(
            en=(
                f"Plate {passage.plate} ({entry.category} on the police watchlist{note}) "
                f"{direction} community {passage.community_id} at gate {passage.gate_id} "
                f"at {hhmm(passage.occurred_at)} (camera {passage.camera_id}, "
                f"read confidence {passage.confidence:.2f})."
            ),
            zh=(
                f"布控车辆 {passage.plate}（{CATEGORY_ZH.get(entry.category, entry.category)}）"
                f"于 {hhmm(passage.occurred_at)} 从 {passage.gate_id} {direction_zh} "
                f"{passage.community_id} 小区（识别置信度 {passage.confidence:.2f}）"
            ),
        ),
        evidence=[
            evidence_of(passage, f"{passage.plate} {passage.direction} at gate {passage.gate_id}")
        ],
    )

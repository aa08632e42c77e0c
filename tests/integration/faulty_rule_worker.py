"""`pingan worker` with one more rule, a faulty one, for test_rule_isolation.

The tally rule keeps the ids of a bracelet's SOS presses and names them in its alert. On a
press whose event id starts with `poison-` it first appends the id to its state in place,
then raises: the engine must discard that half-written state, dead-letter the pair and go on.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import Field

from pingan.platform.settings import get_settings
from pingan.worker import run_worker
from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import BraceletReading
from streams.rules.catalogue import all_rules
from streams.rules.rule import (
    Explanation,
    Finding,
    Outcome,
    Reference,
    Rule,
    RuleConfig,
    RuleState,
    evidence_of,
)

POISON = "poison-"
TALLY_PREFIX = "tally-"


class TallyState(RuleState):
    presses: list[str] = Field(default_factory=list)


class TallyRule(Rule[BraceletReading, TallyState, RuleConfig]):
    name = "tally_sos"
    alert_types = (AlertType.BRACELET_SOS,)
    State = TallyState

    def key(self, event: BraceletReading, reference: Reference) -> str | None:
        return event.bracelet_id if event.sos else None

    def apply(
        self,
        state: TallyState | None,
        event: BraceletReading,
        config: RuleConfig,
        reference: Reference,
    ) -> Outcome[TallyState]:
        state = state or TallyState()
        state.presses.append(event.event_id)
        if event.event_id.startswith(POISON):
            raise KeyError(event.event_id)
        presses = ", ".join(state.presses)
        finding = Finding(
            alert_type=AlertType.BRACELET_SOS,
            severity=Severity.LOW,
            community_id=event.community_id,
            subject_kind=SubjectKind.BRACELET,
            subject=f"{TALLY_PREFIX}{event.bracelet_id}",
            occurred_at=event.occurred_at,
            explanation=Explanation(en=f"presses: {presses}", zh=f"按下：{presses}"),
            evidence=[evidence_of(event, "press")],
        )
        return Outcome(state, findings=[finding])


def rules() -> list[Rule[Any, Any, Any]]:
    return [*all_rules(), TallyRule()]


if __name__ == "__main__":
    result = run_worker(get_settings(), host_api=True, rules=rules())
    result.warehouse.close()
    sys.exit(1 if result.failure is not None else 0)

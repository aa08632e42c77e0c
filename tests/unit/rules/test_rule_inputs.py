"""A rule's inputs are its first type argument: `Rule[E, S, C]` says which events the engine
hands it, once, and a union names several."""

from __future__ import annotations

from schemas.events import DoorAccess, FaceCapture, VehiclePassage
from schemas.rule_config import RuleConfig
from streams.rules.catalogue import all_rules
from streams.rules.ebike_in_elevator import EbikeInElevatorRule
from streams.rules.rule import Outcome, Reference, Rule, RuleState


class PassageCounter(Rule[VehiclePassage, RuleState, RuleConfig]):
    name = "passage_counter"

    def key(self, event: VehiclePassage, reference: Reference) -> str | None:
        return event.plate

    def apply(
        self,
        state: RuleState | None,
        event: VehiclePassage,
        config: RuleConfig,
        reference: Reference,
    ) -> Outcome[RuleState]:
        return Outcome(state)


class UnitDoorWatcher(Rule[DoorAccess | FaceCapture, RuleState, RuleConfig]):
    name = "unit_door_watcher"

    def key(self, event: DoorAccess | FaceCapture, reference: Reference) -> str | None:
        return event.community_id

    def apply(
        self,
        state: RuleState | None,
        event: DoorAccess | FaceCapture,
        config: RuleConfig,
        reference: Reference,
    ) -> Outcome[RuleState]:
        return Outcome(state)


def test_one_event_type_is_the_only_input() -> None:
    assert PassageCounter.inputs == (VehiclePassage,)


def test_a_union_names_each_input_in_order() -> None:
    assert UnitDoorWatcher.inputs == (DoorAccess, FaceCapture)


def test_a_subclass_of_a_typed_rule_keeps_its_inputs() -> None:
    assert EbikeInElevatorRule.inputs == EbikeInElevatorRule.__mro__[1].inputs
    assert EbikeInElevatorRule.inputs


def test_every_rule_of_the_catalogue_takes_at_least_one_event_type() -> None:
    assert all(rule.inputs for rule in all_rules())

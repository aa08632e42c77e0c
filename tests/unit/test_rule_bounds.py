"""Rule thresholds have bounds: out-of-bounds values are refused, naming the bound; the
view lists the bounds; a stored out-of-bounds value is ignored, never run; switching off a
safety rule is recognised."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_origin

import orjson
import pytest

from pingan.platform.rule_settings import (
    SAFETY_ALERTS,
    RuleSettingsError,
    RuleThresholds,
    bounds_of,
    effective,
    is_safety_rule,
    reset_safety_off_reason,
    safety_off_reason,
    switches_off_safety,
    validated,
)
from pingan.platform.rule_settings import (
    rule_named as named_among,
)
from schemas.codec import decode
from schemas.reference import RuleSettings
from streams.rules.catalogue import all_rules
from streams.rules.rule import Rule

AT = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
RULES = all_rules()


def rule_named(name: str) -> Any:
    return named_among(name, RULES)


def test_a_suppression_of_1e300_minutes_is_refused() -> None:
    with pytest.raises(
        RuleSettingsError,
        match=r"^cloned_plate: suppress_minutes must be at most 10080 \(got 1e\+300\)$",
    ):
        validated(rule_named("cloned_plate"), {"suppress_minutes": 1e300})


@pytest.mark.parametrize(
    ("rule", "params", "message"),
    [
        (
            "charging_overheat",
            {"max_temperature_c": 150},
            "charging_overheat: max_temperature_c must be at most 100 (got 150)",
        ),
        (
            "roaming_vehicle",
            {"min_communities": 1},
            "roaming_vehicle: min_communities must be at least 2 (got 1)",
        ),
        (
            "perimeter_intrusion",
            {"suppress_minutes": -1},
            "perimeter_intrusion: suppress_minutes must be at least 0 (got -1)",
        ),
        (
            "bracelet_low_battery",
            {"low_battery": 1.5},
            "bracelet_low_battery: low_battery must be at most 1 (got 1.5)",
        ),
        (
            "device_offline",
            {"high_kinds": ["camera"] * 7},
            "device_offline: high_kinds must have at most 6 items (got 7)",
        ),
        (
            "group_renting",
            {"min_people": "100", "night_end_hour": 24},
            "group_renting: min_people must be at most 50 (got '100'); "
            "night_end_hour must be at most 23 (got 24)",
        ),
    ],
)
def test_out_of_bounds_values_are_refused_naming_the_bound(
    rule: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(RuleSettingsError) as refused:
        validated(rule_named(rule), params)
    assert str(refused.value) == message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), "NaN"])
def test_nan_and_infinities_are_refused(value: Any) -> None:
    with pytest.raises(RuleSettingsError, match="cloned_plate: max_speed_kmh must be a finite"):
        validated(rule_named("cloned_plate"), {"max_speed_kmh": value})


def test_other_problems_keep_their_wording() -> None:
    with pytest.raises(RuleSettingsError, match=r"^bracelet_sos: enabled: Input should be a valid"):
        validated(rule_named("bracelet_sos"), {"enabled": "maybe"})
    with pytest.raises(RuleSettingsError, match=r"^bracelet_low_battery: Value error, recharged"):
        validated(rule_named("bracelet_low_battery"), {"recharged": 0.1})


def _parameters(rule: Rule[Any, Any, Any]) -> list[tuple[str, Any]]:
    return [(name, info.annotation) for name, info in rule.Config.model_fields.items()]


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_every_numeric_parameter_has_both_bounds_and_every_list_a_length(
    rule: Rule[Any, Any, Any],
) -> None:
    for name, annotation in _parameters(rule):
        bounds = bounds_of(rule.Config, name)
        if annotation in (int, float):
            assert (bounds.minimum, bounds.maximum) != (None, None), name
            assert None not in (bounds.minimum, bounds.maximum), name
            assert bounds.minimum < bounds.maximum, name
        elif get_origin(annotation) in (tuple, list):
            assert bounds.max_items is not None, name
        else:
            assert annotation is bool, (name, annotation)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_the_defaults_lie_within_the_bounds(rule: Rule[Any, Any, Any]) -> None:
    """Pydantic does not validate defaults: a bound tighter than its default would only
    show when someone tries to set the default back."""
    defaults = rule.Config().model_dump(mode="json")
    assert validated(rule, defaults).model_dump(mode="json") == defaults


def test_the_view_lists_each_parameters_bounds() -> None:
    view = effective(rule_named("device_offline"), {}, "*")
    by_name = {p.name: p for p in view.parameters}
    suppress = by_name["suppress_minutes"]
    assert (suppress.minimum, suppress.maximum, suppress.max_items) == (0, 10080, None)
    offline = by_name["offline_minutes"]
    assert (offline.minimum, offline.maximum) == (1, 1440)
    assert (by_name["high_kinds"].minimum, by_name["high_kinds"].max_items) == (None, 6)
    assert (by_name["enabled"].minimum, by_name["enabled"].maximum) == (None, None)


def _stored(community_id: str, rules: dict[str, dict[str, Any]]) -> RuleSettings:
    """A record as a worker reads it off the topic (hand-made, so never validated)."""
    raw = {"community_id": community_id, "rules": rules, "updated_at": "2026-11-24T08:00:00Z"}
    return decode(orjson.dumps(raw), RuleSettings)


def test_a_worker_ignores_a_stored_out_of_bounds_layer_and_keeps_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rule = rule_named("cloned_plate")
    settings = {
        "*": _stored("*", {"cloned_plate": {"max_speed_kmh": 100}}),
        "c01": _stored("c01", {"cloned_plate": {"suppress_minutes": 1e300, "window_hours": 12}}),
    }
    thresholds = RuleThresholds(RULES)
    thresholds.refresh(list(settings.values()))
    with caplog.at_level("ERROR", logger="pingan.platform.rule_settings"):
        config = thresholds.config(rule, "c01")
    assert config.model_dump(include={"suppress_minutes", "max_speed_kmh", "window_hours"}) == {
        "suppress_minutes": 30.0,
        "max_speed_kmh": 100.0,
        "window_hours": 24.0,
    }
    [logged] = caplog.records
    assert "suppress_minutes must be at most 10080 (got 1e+300)" in logged.getMessage()
    [shown] = effective(rule, settings, "c01").ignored
    assert shown.startswith("community overrides (c01) ignored: cloned_plate: suppress_minutes")


def test_the_safety_rules_are_intrusion_sos_and_charging_overheat() -> None:
    """Fence power loss is an alarm kind of perimeter_intrusion, so it is covered with it."""
    assert {rule.name for rule in RULES if is_safety_rule(rule)} == {
        "perimeter_intrusion",
        "bracelet_sos",
        "charging_overheat",
    }
    assert {str(alert) for alert in SAFETY_ALERTS} == {
        "PERIMETER_INTRUSION",
        "BRACELET_SOS",
        "CHARGING_OVERHEAT",
    }


@pytest.mark.parametrize(
    ("rule", "overrides", "off"),
    [
        ("perimeter_intrusion", {"enabled": False}, True),
        ("bracelet_sos", {"enabled": "false"}, True),
        ("charging_overheat", {"enabled": 0, "max_temperature_c": 70}, True),
        ("bracelet_sos", {"suppress_minutes": 30}, True),
        ("bracelet_sos", {"enabled": True}, False),
        ("bracelet_sos", {"suppress_minutes": 0}, False),
        ("perimeter_intrusion", {"attach_minutes": 5}, False),
        ("charging_overheat", {"enabled": "maybe"}, False),
        ("cloned_plate", {"enabled": False}, False),
        ("device_offline", {"enabled": False, "suppress_minutes": 60}, False),
    ],
)
def test_switching_off_or_muting_a_safety_rule_is_recognised(
    rule: str, overrides: dict[str, Any], off: bool
) -> None:
    assert switches_off_safety(rule_named(rule), overrides) is off


def test_the_reason_says_what_switches_it_off() -> None:
    reason = safety_off_reason(
        rule_named("bracelet_sos"), {"enabled": False, "suppress_minutes": 5}
    )
    assert reason == (
        "enabled=false switches it off; suppress_minutes=5 mutes a subject's next alert for "
        "that long after one resolves (built-in 0)"
    )


def test_a_reset_that_inherits_a_switched_off_district_is_recognised() -> None:
    rule = rule_named("perimeter_intrusion")
    settings = {
        "*": RuleSettings(community_id="*", rules={rule.name: {"enabled": False}}, updated_at=AT),
        "c01": RuleSettings(
            community_id="c01", rules={rule.name: {"enabled": True}}, updated_at=AT
        ),
        "c02": RuleSettings(
            community_id="c02", rules={rule.name: {"attach_minutes": 5}}, updated_at=AT
        ),
    }
    assert reset_safety_off_reason(rule, settings, "c01") == (
        "it would inherit the district's values: enabled=false switches it off"
    )
    assert reset_safety_off_reason(rule, settings, "c02") is None
    assert reset_safety_off_reason(rule, settings, "*") is None

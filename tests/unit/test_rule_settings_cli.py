"""`pingan rules`: value parsing, merging, validation and resolution, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
import pytest
from click.testing import CliRunner
from pydantic import Field

from pingan import rule_settings_cli as cli
from pingan.platform.rule_settings import (
    RuleSettingsError,
    RuleThresholds,
    Scope,
    checked_community,
    effective,
    merged_overrides,
    rule_named,
    with_overrides,
)
from pingan.rule_settings_cli import parse_assignments, parse_value
from schemas.alerts import AlertType
from schemas.events import VehiclePassage
from schemas.reference import RuleSettings
from streams.rules.bracelet_sos import BraceletSosRule
from streams.rules.rule import Outcome, Reference, Rule, RuleConfig, RuleState

AT = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


class SpeedConfig(RuleConfig):
    max_speed_kmh: float = Field(default=120.0, ge=1, le=300)
    gates: list[str] = Field(default_factory=list, max_length=5)


class SpeedRule(Rule[VehiclePassage, RuleState, SpeedConfig]):
    """A stand-in with typed, constrained thresholds, independent of the real catalogue."""

    name = "speed"
    alert_types = (AlertType.CLONED_PLATE,)
    Config = SpeedConfig

    def key(self, event: VehiclePassage, reference: Reference) -> str | None:
        return None

    def apply(
        self,
        state: RuleState | None,
        event: VehiclePassage,
        config: SpeedConfig,
        reference: Reference,
    ) -> Outcome[RuleState]:
        return Outcome(None)


RULE = SpeedRule()


def _settings(**by_community: dict[str, dict[str, Any]]) -> dict[str, RuleSettings]:
    """Keyword `district` stands for "*"."""
    return {
        ("*" if cid == "district" else cid): RuleSettings(
            community_id="*" if cid == "district" else cid, rules=rules, updated_at=AT
        )
        for cid, rules in by_community.items()
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("30", 30),
        ("2.5", 2.5),
        ("true", True),
        ("null", None),
        ('["g1", "g2"]', ["g1", "g2"]),
        ('"30"', "30"),
        ("g1", "g1"),
        ("", ""),
        ("浙A", "浙A"),
    ],
)
def test_values_are_json_when_they_parse_else_text(text: str, value: Any) -> None:
    assert parse_value(text) == value


def test_assignments_split_on_the_first_equals_sign() -> None:
    assert parse_assignments(["max_speed_kmh=90", "gates=a=b", " enabled =false"]) == {
        "max_speed_kmh": 90,
        "gates": "a=b",
        "enabled": False,
    }


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["max_speed_kmh"], "expected PARAM=VALUE, got 'max_speed_kmh'"),
        (["=3"], "expected PARAM=VALUE"),
        (["a=1", "a=2"], "a is given twice"),
    ],
)
def test_malformed_assignments_are_named(assignments: list[str], message: str) -> None:
    with pytest.raises(RuleSettingsError, match=message):
        parse_assignments(assignments)


def test_unknown_rules_and_communities_are_refused_with_the_choices() -> None:
    with pytest.raises(RuleSettingsError, match="unknown rule 'sped'; rules: speed"):
        rule_named("sped", [RULE])
    with pytest.raises(RuleSettingsError, match="unknown community id 'c99'; use '\\*'"):
        checked_community("c99", {"c01"})
    assert checked_community("*", set()) == "*"


def test_merging_keeps_the_communitys_other_overrides_and_stores_validated_values() -> None:
    settings = _settings(c01={"speed": {"gates": ["g1"]}})
    merged = merged_overrides(RULE, settings, "c01", {"max_speed_kmh": "90"})
    assert merged == {"gates": ["g1"], "max_speed_kmh": 90.0}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_speed_kmh": -5}, r"speed: max_speed_kmh must be at least 1 \(got -5\)"),
        ({"max_speed_kmh": "fast"}, "speed: max_speed_kmh: Input should be a valid number"),
        ({"gates": "g1"}, "speed: gates: Input should be a valid list"),
        ({"max_sped": 90}, "speed has no parameter\\(s\\) max_sped; its parameters: enabled, "),
        ({}, "no parameters given"),
    ],
)
def test_bad_values_and_unknown_parameters_are_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleSettingsError, match=message):
        merged_overrides(RULE, {}, "c01", params)


def test_a_new_record_replaces_one_rule_and_keeps_the_others() -> None:
    settings = _settings(c01={"speed": {"gates": ["g1"]}, "other": {"enabled": False}})
    record = with_overrides(settings, "c01", "speed", {"max_speed_kmh": 80.0}, "officer")
    assert record.rules == {"speed": {"max_speed_kmh": 80.0}, "other": {"enabled": False}}
    assert (record.community_id, record.updated_by) == ("c01", "officer")
    dropped = with_overrides(settings, "c01", "speed", None, "officer")
    assert dropped.rules == {"other": {"enabled": False}}
    assert settings["c01"].rules["speed"] == {"gates": ["g1"]}


def test_effective_values_come_from_community_then_district_then_defaults() -> None:
    settings = _settings(
        district={"speed": {"max_speed_kmh": 100, "enabled": False}},
        c01={"speed": {"max_speed_kmh": 80}},
    )
    view = effective(RULE, settings, "c01")
    by_name = {p.name: p for p in view.parameters}
    speed, enabled, gates = by_name["max_speed_kmh"], by_name["enabled"], by_name["gates"]
    assert (speed.value, speed.default, speed.source) == (80.0, 120.0, Scope.COMMUNITY)
    assert speed.overrides == {Scope.DISTRICT: 100, Scope.COMMUNITY: 80}
    assert (enabled.value, enabled.source, enabled.overridden) == (False, Scope.DISTRICT, True)
    assert (gates.value, gates.source, gates.overridden) == ([], Scope.DEFAULT, False)
    district = {p.name: p.value for p in effective(RULE, settings, "*").parameters}
    assert district["max_speed_kmh"] == 100.0


def test_an_invalid_layer_is_shown_as_ignored() -> None:
    settings = _settings(
        district={"speed": {"max_speed_kmh": 100}},
        c01={"speed": {"max_speed_kmh": -1, "gates": ["g1"]}},
    )
    view = effective(RULE, settings, "c01")
    by_name = {p.name: p for p in view.parameters}
    assert (by_name["max_speed_kmh"].value, by_name["max_speed_kmh"].source) == (
        100.0,
        Scope.DISTRICT,
    )
    assert (by_name["gates"].value, by_name["gates"].source) == ([], Scope.DEFAULT)
    [problem] = view.ignored
    assert "community overrides (c01) ignored" in problem
    assert "max_speed_kmh" in problem


def test_thresholds_log_and_skip_an_invalid_layer_and_cache_until_refreshed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _settings(
        district={"speed": {"max_speed_kmh": 100}},
        c01={"speed": {"max_speed_kmh": -1, "gates": ["g1"]}},
    )
    thresholds = RuleThresholds([RULE])
    thresholds.refresh(list(settings.values()))
    with caplog.at_level("ERROR", logger="pingan.platform.rule_settings"):
        config = thresholds.config(RULE, "c01")
    assert config.model_dump(mode="json")["max_speed_kmh"] == 100.0
    assert config.model_dump(mode="json")["gates"] == []
    [record] = caplog.records
    assert "ignoring rule settings for speed in c01" in record.getMessage()
    assert thresholds.config(RULE, "c01") is config
    assert thresholds.config(RULE, "*").model_dump(mode="json")["max_speed_kmh"] == 100.0

    thresholds.refresh(list(_settings(c01={"speed": {"max_speed_kmh": 80}}).values()))
    assert thresholds.config(RULE, "c01").model_dump(mode="json")["max_speed_kmh"] == 80.0


def test_community_values_are_validated_together_with_what_they_inherit() -> None:
    settings = _settings(district={"speed": {"gates": ["g1"]}})
    assert merged_overrides(RULE, settings, "c01", {"max_speed_kmh": 70}) == {"max_speed_kmh": 70.0}


class FakePublisher:
    published: ClassVar[list[RuleSettings]] = []

    @classmethod
    def publish_now(cls, bootstrap: str, *records: RuleSettings) -> None:
        cls.published.extend(records)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> dict[str, RuleSettings]:
    """The CLI against in-memory settings: reads return `stored`, publishes are recorded."""
    stored = _settings(c01={"speed": {"gates": ["g1"]}})

    async def read(bootstrap: str) -> dict[str, RuleSettings]:
        return dict(stored)

    FakePublisher.published = []
    monkeypatch.setattr(cli, "read_rule_settings", read)
    monkeypatch.setattr(cli, "publish_now", FakePublisher.publish_now)
    monkeypatch.setattr(cli, "all_rules", lambda: [RULE, BraceletSosRule()])
    monkeypatch.setenv("USER", "wang.officer")
    return stored


def test_set_merges_and_publishes(offline: dict[str, RuleSettings]) -> None:
    result = CliRunner().invoke(
        cli.rules, ["set", "--community", "c01", "speed", "max_speed_kmh=90", 'gates=["g2"]']
    )
    assert result.exit_code == 0, result.output
    [record] = FakePublisher.published
    assert record.rules == {"speed": {"gates": ["g2"], "max_speed_kmh": 90.0}}
    assert (record.community_id, record.updated_by) == ("c01", "wang.officer")
    assert "max_speed_kmh" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--community", "c01", "speed", "max_speed_kmh=0"], "max_speed_kmh must be at least 1"),
        (["--community", "c01", "speed", "limit=3"], "speed has no parameter(s) limit"),
        (["--community", "c01", "sped", "max_speed_kmh=3"], "unknown rule 'sped'"),
        (["--community", "atlantis", "speed", "max_speed_kmh=3"], "unknown community id"),
        (["--community", "c01", "speed", "max_speed_kmh"], "expected PARAM=VALUE"),
    ],
)
def test_set_refuses_bad_input_with_exit_code_2(
    offline: dict[str, RuleSettings], args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli.rules, ["set", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert FakePublisher.published == []


def test_reset_drops_overrides_and_says_when_there_are_none(
    offline: dict[str, RuleSettings],
) -> None:
    runner = CliRunner()
    result = runner.invoke(cli.rules, ["reset", "--community", "c01", "speed"])
    assert result.exit_code == 0, result.output
    [record] = FakePublisher.published
    assert (record.community_id, record.rules) == ("c01", {})
    result = runner.invoke(cli.rules, ["reset", "--community", "c02"])
    assert result.exit_code == 0
    assert "c02 has no overrides; nothing changed" in result.output
    assert len(FakePublisher.published) == 1


def test_show_json_lists_every_level(offline: dict[str, RuleSettings]) -> None:
    result = CliRunner().invoke(cli.rules, ["show", "--community", "c01", "--json"])
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.stdout)
    assert document["community_id"] == "c01"
    assert document["communities_with_overrides"] == ["c01"]
    speed = document["rules"]["speed"]
    assert speed["alert_types"] == ["CLONED_PLATE"]
    assert speed["parameters"]["gates"] == {
        "value": ["g1"],
        "default": [],
        "source": "community",
        "community": ["g1"],
        "minimum": None,
        "maximum": None,
        "max_items": 5,
    }
    max_speed = speed["parameters"]["max_speed_kmh"]
    assert (max_speed["source"], max_speed["minimum"], max_speed["maximum"]) == ("default", 1, 300)
    suppress = document["rules"]["bracelet_sos"]["parameters"]["suppress_minutes"]
    assert (suppress["minimum"], suppress["maximum"]) == (0, 10080)


def test_show_as_a_table(offline: dict[str, RuleSettings]) -> None:
    result = CliRunner().invoke(cli.rules, ["show", "--community", "c01"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "speed → CLONED_PLATE"
    assert lines[1].split() == ["parameter", "value", "default", "district", "*", "c01", "bounds"]
    assert lines[2].split() == ["enabled", "true", "true", "·", "·"]
    assert any(
        line.split() == ["gates", '["g1"]', "[]", "·", '["g1"]', "≤5", "items"] for line in lines
    )
    assert any(
        line.split() == ["max_speed_kmh", "120.0", "120.0", "·", "·", "1..300"] for line in lines
    )
    assert any(line.split()[0::5] == ["suppress_minutes", "0..10080"] for line in lines)


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("max_speed_kmh=1e300", "speed: max_speed_kmh must be at most 300 (got 1e+300)"),
        ("max_speed_kmh=NaN", "speed: max_speed_kmh must be a finite number (got 'NaN')"),
        ("suppress_minutes=20000", "speed: suppress_minutes must be at most 10080 (got 20000)"),
        ('gates=["a","b","c","d","e","f"]', "speed: gates must have at most 5 items (got 6)"),
    ],
)
def test_set_refuses_values_out_of_bounds_naming_the_bound(
    offline: dict[str, RuleSettings], assignment: str, message: str
) -> None:
    result = CliRunner().invoke(cli.rules, ["set", "--community", "c01", "speed", assignment])
    assert result.exit_code == 2
    assert result.stderr.strip() == message
    assert FakePublisher.published == []


def test_switching_off_a_safety_rule_needs_the_flag(offline: dict[str, RuleSettings]) -> None:
    runner = CliRunner()
    args = ["set", "--community", "c01", "bracelet_sos", "enabled=false"]
    refused = runner.invoke(cli.rules, args)
    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        "bracelet_sos is a safety rule (BRACELET_SOS): for c01, enabled=false switches it off; "
        "repeat with --confirm-safety-off if that is intended"
    )
    assert FakePublisher.published == []

    confirmed = runner.invoke(cli.rules, [*args, "--confirm-safety-off"])
    assert confirmed.exit_code == 0, confirmed.output
    [record] = FakePublisher.published
    assert record.rules["bracelet_sos"] == {"enabled": False}
    assert record.updated_by == "wang.officer"
    assert "recorded as updated_by=wang.officer" in confirmed.stderr


def test_muting_a_safety_rule_needs_the_flag_but_other_changes_do_not(
    offline: dict[str, RuleSettings],
) -> None:
    runner = CliRunner()
    muted = runner.invoke(
        cli.rules, ["set", "--community", "*", "bracelet_sos", "suppress_minutes=60"]
    )
    assert muted.exit_code == 2
    assert "suppress_minutes=60 mutes a subject's next alert" in muted.stderr
    plain = runner.invoke(cli.rules, ["set", "--community", "c01", "speed", "enabled=false"])
    assert plain.exit_code == 0, plain.output
    assert len(FakePublisher.published) == 1


def test_a_reset_that_would_inherit_a_switched_off_district_needs_the_flag(
    offline: dict[str, RuleSettings],
) -> None:
    offline.update(
        _settings(
            district={"bracelet_sos": {"enabled": False}},
            c01={"bracelet_sos": {"enabled": True}, "speed": {"gates": ["g1"]}},
        )
    )
    runner = CliRunner()
    refused = runner.invoke(cli.rules, ["reset", "--community", "c01"])
    assert refused.exit_code == 2
    assert "it would inherit the district's values: enabled=false" in refused.stderr
    assert runner.invoke(cli.rules, ["reset", "--community", "c01", "speed"]).exit_code == 0
    confirmed = runner.invoke(cli.rules, ["reset", "--community", "c01", "--confirm-safety-off"])
    assert confirmed.exit_code == 0, confirmed.output
    assert [record.rules for record in FakePublisher.published] == [
        {"bracelet_sos": {"enabled": True}},
        {},
    ]

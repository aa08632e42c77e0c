"""Thresholds per rule and community: defaults ← district (`*`) ← the community's own.

Settings live on the compacted topic `pingan.config.rules`, one record per community (`*`
is the district default), so a change applies to the next event without a restart. An
override layer that does not validate on top of the ones below is logged and ignored as a
whole (the rest still apply); `pingan rules set` and the API validate before publishing, so
this only guards hand-made records.

`RuleThresholds` (the engine) and `effective` (what the CLI and the API show) resolve
through the same `_resolution`, so what is shown is what runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiokafka.errors import KafkaError
from pydantic import ValidationError

from schemas.events import utc_now
from schemas.reference import DISTRICT_DEFAULT, RuleSettings
from schemas.topics import RULE_SETTINGS
from streams.reference_data import read_reference
from streams.rules.catalogue import all_rules
from streams.rules.rule import Rule, RuleConfig

log = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 15.0

SettingsByCommunity = Mapping[str, RuleSettings]


class RuleSettingsError(ValueError):
    pass


class Scope(StrEnum):
    """Where a parameter's effective value comes from."""

    DEFAULT = "default"
    DISTRICT = "district"
    COMMUNITY = "community"


class SettingsUnavailable(Exception):
    """The settings topic could not be read to its end; the message names the broker."""


@dataclass(frozen=True)
class EffectiveParameter:
    name: str
    value: Any
    default: Any
    source: Scope
    overrides: Mapping[Scope, Any] = field(default_factory=dict)
    """The values set at district and community level, whether or not they won."""

    @property
    def overridden(self) -> bool:
        return self.source is not Scope.DEFAULT


@dataclass(frozen=True)
class RuleView:
    """One rule's thresholds as they apply to a community (or to the district default)."""

    rule: Rule[Any, Any]
    community_id: str
    parameters: list[EffectiveParameter]
    ignored: list[str]
    """Overrides a worker ignores because they do not validate (hand-made records)."""


def validated(rule: Rule[Any, Any], overrides: Mapping[str, Any]) -> RuleConfig:
    """The rule's config with `overrides` applied, or a RuleSettingsError naming the field."""
    try:
        return rule.Config(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise RuleSettingsError(f"{rule.name}: {problems}") from None


@dataclass(frozen=True)
class _IgnoredLayer:
    scope: Scope
    community_id: str
    error: RuleSettingsError


@dataclass(frozen=True)
class _Resolution:
    config: RuleConfig
    overrides: dict[str, Any]
    """The overrides that apply, merged from the layers that validated."""
    sources: dict[str, Scope]
    layers: dict[Scope, dict[str, Any]]
    """Every layer as stored, whether or not it applies."""
    ignored: list[_IgnoredLayer]


def _layer(settings: SettingsByCommunity, community_id: str, rule_name: str) -> dict[str, Any]:
    record = settings.get(community_id)
    return dict(record.rules.get(rule_name, {})) if record is not None else {}


def _resolution(
    rule: Rule[Any, Any], settings: SettingsByCommunity, community_id: str
) -> _Resolution:
    """Defaults ← district ← community: a layer that does not validate on top of the ones
    below is skipped as a whole."""
    scopes = [(Scope.DISTRICT, DISTRICT_DEFAULT)]
    if community_id != DISTRICT_DEFAULT:
        scopes.append((Scope.COMMUNITY, community_id))
    overrides: dict[str, Any] = {}
    sources: dict[str, Scope] = {}
    layers: dict[Scope, dict[str, Any]] = {}
    ignored: list[_IgnoredLayer] = []
    for scope, scope_id in scopes:
        layer = _layer(settings, scope_id, rule.name)
        layers[scope] = layer
        try:
            validated(rule, {**overrides, **layer})
        except RuleSettingsError as exc:
            ignored.append(_IgnoredLayer(scope, scope_id, exc))
            continue
        overrides.update(layer)
        sources.update(dict.fromkeys(layer, scope))
    return _Resolution(rule.Config(**overrides), overrides, sources, layers, ignored)


class RuleThresholds:
    """Resolves configs, cached until the settings change (`refresh`)."""

    def __init__(self, rules: Iterable[Rule[Any, Any]]) -> None:
        self._rules = {rule.name: rule for rule in rules}
        self._settings: dict[str, RuleSettings] = {}
        self._cache: dict[tuple[str, str], RuleConfig] = {}

    def refresh(self, settings: Sequence[RuleSettings]) -> None:
        self._settings = {s.community_id: s for s in settings}
        self._cache.clear()

    def config(self, rule: Rule[Any, Any], community_id: str) -> RuleConfig:
        key = (rule.name, community_id)
        config = self._cache.get(key)
        if config is None:
            config = self._resolve(rule, community_id)
            self._cache[key] = config
        return config

    def _resolve(self, rule: Rule[Any, Any], community_id: str) -> RuleConfig:
        resolution = _resolution(rule, self._settings, community_id)
        for skipped in resolution.ignored:
            log.error(
                "ignoring rule settings for %s in %s: %s",
                rule.name,
                skipped.community_id,
                skipped.error,
            )
        return resolution.config


def rule_named(name: str, rules: Sequence[Rule[Any, Any]] | None = None) -> Rule[Any, Any]:
    known = {rule.name: rule for rule in (all_rules() if rules is None else rules)}
    if name not in known:
        raise RuleSettingsError(f"unknown rule {name!r}; rules: {', '.join(sorted(known))}")
    return known[name]


def checked_community(community_id: str, known: Iterable[str]) -> str:
    if community_id != DISTRICT_DEFAULT and community_id not in set(known):
        raise RuleSettingsError(
            f"unknown community id {community_id!r}; use {DISTRICT_DEFAULT!r} for the "
            "district default"
        )
    return community_id


def effective(rule: Rule[Any, Any], settings: SettingsByCommunity, community_id: str) -> RuleView:
    """The rule's thresholds for a community as the engine's RuleThresholds resolves them,
    with where each value comes from."""
    resolution = _resolution(rule, settings, community_id)
    values = resolution.config.model_dump(mode="json")
    defaults = rule.Config().model_dump(mode="json")
    parameters = [
        EffectiveParameter(
            name=name,
            value=values[name],
            default=defaults[name],
            source=resolution.sources.get(name, Scope.DEFAULT),
            overrides={
                scope: layer[name] for scope, layer in resolution.layers.items() if name in layer
            },
        )
        for name in rule.Config.model_fields
    ]
    ignored = [
        f"{skipped.scope} overrides ({skipped.community_id}) ignored: {skipped.error}"
        for skipped in resolution.ignored
    ]
    return RuleView(rule, community_id, parameters, ignored)


def merged_overrides(
    rule: Rule[Any, Any],
    settings: SettingsByCommunity,
    community_id: str,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """The community's overrides of `rule` with `params` applied, validated on top of the
    district's (a community's values must hold with what it inherits), as stored values."""
    if not params:
        raise RuleSettingsError("no parameters given")
    unknown = sorted(set(params) - set(rule.Config.model_fields))
    if unknown:
        raise RuleSettingsError(
            f"{rule.name} has no parameter(s) {', '.join(unknown)}; "
            f"its parameters: {', '.join(rule.Config.model_fields)}"
        )
    layer = {**_layer(settings, community_id, rule.name), **params}
    inherited: dict[str, Any] = {}
    if community_id != DISTRICT_DEFAULT:
        inherited = _resolution(rule, settings, DISTRICT_DEFAULT).overrides
    config = validated(rule, {**inherited, **layer})
    return config.model_dump(mode="json", include=set(layer))


def with_overrides(
    settings: SettingsByCommunity,
    community_id: str,
    rule_name: str,
    overrides: Mapping[str, Any] | None,
    updated_by: str,
) -> RuleSettings:
    """The community's next record: its other rules untouched, `rule_name` replaced
    (or dropped when `overrides` is None)."""
    current = settings.get(community_id)
    rules = {name: dict(values) for name, values in (current.rules if current else {}).items()}
    if overrides is None:
        rules.pop(rule_name, None)
    else:
        rules[rule_name] = dict(overrides)
    return RuleSettings(
        community_id=community_id, rules=rules, updated_by=updated_by, updated_at=utc_now()
    )


async def read_rule_settings(
    bootstrap: str, timeout: float = READ_TIMEOUT_SECONDS
) -> dict[str, RuleSettings]:
    """Every community's current record: the compacted topic read once, without a group."""
    try:
        data = await read_reference(bootstrap, [RULE_SETTINGS], timeout)
    except (KafkaError, TimeoutError) as exc:
        raise SettingsUnavailable(
            f"could not read {RULE_SETTINGS.name} from Kafka at {bootstrap}: "
            f"{exc or type(exc).__name__}"
        ) from None
    return data.records(RULE_SETTINGS)

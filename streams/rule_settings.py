"""Thresholds per rule and community: defaults ← district (`*`) ← the community's own.

Settings arrive on a compacted topic, so a change applies to the next event without a
restart. An override that does not validate is logged and ignored (the rest still apply);
`pingan rules set` validates before publishing, so this only guards hand-made records.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from schemas.reference import DISTRICT_DEFAULT, RuleSettings
from streams.rules.rule import Rule, RuleConfig

log = logging.getLogger(__name__)


class RuleSettingsError(ValueError):
    pass


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


class RuleThresholds:
    """Resolves configs, cached until the settings change (`refresh`)."""

    def __init__(self, rules: Iterable[Rule[Any, Any]]) -> None:
        self._rules = {rule.name: rule for rule in rules}
        self._by_community: dict[str, Mapping[str, Mapping[str, Any]]] = {}
        self._cache: dict[tuple[str, str], RuleConfig] = {}

    def refresh(self, settings: Sequence[RuleSettings]) -> None:
        self._by_community = {s.community_id: s.rules for s in settings}
        self._cache.clear()

    def config(self, rule: Rule[Any, Any], community_id: str) -> RuleConfig:
        key = (rule.name, community_id)
        config = self._cache.get(key)
        if config is None:
            config = self._resolve(rule, community_id)
            self._cache[key] = config
        return config

    def _resolve(self, rule: Rule[Any, Any], community_id: str) -> RuleConfig:
        overrides: dict[str, Any] = {}
        for scope in (DISTRICT_DEFAULT, community_id):
            layer = self._by_community.get(scope, {}).get(rule.name, {})
            try:
                validated(rule, {**overrides, **layer})
            except RuleSettingsError as exc:
                log.error("ignoring rule settings for %s in %s: %s", rule.name, scope, exc)
                continue
            overrides.update(layer)
        return rule.Config(**overrides)

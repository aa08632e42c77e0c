"""Thresholds per rule and community: defaults ← district (`*`) ← the community's own.

Settings live on the compacted topic `pingan.config.rules`, one record per community (`*`
is the district default), so a change applies to the next event without a restart. An
override layer that does not validate on top of the ones below is logged and ignored as a
whole (the rest still apply); `pingan rules set` and the API validate before publishing, so
this only guards hand-made records.

`RuleThresholds` (the engine) and `effective` (what the CLI and the API show) resolve
through the same `_resolution`, so what is shown is what runs.

Bounds are declared once, on the rule configs (`Field(ge=..., le=...)`, `max_length`):
`validated` refuses a value beyond them naming the bound, and `bounds_of` reads them for
the view. Safety rules (`SAFETY_ALERTS`) may only be switched off or muted by someone
entitled to (`safety_off_reason`): the API asks for district_admin, the CLI for
`--confirm-safety-off`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import annotated_types
from aiokafka.errors import KafkaError
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from pingan.platform.reference_data import read_reference
from schemas.alerts import AlertType
from schemas.events import utc_now
from schemas.reference import DISTRICT_DEFAULT, RuleSettings
from schemas.rule_config import RuleConfig, RuleSpec
from schemas.topics import RULE_SETTINGS

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


Number = int | float


@dataclass(frozen=True)
class Bounds:
    """A parameter's inclusive bounds as its config declares them; None = unbounded."""

    minimum: Number | None = None
    maximum: Number | None = None
    max_items: int | None = None
    """For list parameters: how many items at most."""


def bounds_of(config: type[RuleConfig], name: str) -> Bounds:
    """The bounds of one parameter, read from its Field constraints so they are declared
    once. Only inclusive bounds are read: rule configs declare no exclusive ones."""
    minimum: Number | None = None
    maximum: Number | None = None
    max_items: int | None = None
    for constraint in config.model_fields[name].metadata:
        if isinstance(constraint, annotated_types.Ge):
            minimum = constraint.ge
        elif isinstance(constraint, annotated_types.Le):
            maximum = constraint.le
        elif isinstance(constraint, annotated_types.MaxLen):
            max_items = constraint.max_length
    return Bounds(minimum, maximum, max_items)


@dataclass(frozen=True)
class EffectiveParameter:
    name: str
    value: Any
    default: Any
    source: Scope
    overrides: Mapping[Scope, Any] = field(default_factory=dict)
    """The values set at district and community level, whether or not they won."""
    minimum: Number | None = None
    """Inclusive; None when the parameter has no lower bound (e.g. `enabled`)."""
    maximum: Number | None = None
    """Inclusive; None when the parameter has no upper bound."""
    max_items: int | None = None
    """List parameters: the most items allowed."""

    @property
    def overridden(self) -> bool:
        return self.source is not Scope.DEFAULT


@dataclass(frozen=True)
class RuleView:
    """One rule's thresholds as they apply to a community (or to the district default)."""

    rule: RuleSpec
    community_id: str
    parameters: list[EffectiveParameter]
    ignored: list[str]
    """Overrides a worker ignores because they do not validate (hand-made records)."""


def validated(rule: RuleSpec, overrides: Mapping[str, Any]) -> RuleConfig:
    """The rule's config with `overrides` applied, or a RuleSettingsError naming the field
    (and, for a value out of bounds, the bound)."""
    try:
        return rule.Config(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors(include_url=False))
        raise RuleSettingsError(f"{rule.name}: {problems}") from None


_BOUND_MESSAGES = {
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "greater_than": "must be above {gt}",
    "less_than": "must be below {lt}",
    "finite_number": "must be a finite number",
    "too_long": "must have at most {max_length} items",
}
"""Pydantic's error types for bounds, said so that the officer reads the bound."""


def _problem(error: ErrorDetails) -> str:
    where = ".".join(str(p) for p in error["loc"])
    template = _BOUND_MESSAGES.get(error["type"])
    if template is None:
        return f"{where}: {error['msg']}" if where else error["msg"]
    ctx = {key: _shown_number(value) for key, value in error.get("ctx", {}).items()}
    got = ctx["actual_length"] if error["type"] == "too_long" else _shown_number(error["input"])
    return f"{where} {template.format(**ctx)} (got {got})"


def _shown_number(value: Any) -> str:
    """10080.0 as 10080, 1e300 as 1e+300, text quoted."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


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


def _resolution(rule: RuleSpec, settings: SettingsByCommunity, community_id: str) -> _Resolution:
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

    def __init__(self, rules: Iterable[RuleSpec]) -> None:
        self._rules = {rule.name: rule for rule in rules}
        self._settings: dict[str, RuleSettings] = {}
        self._cache: dict[tuple[str, str], RuleConfig] = {}

    def refresh(self, settings: Sequence[RuleSettings]) -> None:
        self._settings = {s.community_id: s for s in settings}
        self._cache.clear()

    def config(self, rule: RuleSpec, community_id: str) -> RuleConfig:
        key = (rule.name, community_id)
        config = self._cache.get(key)
        if config is None:
            config = self._resolve(rule, community_id)
            self._cache[key] = config
        return config

    def _resolve(self, rule: RuleSpec, community_id: str) -> RuleConfig:
        resolution = _resolution(rule, self._settings, community_id)
        for skipped in resolution.ignored:
            log.error(
                "ignoring rule settings for %s in %s: %s",
                rule.name,
                skipped.community_id,
                skipped.error,
            )
        return resolution.config


def rule_named(name: str, rules: Sequence[RuleSpec]) -> RuleSpec:
    known = {rule.name: rule for rule in rules}
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


def effective(rule: RuleSpec, settings: SettingsByCommunity, community_id: str) -> RuleView:
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
            **asdict(bounds_of(rule.Config, name)),
        )
        for name in rule.Config.model_fields
    ]
    ignored = [
        f"{skipped.scope} overrides ({skipped.community_id}) ignored: {skipped.error}"
        for skipped in resolution.ignored
    ]
    return RuleView(rule, community_id, parameters, ignored)


def merged_overrides(
    rule: RuleSpec,
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


SAFETY_ALERTS: frozenset[AlertType] = frozenset(
    {AlertType.PERIMETER_INTRUSION, AlertType.BRACELET_SOS, AlertType.CHARGING_OVERHEAT}
)
"""Alerts someone's safety hangs on: a fence crossed, a call for help, a charging fire. Fence
power loss is not a rule of its own but an alarm kind of perimeter_intrusion
(`PerimeterAlarmKind.POWER_LOSS`), so it is covered with it."""


def is_safety_rule(rule: RuleSpec) -> bool:
    """By the alerts it raises, so a rule renamed or split stays covered."""
    return any(alert in SAFETY_ALERTS for alert in rule.alert_types)


def safety_off_reason(rule: RuleSpec, overrides: Mapping[str, Any]) -> str | None:
    """How `overrides` would switch off a safety rule's alerts, or None when they would not.

    Off is `enabled=false`, and also a suppression above the built-in one: a safety rule
    re-alerts at once by design (a second SOS after a resolved one is a new call for help),
    so muting it for a while silences it for that while. Values are read as validation will
    read them ("false" is false); one that does not parse is refused by validation anyway.
    """
    if not is_safety_rule(rule):
        return None
    reasons = []
    if _as(bool, overrides.get("enabled", True)) is False:
        reasons.append("enabled=false switches it off")
    suppress = _as(float, overrides.get("suppress_minutes"))
    built_in = rule.Config.model_fields["suppress_minutes"].default
    if isinstance(suppress, float) and suppress > built_in:
        reasons.append(
            f"suppress_minutes={_shown_number(suppress)} mutes a subject's next alert for "
            f"that long after one resolves (built-in {_shown_number(built_in)})"
        )
    return "; ".join(reasons) or None


def switches_off_safety(rule: RuleSpec, overrides: Mapping[str, Any]) -> bool:
    """Whether applying `overrides` needs the authority to switch off a safety rule."""
    return safety_off_reason(rule, overrides) is not None


def reset_safety_off_reason(
    rule: RuleSpec, settings: SettingsByCommunity, community_id: str
) -> str | None:
    """How dropping the community's overrides of `rule` would switch it off: it then inherits
    the district's, which may be off where the community had switched it back on."""
    before = _resolution(rule, settings, community_id).config
    dropped = with_overrides(settings, community_id, rule.name, None, "")
    after = _resolution(rule, {**settings, community_id: dropped}, community_id).config
    if safety_off_reason(rule, before.model_dump()) is not None:
        return None
    reason = safety_off_reason(rule, after.model_dump())
    return None if reason is None else f"it would inherit the district's values: {reason}"


def _as(kind: type[Any], value: Any) -> Any:
    """`value` as validation would read it as `kind`, or None when it would refuse it."""
    if value is None:
        return None
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return None


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

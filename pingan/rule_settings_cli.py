"""`pingan rules`: read and change rule thresholds per community, and what the API shares of it.

Settings live on the compacted topic `pingan.config.rules`, one record per community (`*`
is the district default). A change is a new record for that community, so running workers
apply it to the next event without a restart. Changes are validated here, before they
are published, because a worker only logs and ignores an override it cannot use.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NoReturn

import click
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from ingest.publisher import Publisher
from ingest.reference import community_ids
from pingan.settings import get_settings
from schemas.codec import DecodeError, decode
from schemas.events import utc_now
from schemas.reference import DISTRICT_DEFAULT, RuleSettings
from schemas.topics import RULE_SETTINGS
from streams.rule_settings import RuleSettingsError, validated
from streams.rules.catalogue import all_rules
from streams.rules.rule import Rule

log = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 15.0

SettingsByCommunity = Mapping[str, RuleSettings]


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


def parse_value(text: str) -> Any:
    """JSON when it parses (30, 2.5, true, ["a"], "quoted"), the bare text otherwise."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def parse_assignments(assignments: Iterable[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for assignment in assignments:
        name, equals, text = assignment.partition("=")
        name = name.strip()
        if not equals or not name:
            raise RuleSettingsError(f"expected PARAM=VALUE, got {assignment!r}")
        if name in params:
            raise RuleSettingsError(f"{name} is given twice")
        params[name] = parse_value(text)
    return params


def _layer(settings: SettingsByCommunity, community_id: str, rule_name: str) -> dict[str, Any]:
    record = settings.get(community_id)
    return dict(record.rules.get(rule_name, {})) if record is not None else {}


def effective(rule: Rule[Any, Any], settings: SettingsByCommunity, community_id: str) -> RuleView:
    """Resolve defaults ← district ← community exactly as the engine's RuleThresholds does:
    a layer that does not validate on top of the ones below is skipped as a whole."""
    scopes = [(Scope.DISTRICT, DISTRICT_DEFAULT)]
    if community_id != DISTRICT_DEFAULT:
        scopes.append((Scope.COMMUNITY, community_id))
    overrides: dict[str, Any] = {}
    sources: dict[str, Scope] = {}
    layers: dict[Scope, dict[str, Any]] = {}
    ignored: list[str] = []
    for scope, scope_id in scopes:
        layer = _layer(settings, scope_id, rule.name)
        layers[scope] = layer
        try:
            validated(rule, {**overrides, **layer})
        except RuleSettingsError as exc:
            ignored.append(f"{scope} overrides ({scope_id}) ignored: {exc}")
            continue
        overrides.update(layer)
        sources.update(dict.fromkeys(layer, scope))
    values = rule.Config(**overrides).model_dump(mode="json")
    defaults = rule.Config().model_dump(mode="json")
    parameters = [
        EffectiveParameter(
            name=name,
            value=values[name],
            default=defaults[name],
            source=sources.get(name, Scope.DEFAULT),
            overrides={scope: layer[name] for scope, layer in layers.items() if name in layer},
        )
        for name in rule.Config.model_fields
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
        district = _layer(settings, DISTRICT_DEFAULT, rule.name)
        try:
            validated(rule, district)
            inherited = district
        except RuleSettingsError:
            pass
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
    partitions = [TopicPartition(RULE_SETTINGS.name, p) for p in range(RULE_SETTINGS.partitions)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        client_id="pingan-rule-settings",
    )
    records: dict[str, RuleSettings] = {}
    try:
        async with asyncio.timeout(timeout):
            await consumer.start()
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            while any([await consumer.position(tp) < offset for tp, offset in end.items()]):
                batches = await consumer.getmany(*partitions, timeout_ms=200)
                for messages in batches.values():
                    for message in messages:
                        _apply(records, message.key, message.value)
    except (KafkaError, TimeoutError) as exc:
        raise SettingsUnavailable(
            f"could not read {RULE_SETTINGS.name} from Kafka at {bootstrap}: "
            f"{exc or type(exc).__name__}"
        ) from None
    finally:
        await consumer.stop()
    return records


def _apply(records: dict[str, RuleSettings], key: bytes | None, value: bytes | None) -> None:
    if key is None:
        return
    community_id = key.decode(errors="replace")
    if value is None:
        records.pop(community_id, None)
        return
    try:
        records[community_id] = decode(value, RuleSettings)
    except DecodeError as exc:
        log.warning("ignoring unreadable rule settings for %s: %s", community_id, exc.reason)


def view_json(view: RuleView) -> dict[str, Any]:
    return {
        "alert_types": [str(t) for t in view.rule.alert_types],
        "parameters": {
            p.name: {
                "value": p.value,
                "default": p.default,
                "source": str(p.source),
                **{str(scope): value for scope, value in p.overrides.items()},
            }
            for p in view.parameters
        },
        "ignored": view.ignored,
    }


def render_view(view: RuleView) -> str:
    """A small table per rule; `·` marks a level that sets nothing."""
    scopes = [Scope.DISTRICT]
    header = ["parameter", "value", "default", "district *"]
    if view.community_id != DISTRICT_DEFAULT:
        scopes.append(Scope.COMMUNITY)
        header.append(view.community_id)
    rows = [header] + [
        [p.name, _shown(p.value), _shown(p.default)]
        + [_shown(p.overrides[s]) if s in p.overrides else "·" for s in scopes]
        for p in view.parameters
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"{view.rule.name} → {', '.join(str(t) for t in view.rule.alert_types)}"]
    lines += ["  " + "  ".join(map(str.ljust, row, widths)).rstrip() for row in rows]
    lines += [f"  ! {problem}" for problem in view.ignored]
    return "\n".join(lines)


def _shown(value: Any) -> str:
    return orjson.dumps(value).decode()


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _checked_community(community_id: str) -> str:
    try:
        return checked_community(community_id, community_ids())
    except RuleSettingsError as exc:
        _fail(str(exc))


def _read(bootstrap: str) -> dict[str, RuleSettings]:
    try:
        return asyncio.run(read_rule_settings(bootstrap))
    except SettingsUnavailable as exc:
        _fail(str(exc), code=1)


def _publish(bootstrap: str, record: RuleSettings) -> None:
    async def send() -> None:
        async with Publisher(bootstrap) as publisher:
            await publisher.publish(record)

    try:
        asyncio.run(send())
    except KafkaError as exc:
        _fail(f"could not publish to {RULE_SETTINGS.name} at {bootstrap}: {exc}", code=1)


def _updated_by() -> str:
    return os.environ.get("USER") or "cli"


@click.group()
def rules() -> None:
    """Rule thresholds per community: defaults ← district (*) ← community."""


@rules.command()
@click.option(
    "--community",
    "community_id",
    default=DISTRICT_DEFAULT,
    show_default=True,
    help="Community id, or * for the district default.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(community_id: str, as_json: bool) -> None:
    """Show every rule's thresholds and where they come from."""
    community_id = _checked_community(community_id)
    settings = _read(get_settings().bootstrap)
    views = [effective(rule, settings, community_id) for rule in all_rules()]
    overridden = sorted(c for c, r in settings.items() if c != DISTRICT_DEFAULT and r.rules)
    if as_json:
        document = {
            "community_id": community_id,
            "rules": {view.rule.name: view_json(view) for view in views},
            "communities_with_overrides": overridden,
        }
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo("\n\n".join(render_view(view) for view in views))
    if overridden:
        click.echo(f"\ncommunities with their own overrides: {', '.join(overridden)}")


@rules.command("set")
@click.option(
    "--community",
    "community_id",
    required=True,
    help="Community id, or * for the district default.",
)
@click.argument("rule_name", metavar="RULE")
@click.argument("assignments", metavar="PARAM=VALUE...", nargs=-1, required=True)
def set_(community_id: str, rule_name: str, assignments: tuple[str, ...]) -> None:
    """Override thresholds of RULE for a community.

    Values are JSON when they parse (30, 2.5, true, ["a","b"]), text otherwise. The
    community's other overrides are kept; running workers apply the change to the next event.
    """
    community_id = _checked_community(community_id)
    try:
        rule = rule_named(rule_name)
        params = parse_assignments(assignments)
    except RuleSettingsError as exc:
        _fail(str(exc))
    bootstrap = get_settings().bootstrap
    settings = _read(bootstrap)
    try:
        overrides = merged_overrides(rule, settings, community_id, params)
    except RuleSettingsError as exc:
        _fail(str(exc))
    record = with_overrides(settings, community_id, rule.name, overrides, _updated_by())
    _publish(bootstrap, record)
    click.echo(f"published {rule.name} overrides for {community_id}")
    click.echo(render_view(effective(rule, {**settings, community_id: record}, community_id)))


@rules.command()
@click.option(
    "--community",
    "community_id",
    required=True,
    help="Community id, or * for the district default.",
)
@click.argument("rule_name", metavar="[RULE]", required=False)
def reset(community_id: str, rule_name: str | None) -> None:
    """Drop a community's overrides of RULE, or of every rule.

    The community then inherits the district default (or, for *, the built-in defaults).
    """
    community_id = _checked_community(community_id)
    bootstrap = get_settings().bootstrap
    settings = _read(bootstrap)
    current = settings.get(community_id)
    held = current.rules if current is not None else {}
    if not held or (rule_name is not None and rule_name not in held):
        scope = f" of {rule_name}" if rule_name else ""
        click.echo(f"{community_id} has no overrides{scope}; nothing changed")
        return
    if rule_name is None:
        record = RuleSettings(
            community_id=community_id, rules={}, updated_by=_updated_by(), updated_at=utc_now()
        )
    else:
        record = with_overrides(settings, community_id, rule_name, None, _updated_by())
    _publish(bootstrap, record)
    dropped = rule_name or ", ".join(sorted(held))
    click.echo(f"dropped the overrides of {dropped} for {community_id}")

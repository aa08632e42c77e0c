"""`pingan rules`: read and change rule thresholds per community from the terminal.

Settings live on the compacted topic `pingan.config.rules`, one record per community (`*`
is the district default). A change is a new record for that community, so running workers
apply it to the next event without a restart. Changes are validated here, before they
are published, because a worker only logs and ignores an override it cannot use.

Resolution, validation and reading the topic live in `pingan.platform.rule_settings` (shared
with the API); this module parses PARAM=VALUE, renders and publishes.

Switching off (or muting) a safety rule takes `--confirm-safety-off`: the operator holds the
Kafka credentials, so a flag is the check that it is meant, and `updated_by` names who did it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

import click
import orjson
from aiokafka.errors import KafkaError

from pingan.platform.district import community_ids
from pingan.platform.publisher import publish_now
from pingan.platform.rule_settings import (
    EffectiveParameter,
    RuleSettingsError,
    RuleView,
    Scope,
    SettingsUnavailable,
    checked_community,
    effective,
    merged_overrides,
    read_rule_settings,
    reset_safety_off_reason,
    rule_named,
    safety_off_reason,
    with_overrides,
)
from pingan.platform.settings import get_settings
from schemas.events import utc_now
from schemas.reference import DISTRICT_DEFAULT, RuleSettings
from schemas.topics import RULE_SETTINGS
from streams.rules.catalogue import all_rules
from streams.rules.rule import Rule


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


def view_json(view: RuleView) -> dict[str, Any]:
    return {
        "alert_types": [str(t) for t in view.rule.alert_types],
        "parameters": {
            p.name: {
                "value": p.value,
                "default": p.default,
                "source": str(p.source),
                **{str(scope): value for scope, value in p.overrides.items()},
                "minimum": p.minimum,
                "maximum": p.maximum,
                "max_items": p.max_items,
            }
            for p in view.parameters
        },
        "ignored": view.ignored,
    }


def render_view(view: RuleView) -> str:
    """A small table per rule; `·` marks a level that sets nothing. The last column holds
    the bounds, so an officer sees what a value may be before setting it."""
    scopes = [Scope.DISTRICT]
    header = ["parameter", "value", "default", "district *"]
    if view.community_id != DISTRICT_DEFAULT:
        scopes.append(Scope.COMMUNITY)
        header.append(view.community_id)
    header.append("bounds")
    rows = [header] + [
        [p.name, _shown(p.value), _shown(p.default)]
        + [_shown(p.overrides[s]) if s in p.overrides else "·" for s in scopes]
        + [_bounds(p)]
        for p in view.parameters
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"{view.rule.name} → {', '.join(str(t) for t in view.rule.alert_types)}"]
    lines += ["  " + "  ".join(map(str.ljust, row, widths)).rstrip() for row in rows]
    lines += [f"  ! {problem}" for problem in view.ignored]
    return "\n".join(lines)


def _shown(value: Any) -> str:
    return orjson.dumps(value).decode()


def _bounds(parameter: EffectiveParameter) -> str:
    """e.g. `0..10080`, `≥2`, `≤6 items`; empty when unbounded (`enabled`)."""
    low, high = parameter.minimum, parameter.maximum
    if low is not None and high is not None:
        return f"{low}..{high}"
    if low is not None:
        return f"≥{low}"
    if high is not None:
        return f"≤{high}"
    if parameter.max_items is not None:
        return f"≤{parameter.max_items} items"
    return ""


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
    try:
        publish_now(bootstrap, record)
    except KafkaError as exc:
        _fail(f"could not publish to {RULE_SETTINGS.name} at {bootstrap}: {exc}", code=1)


def _updated_by() -> str:
    return os.environ.get("USER") or "cli"


CONFIRM_SAFETY_OFF = click.option(
    "--confirm-safety-off",
    is_flag=True,
    help="Required to switch off or mute a safety rule (intrusion, SOS, charging overheat).",
)


def _check_safety(
    rule: Rule[Any, Any, Any], community_id: str, reason: str | None, confirmed: bool
) -> None:
    """Refuse (exit 2) a change that switches off a safety rule unless it is confirmed; say
    so when it is, since the record's updated_by is then the audit trail."""
    if reason is None:
        return
    alerts = ", ".join(rule.alert_types)
    what = f"{rule.name} is a safety rule ({alerts}): for {community_id}, {reason}"
    if not confirmed:
        _fail(f"{what}; repeat with --confirm-safety-off if that is intended")
    click.echo(f"warning: {what}; recorded as updated_by={_updated_by()}", err=True)


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
@CONFIRM_SAFETY_OFF
def set_(
    community_id: str, rule_name: str, assignments: tuple[str, ...], confirm_safety_off: bool
) -> None:
    """Override thresholds of RULE for a community.

    Values are JSON when they parse (30, 2.5, true, ["a","b"]), text otherwise, and must lie
    within the bounds `show` lists. The community's other overrides are kept; running workers
    apply the change to the next event. Switching off or muting a safety rule needs
    --confirm-safety-off.
    """
    community_id = _checked_community(community_id)
    try:
        rule = rule_named(rule_name, all_rules())
        params = parse_assignments(assignments)
    except RuleSettingsError as exc:
        _fail(str(exc))
    bootstrap = get_settings().bootstrap
    settings = _read(bootstrap)
    try:
        overrides = merged_overrides(rule, settings, community_id, params)
    except RuleSettingsError as exc:
        _fail(str(exc))
    _check_safety(rule, community_id, safety_off_reason(rule, params), confirm_safety_off)
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
@CONFIRM_SAFETY_OFF
def reset(community_id: str, rule_name: str | None, confirm_safety_off: bool) -> None:
    """Drop a community's overrides of RULE, or of every rule.

    The community then inherits the district default (or, for *, the built-in defaults).
    Should that switch off a safety rule the community had on, --confirm-safety-off is needed.
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
    for rule in all_rules():
        if rule.name in held and rule_name in (None, rule.name):
            reason = reset_safety_off_reason(rule, settings, community_id)
            _check_safety(rule, community_id, reason, confirm_safety_off)
    if rule_name is None:
        record = RuleSettings(
            community_id=community_id, rules={}, updated_by=_updated_by(), updated_at=utc_now()
        )
    else:
        record = with_overrides(settings, community_id, rule_name, None, _updated_by())
    _publish(bootstrap, record)
    dropped = rule_name or ", ".join(sorted(held))
    click.echo(f"dropped the overrides of {dropped} for {community_id}")

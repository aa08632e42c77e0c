"""Rule thresholds per community: read by the police, changed by district admins only.

Switching off a safety rule (intrusion, SOS, overheating) could silence the alert that
brings an officer to a fence at night, so it needs its own permission and is audited.
"""

from __future__ import annotations

import logging

import strawberry
from strawberry.scalars import JSON

from graphql_api.access import Permission
from graphql_api.errors import InvalidArgument, QueryFailed
from graphql_api.permissions import needs
from graphql_api.resolvers.common import ApiInfo, audit, checked_note, publish
from graphql_api.types import RuleSettings
from pingan.platform.rule_settings import (
    RuleSettingsError,
    SettingsUnavailable,
    checked_community,
    effective,
    merged_overrides,
    read_rule_settings,
    rule_named,
    safety_off_reason,
    with_overrides,
)
from pingan.platform.settings import get_settings
from schemas import reference
from schemas.reference import DISTRICT_DEFAULT

log = logging.getLogger(__name__)

DISTRICT = strawberry.ID(DISTRICT_DEFAULT)
RULE_NAME_MAX_LENGTH = 64


@strawberry.type
class RuleSettingsQuery:
    @strawberry.field(
        description='Every rule\'s thresholds as they apply to a community ("*": the district '
        "default): built-in defaults, overridden by the district, overridden by the community.",
        permission_classes=[needs(Permission.READ_RULE_SETTINGS)],
    )
    async def rule_settings(
        self, info: ApiInfo, community_id: strawberry.ID = DISTRICT
    ) -> list[RuleSettings]:
        community_id = _settings_scope(info, community_id)
        settings = await _current_rule_settings()
        return [
            RuleSettings.from_view(effective(r, settings, community_id))
            for r in info.context.api.rules
        ]


@strawberry.type
class RuleSettingsMutation:
    @strawberry.mutation(
        description='Override thresholds of one rule for a community ("*": the district '
        'default), e.g. params: {"suppress_minutes": 15}. The community\'s other overrides are '
        "kept; running workers apply the change to the next event. Values outside a "
        "parameter's bounds are refused. Returns the rule's thresholds after the change.",
        permission_classes=[needs(Permission.EDIT_RULE_SETTINGS)],
    )
    async def set_rule_settings(
        self, info: ApiInfo, community_id: strawberry.ID, rule: str, params: JSON
    ) -> RuleSettings:
        community_id = _settings_scope(info, community_id)
        if not isinstance(params, dict):
            raise InvalidArgument(
                'params must be an object of parameter names to values, e.g. {"enabled": false}'
            )
        rule = checked_note("rule", rule, RULE_NAME_MAX_LENGTH)
        try:
            chosen = rule_named(rule, info.context.api.rules)
            settings = await _current_rule_settings()
            overrides = merged_overrides(chosen, settings, community_id, params)
        except RuleSettingsError as exc:
            raise InvalidArgument(str(exc)) from None
        reason = safety_off_reason(chosen, params)
        if reason is not None:
            info.context.caller.require(
                Permission.SWITCH_OFF_SAFETY_RULES,
                f"{chosen.name} is a safety rule: {reason}; this",
            )
        await audit(
            info,
            "rule_settings.set",
            {"community_id": community_id, "rule": chosen.name, "params": params},
            community_ids=None if community_id == DISTRICT_DEFAULT else frozenset({community_id}),
        )
        record = with_overrides(
            settings, community_id, chosen.name, overrides, info.context.caller.sub
        )
        await publish(info, record)
        return RuleSettings.from_view(
            effective(chosen, {**settings, community_id: record}, community_id)
        )


def _settings_scope(info: ApiInfo, community_id: str) -> str:
    """ "*" (the district default) or one of the caller's own communities."""
    try:
        checked = checked_community(community_id, info.context.community_ids)
    except RuleSettingsError as exc:
        raise InvalidArgument(str(exc)) from None
    if checked != DISTRICT_DEFAULT:
        info.context.caller.scope([checked], info.context.community_ids)
    return checked


async def _current_rule_settings() -> dict[str, reference.RuleSettings]:
    """Read from the topic on every call, so the API holds no copy that could go stale.

    The topic is on the configured Kafka, where the API's publisher writes too.
    """
    try:
        return await read_rule_settings(get_settings().bootstrap)
    except SettingsUnavailable as exc:
        log.error("%s", exc)
        raise QueryFailed from None

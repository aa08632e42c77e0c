"""Query, mutation and subscription roots. Resolvers validate, delegate and convert."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from aiokafka.errors import KafkaError
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext, Info

from graphql_api import queries
from graphql_api.context import ApiContext
from graphql_api.criteria import AlertCriteria, PassageCriteria, checked_plate
from graphql_api.errors import (
    MASKED_MESSAGE,
    InvalidArgument,
    NotFound,
    PublishFailed,
    QueryFailed,
    log_error,
    should_mask,
)
from graphql_api.pagination import ONE_MS, PageRequest
from graphql_api.types import (
    ALERTS_LISTING,
    PASSAGES_LISTING,
    Alert,
    AlertFilter,
    Community,
    Connection,
    RuleSettings,
    VehiclePassage,
    WatchlistEntry,
    alert_connection,
    passage_connection,
)
from pingan.settings import get_settings
from schemas import alerts as alert_records
from schemas import reference
from schemas.alerts import AlertStatus, WatchlistCategory
from schemas.events import Record, utc_now
from schemas.reference import DISTRICT_DEFAULT
from schemas.topics import WATCHLIST_PLATES
from streams.rule_settings import (
    RuleSettingsError,
    SettingsUnavailable,
    checked_community,
    effective,
    merged_overrides,
    read_rule_settings,
    rule_named,
    with_overrides,
)
from streams.rules.catalogue import all_rules

log = logging.getLogger(__name__)

ApiInfo = Info[ApiContext, None]
FilterArgument = Annotated[AlertFilter | None, strawberry.argument(name="filter")]
ADDED_BY = "graphql-api"
DISTRICT = strawberry.ID(DISTRICT_DEFAULT)


def _alert_criteria(info: ApiInfo, alert_filter: AlertFilter | None) -> AlertCriteria:
    if alert_filter is None:
        return AlertCriteria()
    return alert_filter.criteria(info.context.community_ids)


@strawberry.type
class Query:
    @strawberry.field(description="The district's residential communities.")
    def communities(self, info: ApiInfo) -> list[Community]:
        return [Community.from_record(c) for c in info.context.communities]

    @strawberry.field(description="Alerts in their current state, newest firstSeen first.")
    async def alerts(
        self,
        info: ApiInfo,
        alert_filter: FilterArgument = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[Alert]:
        criteria = _alert_criteria(info, alert_filter)
        request = PageRequest.parse(ALERTS_LISTING, first, after)
        warehouse = info.context.warehouse
        page = await queries.alerts_page(warehouse, criteria, request)
        return alert_connection(page, lambda: queries.count_alerts(warehouse, criteria))

    @strawberry.field(description="One alert's current state, or null if there is none.")
    async def alert(self, info: ApiInfo, id: strawberry.ID) -> Alert | None:
        record = await queries.alert_by_id(info.context.warehouse, id)
        return None if record is None else Alert.from_record(record)

    @strawberry.field(
        description="Vehicles seen at community gates, newest first. "
        "Plates match regardless of spaces, dots and case."
    )
    async def vehicle_passages(
        self,
        info: ApiInfo,
        plate: str | None = None,
        community_ids: list[strawberry.ID] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[VehiclePassage]:
        criteria = PassageCriteria.checked(
            info.context.community_ids,
            plate=plate,
            community_ids=community_ids,
            since=since,
            until=until,
        )
        request = PageRequest.parse(PASSAGES_LISTING, first, after)
        warehouse = info.context.warehouse
        page = await queries.passages_page(warehouse, criteria, request)
        return passage_connection(page, lambda: queries.count_passages(warehouse, criteria))

    @strawberry.field(
        description='Every rule\'s thresholds as they apply to a community ("*": the district '
        "default): built-in defaults, overridden by the district, overridden by the community."
    )
    async def rule_settings(
        self, info: ApiInfo, community_id: strawberry.ID = DISTRICT
    ) -> list[RuleSettings]:
        community_id = _settings_scope(info, community_id)
        settings = await _current_rule_settings()
        return [RuleSettings.from_view(effective(r, settings, community_id)) for r in all_rules()]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Put a plate on the watchlist, or change its category.")
    async def add_watchlist_plate(
        self, info: ApiInfo, plate: str, category: WatchlistCategory, note: str | None = None
    ) -> WatchlistEntry:
        entry = alert_records.WatchlistPlate(
            plate=checked_plate(plate),
            category=category,
            note=note or "",
            added_by=ADDED_BY,
            added_at=utc_now(),
        )
        await _publish(info, entry)
        return WatchlistEntry.from_record(entry)

    @strawberry.mutation(
        description="Take a plate off the watchlist. True once the removal is recorded, "
        "whether or not the plate was listed."
    )
    async def remove_watchlist_plate(self, info: ApiInfo, plate: str) -> bool:
        key = checked_plate(plate).encode()
        try:
            await info.context.publisher.publish_raw(WATCHLIST_PLATES, key=key, value=None)
        except KafkaError as exc:
            log.error("could not publish watchlist removal: %s", exc)
            raise PublishFailed from None
        return True

    @strawberry.mutation(description="Mark an alert as being handled, optionally with a note.")
    async def acknowledge_alert(
        self, info: ApiInfo, id: strawberry.ID, note: str | None = None
    ) -> Alert:
        return await _move_alert(info, id, AlertStatus.ACKNOWLEDGED, note)

    @strawberry.mutation(description="Close an alert as handled, optionally with a note.")
    async def resolve_alert(
        self, info: ApiInfo, id: strawberry.ID, note: str | None = None
    ) -> Alert:
        return await _move_alert(info, id, AlertStatus.RESOLVED, note)

    @strawberry.mutation(
        description='Override thresholds of one rule for a community ("*": the district '
        'default), e.g. params: {"suppress_minutes": 15}. The community\'s other overrides are '
        "kept; running workers apply the change to the next event. Returns the rule's "
        "thresholds after the change."
    )
    async def set_rule_settings(
        self, info: ApiInfo, community_id: strawberry.ID, rule: str, params: JSON
    ) -> RuleSettings:
        community_id = _settings_scope(info, community_id)
        if not isinstance(params, dict):
            raise InvalidArgument(
                'params must be an object of parameter names to values, e.g. {"enabled": false}'
            )
        try:
            chosen = rule_named(rule)
            settings = await _current_rule_settings()
            overrides = merged_overrides(chosen, settings, community_id, params)
        except RuleSettingsError as exc:
            raise InvalidArgument(str(exc)) from None
        record = with_overrides(settings, community_id, chosen.name, overrides, ADDED_BY)
        await _publish(info, record)
        return RuleSettings.from_view(
            effective(chosen, {**settings, community_id: record}, community_id)
        )


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Alerts as rules raise or update them, from now on.")
    async def alerts(
        self, info: ApiInfo, alert_filter: FilterArgument = None
    ) -> AsyncGenerator[Alert, None]:
        criteria = _alert_criteria(info, alert_filter)
        async with info.context.alert_feed.subscribe() as feed:
            async for alert in feed:
                if criteria.matches(alert):
                    yield Alert.from_record(alert)


def _next_version(
    current: alert_records.Alert, status: AlertStatus, note: str | None
) -> alert_records.Alert:
    """The alert in its new status; its updated_at must exceed the stored one to win FINAL."""
    now = utc_now()
    changes: dict[str, object] = {
        "status": status,
        "note": current.note if note is None else note,
        "updated_at": max(now, current.updated_at + ONE_MS),
    }
    if status is AlertStatus.RESOLVED:
        changes["resolved_at"] = now
    return alert_records.Alert.model_validate(current.model_dump() | changes)


def _settings_scope(info: ApiInfo, community_id: str) -> str:
    try:
        return checked_community(community_id, info.context.community_ids)
    except RuleSettingsError as exc:
        raise InvalidArgument(str(exc)) from None


async def _current_rule_settings() -> dict[str, reference.RuleSettings]:
    """Read from the topic on every call, so the API holds no copy that could go stale.

    The topic is on the configured Kafka, where the API's publisher writes too.
    """
    try:
        return await read_rule_settings(get_settings().bootstrap)
    except SettingsUnavailable as exc:
        log.error("%s", exc)
        raise QueryFailed from None


async def _move_alert(info: ApiInfo, alert_id: str, status: AlertStatus, note: str | None) -> Alert:
    """An officer's step on an open alert: published as its next version."""
    current = await queries.alert_by_id(info.context.warehouse, alert_id)
    if current is None:
        raise NotFound(f"no alert with id {alert_id!r}")
    if current.status is AlertStatus.RESOLVED:
        raise InvalidArgument(f"alert {alert_id!r} is already resolved")
    moved = _next_version(current, status, note)
    await _publish(info, moved)
    return Alert.from_record(moved)


async def _publish(info: ApiInfo, record: Record) -> None:
    try:
        await info.context.publisher.publish(record)
    except KafkaError as exc:
        log.error("could not publish %s: %s", type(record).__name__, exc)
        raise PublishFailed from None


class PinganSchema(strawberry.Schema):
    """Logs client mistakes briefly and unexpected errors with their traceback."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            log_error(error)


schema = PinganSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[lambda: MaskErrors(should_mask_error=should_mask, error_message=MASKED_MESSAGE)],
)

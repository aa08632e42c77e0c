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
from strawberry.types import ExecutionContext, Info

from graphql_api import queries
from graphql_api.context import ApiContext
from graphql_api.criteria import AlertCriteria, PassageCriteria, checked_plate
from graphql_api.errors import (
    MASKED_MESSAGE,
    InvalidArgument,
    NotFound,
    PublishFailed,
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
    VehiclePassage,
    WatchlistEntry,
    alert_connection,
    passage_connection,
)
from schemas import alerts as alert_records
from schemas.alerts import AlertStatus, WatchlistCategory
from schemas.events import Record, utc_now
from schemas.topics import WATCHLIST_PLATES

log = logging.getLogger(__name__)

ApiInfo = Info[ApiContext, None]
FilterArgument = Annotated[AlertFilter | None, strawberry.argument(name="filter")]
ADDED_BY = "graphql-api"


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
        current = await queries.alert_by_id(info.context.warehouse, id)
        if current is None:
            raise NotFound(f"no alert with id {id!r}")
        if current.status is AlertStatus.RESOLVED:
            raise InvalidArgument(f"alert {id!r} is already resolved")
        acknowledged = _acknowledged(current, note)
        await _publish(info, acknowledged)
        return Alert.from_record(acknowledged)


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


def _acknowledged(current: alert_records.Alert, note: str | None) -> alert_records.Alert:
    """The next version of the alert; its updated_at must exceed the stored one to win FINAL."""
    updated_at = max(utc_now(), current.updated_at + ONE_MS)
    return alert_records.Alert.model_validate(
        current.model_dump()
        | {
            "status": AlertStatus.ACKNOWLEDGED,
            "note": current.note if note is None else note,
            "updated_at": updated_at,
        }
    )


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

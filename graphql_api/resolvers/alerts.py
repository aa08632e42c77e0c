"""The alert desk: listings, one alert, the officers' workflow, and the live feed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from graphql_api import queries
from graphql_api.access import Permission
from graphql_api.criteria import AlertCriteria
from graphql_api.errors import InvalidArgument, NotFound
from graphql_api.feed import REPLAY_MAX_SECONDS
from graphql_api.pagination import ONE_MS, PageRequest
from graphql_api.permissions import needs
from graphql_api.resolvers.common import ApiInfo, checked_note, publish
from graphql_api.types import ALERTS_LISTING, Alert, AlertFilter, Connection, alert_connection
from schemas import alerts as alert_records
from schemas.alerts import AlertStatus
from schemas.audit import AlertAction
from schemas.events import utc_now

FilterArgument = Annotated[AlertFilter | None, strawberry.argument(name="filter")]
NOTE_MAX_LENGTH = 2000
ASSIGNEE_MAX_LENGTH = 128


def alert_criteria(info: ApiInfo, alert_filter: AlertFilter | None) -> AlertCriteria:
    """What the caller asked for, within what the caller may see."""
    caller = info.context.caller
    known = info.context.community_ids
    if alert_filter is None:
        return AlertCriteria.checked(caller, known)
    return alert_filter.criteria(caller, known)


@strawberry.type
class AlertQuery:
    @strawberry.field(
        description="Alerts in their current state, newest firstSeen first.",
        permission_classes=[needs(Permission.READ_ALERTS)],
    )
    async def alerts(
        self,
        info: ApiInfo,
        alert_filter: FilterArgument = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[Alert]:
        criteria = alert_criteria(info, alert_filter)
        request = PageRequest.parse(ALERTS_LISTING, first, after)
        reader = info.context.api.reader
        page = await queries.alerts_page(reader, criteria, request)
        return alert_connection(page, lambda: queries.count_alerts(reader, criteria))

    @strawberry.field(
        description="One alert's current state, or null if there is none you may see.",
        permission_classes=[needs(Permission.READ_ALERTS)],
    )
    async def alert(self, info: ApiInfo, id: strawberry.ID) -> Alert | None:
        record = await queries.alert_by_id(info.context.api.reader, id, alert_criteria(info, None))
        return None if record is None else Alert.from_record(record)


@strawberry.type
class AlertMutation:
    @strawberry.mutation(
        description="Mark an alert as being handled, optionally with a note.",
        permission_classes=[needs(Permission.HANDLE_ALERTS)],
    )
    async def acknowledge_alert(
        self, info: ApiInfo, id: strawberry.ID, note: str | None = None
    ) -> Alert:
        return await _step(info, id, "acknowledge", note, status=AlertStatus.ACKNOWLEDGED)

    @strawberry.mutation(
        description="Give an alert to an officer (their sign-in name), optionally with a note. "
        "An open alert becomes acknowledged.",
        permission_classes=[needs(Permission.HANDLE_ALERTS)],
    )
    async def assign_alert(
        self, info: ApiInfo, id: strawberry.ID, to: str, note: str | None = None
    ) -> Alert:
        assignee = checked_note("to", to, ASSIGNEE_MAX_LENGTH)
        if not assignee:
            raise InvalidArgument(f"to must name an officer in 1-{ASSIGNEE_MAX_LENGTH} characters")
        return await _step(
            info, id, "assign", note, status=AlertStatus.ACKNOWLEDGED, assigned_to=assignee
        )

    @strawberry.mutation(
        description="Close an alert as handled, optionally with a note.",
        permission_classes=[needs(Permission.HANDLE_ALERTS)],
    )
    async def resolve_alert(
        self, info: ApiInfo, id: strawberry.ID, note: str | None = None
    ) -> Alert:
        return await _step(info, id, "resolve", note, status=AlertStatus.RESOLVED)


@strawberry.type
class AlertSubscription:
    @strawberry.subscription(
        description="Alerts as rules raise or update them, from now on, within what you may see. "
        f"With replaySeconds (0-{REPLAY_MAX_SECONDS}), first the alerts raised or updated that "
        "long ago or since: a client that also reads the latest page of `alerts` misses none "
        "raised in between, still on their way to storage. Keep the newest version of each id.",
        permission_classes=[needs(Permission.READ_ALERTS)],
    )
    async def alerts(
        self, info: ApiInfo, alert_filter: FilterArgument = None, replay_seconds: int = 0
    ) -> AsyncGenerator[Alert, None]:
        criteria = alert_criteria(info, alert_filter)
        if not 0 <= replay_seconds <= REPLAY_MAX_SECONDS:
            raise InvalidArgument(f"replaySeconds must be within 0-{REPLAY_MAX_SECONDS}")
        async with info.context.api.alert_feed.subscribe(replay_seconds) as feed:
            async for alert in feed:
                if criteria.matches(alert):
                    yield Alert.from_record(alert)


async def _step(
    info: ApiInfo,
    alert_id: str,
    action: str,
    note: str | None,
    *,
    status: AlertStatus,
    assigned_to: str | None = None,
) -> Alert:
    """An officer's step: the alert's next version (which the rules keep), and its history."""
    if note is not None:
        note = checked_note("note", note, NOTE_MAX_LENGTH)
    current = await queries.alert_by_id(
        info.context.api.reader, alert_id, alert_criteria(info, None)
    )
    if current is None:
        raise NotFound(f"no alert with id {alert_id!r}")
    if current.status is AlertStatus.RESOLVED:
        raise InvalidArgument(f"alert {alert_id!r} is already resolved")
    caller = info.context.caller
    moved = _next_version(current, status, note, assigned_to)
    step = AlertAction(
        action_id=uuid.uuid4().hex,
        alert_id=current.alert_id,
        community_id=current.community_id,
        action=action,
        actor=caller.sub,
        actor_role=caller.role.value,
        at=moved.updated_at,
        note=note or "",
        assigned_to=assigned_to,
    )
    await publish(info, moved, step)
    return Alert.from_record(moved)


def _next_version(
    current: alert_records.Alert,
    status: AlertStatus,
    note: str | None,
    assigned_to: str | None,
) -> alert_records.Alert:
    """The alert in its new status; its updated_at must exceed the stored one to win FINAL."""
    now = utc_now()
    changes: dict[str, object] = {
        "status": status,
        "note": current.note if note is None else note,
        "updated_at": max(now, current.updated_at + ONE_MS),
    }
    if assigned_to is not None:
        changes["assigned_to"] = assigned_to
    if status is AlertStatus.RESOLVED:
        changes["resolved_at"] = now
    return alert_records.Alert.model_validate(current.model_dump() | changes)

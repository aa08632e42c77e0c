"""The district's facilities and numbers: alert statistics, device health (listed and live),
and parking sessions with their fees. The communities' live counters are fields of
`Community` (types.py), loaded by `facility_queries.FacilityCounters`."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry

from graphql_api import facility_queries as sql
from graphql_api.access import Permission
from graphql_api.criteria import AlertCriteria, TimeWindow, checked_plate
from graphql_api.facility_types import (
    PARKING_LISTING,
    AlertStat,
    Device,
    DeviceHealthChange,
    DeviceStatus,
    ParkingRevenue,
    ParkingSessionConnection,
    PassageStat,
    StatsBucket,
    StatsGrouping,
    parking_connection,
)
from graphql_api.pagination import PageRequest
from graphql_api.permissions import needs
from graphql_api.resolvers.common import ApiInfo, audit
from graphql_api.types import Connection, connection
from schemas.alerts import AlertType
from schemas.events import DeviceKind
from schemas.parking import SessionStatus

StartedSince = Annotated[
    datetime | None, strawberry.argument(description="Earliest start, inclusive.")
]
StartedUntil = Annotated[
    datetime | None, strawberry.argument(description="Latest start, exclusive.")
]


@strawberry.type
class FacilityQuery:
    @strawberry.field(
        description="Alerts per hour or district-time day by firstSeen, split by community or "
        "alert type, within the communities and alert types you may see; empty buckets are "
        "left out. HOUR spans at most 90 days, DAY at most 1,096; until defaults to now.",
        permission_classes=[needs(Permission.READ_AGGREGATES)],
    )
    async def alert_stats(
        self,
        info: ApiInfo,
        bucket: StatsBucket,
        since: datetime,
        until: datetime | None = None,
        group_by: StatsGrouping = StatsGrouping.COMMUNITY,
        community_ids: list[strawberry.ID] | None = None,
    ) -> list[AlertStat]:
        request = sql.StatsRequest.checked(
            info.context.caller,
            info.context.community_ids,
            bucket=bucket,
            group_by=group_by,
            since=since,
            until=until,
            community_ids=community_ids,
        )
        return await sql.alert_stats(info.context.api.reader, request)

    @strawberry.field(
        description="Vehicle passages per hour or district-time day at the gates of the "
        "communities you may see, in and out, by community; empty buckets are left out. "
        "Counts only, no plate. HOUR spans at most 90 days, DAY at most 1,096; until defaults "
        "to now.",
        permission_classes=[needs(Permission.READ_AGGREGATES)],
    )
    async def passage_stats(
        self,
        info: ApiInfo,
        bucket: StatsBucket,
        since: datetime,
        until: datetime | None = None,
        community_ids: list[strawberry.ID] | None = None,
    ) -> list[PassageStat]:
        request = _series(info, bucket, since, until, community_ids)
        return await sql.passage_stats(info.context.api.reader, request)

    @strawberry.field(
        description="Parking fees per hour or district-time day by when stays ended, by "
        "community, within the communities you may see; stays without a fee yet add nothing "
        "and empty buckets are left out. HOUR spans at most 90 days, DAY at most 1,096; until "
        "defaults to now.",
        permission_classes=[needs(Permission.READ_PARKING)],
    )
    async def parking_revenue(
        self,
        info: ApiInfo,
        bucket: StatsBucket,
        since: datetime,
        until: datetime | None = None,
        community_ids: list[strawberry.ID] | None = None,
    ) -> list[ParkingRevenue]:
        request = _series(info, bucket, since, until, community_ids)
        return await sql.parking_revenue(info.context.api.reader, request)

    @strawberry.field(
        description="Devices that reported in the last 30 days, with their health, by "
        "community and device id.",
        permission_classes=[needs(Permission.READ_DEVICES)],
    )
    async def devices(
        self,
        info: ApiInfo,
        community_ids: list[strawberry.ID] | None = None,
        status: DeviceStatus | None = None,
        kind: DeviceKind | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[Device]:
        criteria = sql.DeviceCriteria(
            community_ids=info.context.caller.scope(community_ids, info.context.community_ids),
            status=status,
            kind=kind,
        )
        request = PageRequest.parse(sql.DEVICES_LISTING, first, after)
        reader = info.context.api.reader
        page = await sql.devices_page(reader, criteria, request)
        return connection(
            [(sql.device_cursor(d), d) for d in page.items],
            sql.DEVICES_LISTING,
            page.has_next,
            lambda: sql.count_devices(reader, criteria),
        )

    @strawberry.field(
        description="Parking sessions in their latest revision, newest start first, with the "
        "total fee of every match. Plates match regardless of spaces, dots and case. Audited.",
        permission_classes=[needs(Permission.READ_PARKING)],
    )
    async def parking_sessions(
        self,
        info: ApiInfo,
        community_ids: list[strawberry.ID] | None = None,
        plate: str | None = None,
        status: SessionStatus | None = None,
        since: StartedSince = None,
        until: StartedUntil = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> ParkingSessionConnection:
        criteria = sql.ParkingCriteria(
            community_ids=info.context.caller.scope(community_ids, info.context.community_ids),
            plate=None if plate is None else checked_plate(plate),
            status=status,
            started=TimeWindow.checked(since, until),
        )
        request = PageRequest.parse(PARKING_LISTING, first, after)
        reader = info.context.api.reader
        page = await sql.parking_page(reader, criteria, request)
        await audit(
            info,
            "parking_sessions",
            {"plate": criteria.plate, "status": status, "since": since, "until": until},
            result_count=len(page.items),
            community_ids=criteria.community_ids,
        )
        return parking_connection(page, sql.once(lambda: sql.parking_totals(reader, criteria)))


def _series(
    info: ApiInfo,
    bucket: StatsBucket,
    since: datetime,
    until: datetime | None,
    community_ids: list[strawberry.ID] | None,
) -> sql.SeriesRequest:
    return sql.SeriesRequest.checked(
        info.context.caller,
        info.context.community_ids,
        bucket=bucket,
        since=since,
        until=until,
        community_ids=community_ids,
    )


@strawberry.type
class FacilitySubscription:
    @strawberry.subscription(
        description="A device's health each time it changes, from now on: OFFLINE when its "
        "DEVICE_OFFLINE alert is raised, ONLINE when the alert resolves.",
        permission_classes=[needs(Permission.READ_DEVICES)],
    )
    async def device_health(
        self, info: ApiInfo, community_ids: list[strawberry.ID] | None = None
    ) -> AsyncGenerator[DeviceHealthChange, None]:
        criteria = AlertCriteria.checked(
            info.context.caller,
            info.context.community_ids,
            community_ids=community_ids,
            types=[AlertType.DEVICE_OFFLINE],
        )
        reported: dict[tuple[str, str], DeviceStatus] = {}
        async with info.context.api.alert_feed.subscribe() as feed:
            async for alert in feed:
                if not criteria.matches(alert):
                    continue
                change = DeviceHealthChange.from_alert(alert)
                device = (alert.community_id, alert.subject)
                if reported.get(device) is not change.status:
                    reported[device] = change.status
                    yield change

"""Vehicles seen at the gates: plates are movements of identifiable people, so every lookup
is audited and a plate's history needs a purpose."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api import queries
from graphql_api.access import Permission
from graphql_api.audit import checked_purpose
from graphql_api.criteria import PassageCriteria
from graphql_api.pagination import PageRequest
from graphql_api.permissions import needs
from graphql_api.resolvers.common import ApiInfo, audit
from graphql_api.types import PASSAGES_LISTING, Connection, VehiclePassage, passage_connection


@strawberry.type
class VehicleQuery:
    @strawberry.field(
        description="Vehicles seen at community gates, newest first. Plates match regardless "
        "of spaces, dots and case. Following one plate is a lookup of its history: give a "
        "purpose. Every call is audited.",
        permission_classes=[needs(Permission.READ_PLATES)],
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
        purpose: str | None = None,
    ) -> Connection[VehiclePassage]:
        criteria = PassageCriteria.checked(
            info.context.caller,
            info.context.community_ids,
            plate=plate,
            community_ids=community_ids,
            since=since,
            until=until,
        )
        why = checked_purpose(purpose or "") if plate is not None else (purpose or "").strip()
        request = PageRequest.parse(PASSAGES_LISTING, first, after)
        reader = info.context.api.reader
        page = await queries.passages_page(reader, criteria, request)
        await audit(
            info,
            "vehicle_passages",
            {"plate": criteria.plate, "since": since, "until": until, "after": after},
            result_count=len(page.items),
            purpose=why,
            community_ids=criteria.community_ids,
        )
        return passage_connection(page, lambda: queries.count_passages(reader, criteria))

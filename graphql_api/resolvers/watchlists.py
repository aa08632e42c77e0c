"""The police watchlists: every change names the officer who made it, and is audited."""

from __future__ import annotations

import strawberry

from graphql_api.access import Permission
from graphql_api.criteria import checked_plate
from graphql_api.permissions import needs
from graphql_api.resolvers.common import (
    ApiInfo,
    audit,
    checked_note,
    publish,
    publish_tombstone,
)
from graphql_api.types import WatchlistEntry
from schemas import alerts as alert_records
from schemas.alerts import WatchlistCategory
from schemas.events import utc_now
from schemas.topics import WATCHLIST_PLATES

NOTE_MAX_LENGTH = 500


@strawberry.type
class WatchlistMutation:
    @strawberry.mutation(
        description="Put a plate on the watchlist, or change its category.",
        permission_classes=[needs(Permission.EDIT_WATCHLISTS)],
    )
    async def add_watchlist_plate(
        self, info: ApiInfo, plate: str, category: WatchlistCategory, note: str | None = None
    ) -> WatchlistEntry:
        entry = alert_records.WatchlistPlate(
            plate=checked_plate(plate),
            category=category,
            note=checked_note("note", note, NOTE_MAX_LENGTH),
            added_by=info.context.caller.sub,
            added_at=utc_now(),
        )
        await audit(info, "watchlist_plate.add", {"plate": entry.plate, "category": category})
        await publish(info, entry)
        return WatchlistEntry.from_record(entry)

    @strawberry.mutation(
        description="Take a plate off the watchlist. True once the removal is recorded, "
        "whether or not the plate was listed.",
        permission_classes=[needs(Permission.EDIT_WATCHLISTS)],
    )
    async def remove_watchlist_plate(self, info: ApiInfo, plate: str) -> bool:
        listed = checked_plate(plate)
        await audit(info, "watchlist_plate.remove", {"plate": listed})
        await publish_tombstone(info, WATCHLIST_PLATES, listed)
        return True

"""The district as a whole: its communities, and the audit log of who looked at whom."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.access import Permission
from graphql_api.criteria import TimeWindow
from graphql_api.pagination import Cursor, PageRequest
from graphql_api.permissions import needs
from graphql_api.queries import Conditions
from graphql_api.resolvers.common import ApiInfo
from graphql_api.types import Community, Connection, connection

AUDIT_LISTING = "auditLog"
AUDIT_COLUMNS = (
    "audit_id, at, actor, actor_role, operation, arguments, community_ids, purpose, "
    "result_count, client_address"
)


@strawberry.type(description="One sensitive call: who made it, when, why, on what.")
class AuditRecord:
    id: strawberry.ID
    at: datetime
    actor: str
    actor_role: str
    operation: str
    arguments: str = strawberry.field(description="The call's arguments as JSON; images as sha256.")
    community_ids: list[strawberry.ID]
    purpose: str
    result_count: int
    client_address: str


@strawberry.type
class DistrictQuery:
    @strawberry.field(
        description="The residential communities you may see.",
        permission_classes=[needs(Permission.READ_AGGREGATES)],
    )
    def communities(self, info: ApiInfo) -> list[Community]:
        caller = info.context.caller
        return [
            Community.from_record(c)
            for c in info.context.api.communities
            if caller.sees(c.community_id)
        ]

    @strawberry.field(
        description="Who looked at whom: every audited call, newest first (district admins).",
        permission_classes=[needs(Permission.READ_AUDIT)],
    )
    async def audit_log(
        self,
        info: ApiInfo,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        operation: str | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[AuditRecord]:
        request = PageRequest.parse(AUDIT_LISTING, first, after)
        conditions = Conditions()
        conditions.within("at", TimeWindow.checked(since, until))
        if actor is not None:
            conditions.equals("actor", actor)
        if operation is not None:
            conditions.equals("operation", operation)
        counted = Conditions(list(conditions.clauses), dict(conditions.params))
        conditions.older_than("at", "audit_id", request.after)
        reader = info.context.api.reader
        rows = await reader.rows(
            f"SELECT {AUDIT_COLUMNS} FROM audit_log {conditions.where} "
            "ORDER BY at DESC, audit_id DESC LIMIT {limit:UInt32}",
            conditions.params | {"limit": request.limit},
        )

        async def count_all() -> int:
            found = await reader.rows(
                f"SELECT count() AS n FROM audit_log {counted.where}", counted.params
            )
            return int(found[0]["n"])

        records = [_audit_record(row) for row in rows[: request.first]]
        return connection(
            [(Cursor(r.at, str(r.id)), r) for r in records],
            AUDIT_LISTING,
            len(rows) > request.first,
            count_all,
        )


def _audit_record(row: dict[str, object]) -> AuditRecord:
    return AuditRecord(
        id=strawberry.ID(str(row["audit_id"])),
        at=row["at"],  # type: ignore[arg-type]
        actor=str(row["actor"]),
        actor_role=str(row["actor_role"]),
        operation=str(row["operation"]),
        arguments=str(row["arguments"]),
        community_ids=[strawberry.ID(c) for c in row["community_ids"]],  # type: ignore[attr-defined]
        purpose=str(row["purpose"]),
        result_count=int(row["result_count"]),  # type: ignore[call-overload]
        client_address=str(row["client_address"]),
    )

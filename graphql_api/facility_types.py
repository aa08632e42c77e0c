"""GraphQL types of the district's facilities: device health, alert statistics, parking.

Money leaves the API as exact yuan (`Decimal`, serialised as text): a district's parking
revenue in fen outgrows GraphQL's 32-bit Int within weeks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import strawberry

from graphql_api.pagination import Cursor, Page
from graphql_api.types import Connection, connection
from schemas import parking
from schemas.alerts import Alert, AlertStatus
from schemas.events import DeviceKind, PlateColour
from schemas.parking import SessionStatus

strawberry.enum(DeviceKind, description="What a monitored device is.")
strawberry.enum(
    SessionStatus,
    name="ParkingSessionStatus",
    description="Where a parking session stands: open, overdue, closed, or one end missing.",
)

YUAN = Decimal("0.01")
PARKING_LISTING = "parkingSessions"


def yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else (Decimal(fen) / 100).quantize(YUAN)


@strawberry.enum(description="Whether a device is being heard from.")
class DeviceStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


@strawberry.enum(description="The width of one bucket of a time series, in district time.")
class StatsBucket(StrEnum):
    HOUR = "hour"
    DAY = "day"


@strawberry.enum(description="What the counts of a time series are split by.")
class StatsGrouping(StrEnum):
    COMMUNITY = "community"
    TYPE = "type"


@strawberry.type(description="Alerts in one bucket of time for one community or alert type.")
class AlertStat:
    bucket_start: datetime = strawberry.field(
        description="Start of the hour, or of the district-time day (16:00 UTC)."
    )
    key: str = strawberry.field(description="The community id or the alert type.")
    count: int


@strawberry.type(description="Vehicle passages at one community's gates in one bucket of time.")
class PassageStat:
    bucket_start: datetime = strawberry.field(
        description="Start of the hour, or of the district-time day (16:00 UTC)."
    )
    community_id: strawberry.ID
    entries: int = strawberry.field(description="Passages inward (IN).")
    exits: int = strawberry.field(description="Passages outward (OUT).")


@strawberry.type(description="Parking fees of one community's stays that ended in one bucket.")
class ParkingRevenue:
    bucket_start: datetime = strawberry.field(
        description="Start of the hour, or of the district-time day (16:00 UTC)."
    )
    community_id: strawberry.ID
    sessions: int = strawberry.field(description="Stays that ended with a known fee.")
    fee_fen: strawberry.Private[int]

    @strawberry.field(description="Their fees, in yuan.")
    def fee(self) -> Decimal:
        return (Decimal(self.fee_fen) / 100).quantize(YUAN)


@strawberry.type(description="A device as its telemetry shows it.")
class Device:
    id: strawberry.ID
    kind: DeviceKind
    community_id: strawberry.ID
    controller_id: str | None = strawberry.field(
        description="The controller the device is heard through (a charging shed's, for its "
        "slots); null when it reports for itself."
    )
    last_heard: datetime = strawberry.field(
        description="Its latest telemetry, from the device or from its poller's health check."
    )
    online_metric: float | None = strawberry.field(
        description="The `online` metric of its latest telemetry (0: its poller could not reach "
        "it); null when that telemetry carries none."
    )
    status: DeviceStatus = strawberry.field(
        description="OFFLINE when nothing was heard for more than 5 minutes or onlineMetric is 0."
    )


@strawberry.type(description="A device went offline or came back, as DEVICE_OFFLINE alerts say.")
class DeviceHealthChange:
    device_id: strawberry.ID
    community_id: strawberry.ID
    status: DeviceStatus
    changed_at: datetime = strawberry.field(
        description="When the outage began to count, or when the device reported again."
    )
    alert_id: strawberry.ID = strawberry.field(description="The DEVICE_OFFLINE alert.")

    @classmethod
    def from_alert(cls, alert: Alert) -> DeviceHealthChange:
        """A resolved outage alert means the device reported again; any other version of it
        means the device is still, or newly, silent."""
        back = alert.status is AlertStatus.RESOLVED
        return cls(
            device_id=strawberry.ID(alert.subject),
            community_id=strawberry.ID(alert.community_id),
            status=DeviceStatus.ONLINE if back else DeviceStatus.OFFLINE,
            changed_at=(alert.resolved_at or alert.updated_at) if back else alert.first_seen,
            alert_id=strawberry.ID(alert.alert_id),
        )


@strawberry.type(description="One stay of a plate in a community.")
class ParkingSession:
    id: strawberry.ID
    community_id: strawberry.ID
    plate: str
    plate_colour: PlateColour
    status: SessionStatus
    started_at: datetime
    entered_at: datetime | None
    exited_at: datetime | None
    entry_gate_id: str | None
    exit_gate_id: str | None
    duration_seconds: int | None
    fee: Decimal | None = strawberry.field(
        description="In yuan; null while unknown (open, or one end missing: see reason)."
    )
    fee_basis: str
    reason: str
    tariff_id: str
    resident: bool
    monthly_pass: bool

    @classmethod
    def from_record(cls, session: parking.ParkingSession) -> ParkingSession:
        return cls(
            id=strawberry.ID(session.session_id),
            community_id=strawberry.ID(session.community_id),
            plate=session.plate,
            plate_colour=session.plate_colour,
            status=session.status,
            started_at=session.started_at,
            entered_at=session.entered_at,
            exited_at=session.exited_at,
            entry_gate_id=session.entry_gate_id,
            exit_gate_id=session.exit_gate_id,
            duration_seconds=session.duration_seconds,
            fee=yuan(session.fee_fen),
            fee_basis=session.fee_basis,
            reason=session.reason,
            tariff_id=session.tariff_id,
            resident=session.resident,
            monthly_pass=session.monthly_pass,
        )


@dataclass(frozen=True)
class ParkingTotals:
    count: int
    fee_fen: int


@strawberry.type
class ParkingSessionConnection(Connection[ParkingSession]):
    totals: strawberry.Private[Callable[[], Awaitable[ParkingTotals]]]

    @strawberry.field(
        description="Sum of the known fees of all matching sessions, in yuan; sessions without "
        "a fee yet add nothing. Costs the same query as totalCount, made once for both."
    )
    async def total_fee(self) -> Decimal:
        return (Decimal((await self.totals()).fee_fen) / 100).quantize(YUAN)


def parking_connection(
    page: Page[parking.ParkingSession], totals: Callable[[], Awaitable[ParkingTotals]]
) -> ParkingSessionConnection:
    async def count_all() -> int:
        return (await totals()).count

    listed = connection(
        [(Cursor(s.started_at, s.session_id), ParkingSession.from_record(s)) for s in page.items],
        PARKING_LISTING,
        page.has_next,
        count_all,
    )
    return ParkingSessionConnection(
        edges=listed.edges, page_info=listed.page_info, count_all=count_all, totals=totals
    )

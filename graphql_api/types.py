"""The GraphQL types: thin views over the records in `schemas`.

Enums reuse the domain enums so GraphQL values can never drift from what rules raise
and what ClickHouse stores.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Generic, TypeVar

import strawberry
from strawberry.scalars import JSON

from graphql_api.access import Caller, Permission
from graphql_api.criteria import AlertCriteria
from graphql_api.evidence import (
    EventDetail,
    EvidenceKey,
    crop_url,
    curve_window,
    slot_temperatures,
    snapshot_image,
)
from graphql_api.pagination import Cursor, Page, encode_cursor
from graphql_api.permissions import needs
from pingan.platform.rule_settings import RuleView, Scope
from schemas import alerts as alert_records
from schemas import events, reference
from schemas.alerts import AlertStatus, AlertType, Severity, SubjectKind, WatchlistCategory
from schemas.events import Direction, PlateColour

strawberry.enum(AlertType, description="What kind of rule raised an alert.")
strawberry.enum(SubjectKind, description="What an alert is about; its subject is that thing's id.")
strawberry.enum(
    Scope,
    name="RuleSettingSource",
    description="Where a threshold's value comes from: the rule's built-in default, the "
    'district default (community "*") or the community\'s own override.',
)
strawberry.enum(Severity, description="How urgently an alert needs attention.")
strawberry.enum(AlertStatus, description="Where an alert is in its handling.")
strawberry.enum(WatchlistCategory, description="Why a plate is on the police watchlist.")
strawberry.enum(PlateColour, description="Background colour of a Chinese number plate.")
strawberry.enum(Direction, description="Whether a vehicle entered or left the community.")

ALERTS_LISTING = "alerts"
PASSAGES_LISTING = "vehiclePassages"

N = TypeVar("N")


@strawberry.type
class Location:
    lat: float
    lon: float


@strawberry.type(description="Alerts open or acknowledged now, by severity.")
class OpenAlertCounts:
    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0


@strawberry.type
class Community:
    id: strawberry.ID
    name: str
    district: str
    location: Location

    @strawberry.field(
        description="Alerts open or acknowledged now (a property manager's: facility types).",
        permission_classes=[needs(Permission.READ_AGGREGATES)],
    )
    async def open_alerts(self, info: strawberry.Info) -> OpenAlertCounts:
        return await info.context.facility_counters.open_alerts.load(str(self.id))

    @strawberry.field(
        description="Events of every kind since midnight, district time.",
        permission_classes=[needs(Permission.READ_AGGREGATES)],
    )
    async def events_today(self, info: strawberry.Info) -> int:
        return await info.context.facility_counters.events_today.load(str(self.id))

    @strawberry.field(
        description="Devices silent for more than 5 minutes or reported unreachable.",
        permission_classes=[needs(Permission.READ_AGGREGATES)],
    )
    async def devices_offline(self, info: strawberry.Info) -> int:
        return await info.context.facility_counters.devices_offline.load(str(self.id))

    @classmethod
    def from_record(cls, community: reference.Community) -> Community:
        return cls(
            id=strawberry.ID(community.community_id),
            name=community.name,
            district=community.district,
            location=Location(lat=community.lat, lon=community.lon),
        )


@strawberry.type(description="A picture a camera kept of an event.")
class EvidenceSnapshot:
    ref: str = strawberry.field(description="Where the camera stored it, under the data dir.")
    image: str | None = strawberry.field(
        description="The JPEG or PNG as a data: URL; null when this server does not keep it."
    )


@strawberry.type(description="An event that justifies an alert, summarised for a glance.")
class Evidence:
    event_id: strawberry.ID
    event_kind: str
    occurred_at: datetime
    summary: str
    community_id: strawberry.Private[str]

    async def _detail(self, info: strawberry.Info) -> EventDetail | None:
        key = EvidenceKey(self.event_kind, self.community_id, self.occurred_at, str(self.event_id))
        return await info.context.evidence_details.load(key)

    @strawberry.field(description="High-altitude throws: the floor the object came from.")
    async def floor(self, info: strawberry.Info) -> int | None:
        detail = await self._detail(info)
        return None if detail is None else detail.floor

    @strawberry.field(
        description="High-altitude throws: the window on that floor, from the facade's left."
    )
    async def window_column(self, info: strawberry.Info) -> int | None:
        detail = await self._detail(info)
        return None if detail is None else detail.window_column

    @strawberry.field(
        description="The plate snapshot of a vehicle passage (with read:plates), or the "
        "frames of a camera's analytics (a throw, an e-bike, an intruder near a fence)."
    )
    async def snapshots(self, info: strawberry.Info) -> list[EvidenceSnapshot]:
        caller: Caller = info.context.caller
        if self.event_kind == "vehicle_passage" and not caller.may(Permission.READ_PLATES):
            return []
        detail = await self._detail(info)
        refs = () if detail is None else detail.snapshot_refs
        data_dir = info.context.data_dir
        return [EvidenceSnapshot(ref=r, image=await snapshot_image(data_dir, r)) for r in refs]

    @strawberry.field(
        description="A face capture's crop: GET it with your bearer token (audited). Null "
        "without read:biometrics or when no crop was kept."
    )
    async def crop_url(self, info: strawberry.Info) -> str | None:
        if self.event_kind != "face_capture":
            return None
        if not info.context.caller.may(Permission.READ_BIOMETRICS):
            return None
        detail = await self._detail(info)
        if detail is None or not detail.has_crop:
            return None
        return crop_url(str(self.event_id))


@strawberry.type(description="One temperature reading of a charging-shed slot.")
class TemperatureReading:
    at: datetime
    temperature_c: float


@strawberry.type(description="One officer's step on an alert.")
class AlertStep:
    action: str = strawberry.field(description="acknowledge, assign or resolve.")
    actor: str
    actor_role: str
    at: datetime
    note: str
    assigned_to: str | None


@strawberry.type(description="An alert's current state.")
class Alert:
    id: strawberry.ID
    type: AlertType
    severity: Severity
    status: AlertStatus
    community_id: strawberry.ID
    subject_kind: SubjectKind
    subject: str
    first_seen: datetime
    last_seen: datetime
    count: int
    explanation: str
    explanation_zh: str = strawberry.field(description="The explanation in Chinese.")
    evidence: list[Evidence]
    raised_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = strawberry.field(
        description="When the condition cleared or an officer resolved the alert."
    )
    note: str | None
    assigned_to: str | None = strawberry.field(
        description="The officer the alert was given to, if any."
    )

    @strawberry.field(description="Who did what to the alert, and when, oldest first.")
    async def history(self, info: strawberry.Info) -> list[AlertStep]:
        return await info.context.alert_history.load(str(self.id))

    @strawberry.field(
        description="CHARGING_OVERHEAT: the shed slot's temperature from 30 minutes before "
        "the alert to 10 minutes after its latest reading (at most 6 h; 1,000 readings), "
        "oldest first. Empty for other alerts.",
        permission_classes=[needs(Permission.READ_DEVICES)],
    )
    async def temperature_curve(self, info: strawberry.Info) -> list[TemperatureReading]:
        if self.type is not AlertType.CHARGING_OVERHEAT:
            return []
        since, until = curve_window(self.first_seen, self.last_seen)
        readings = await slot_temperatures(
            info.context.api.reader, str(self.community_id), self.subject, since, until
        )
        return [TemperatureReading(at=at, temperature_c=value) for at, value in readings]

    @classmethod
    def from_record(cls, alert: alert_records.Alert) -> Alert:
        return cls(
            id=strawberry.ID(alert.alert_id),
            type=alert.alert_type,
            severity=alert.severity,
            status=alert.status,
            community_id=strawberry.ID(alert.community_id),
            subject_kind=alert.subject_kind,
            subject=alert.subject,
            first_seen=alert.first_seen,
            last_seen=alert.last_seen,
            count=alert.count,
            explanation=alert.explanation,
            explanation_zh=alert.explanation_zh,
            evidence=[
                Evidence(
                    event_id=strawberry.ID(e.event_id),
                    event_kind=e.event_kind,
                    occurred_at=e.occurred_at,
                    summary=e.summary,
                    community_id=alert.community_id,
                )
                for e in alert.evidence
            ],
            raised_at=alert.raised_at,
            updated_at=alert.updated_at,
            resolved_at=alert.resolved_at,
            note=alert.note,
            assigned_to=alert.assigned_to,
        )


@strawberry.type(description="A vehicle seen by a gate camera.")
class VehiclePassage:
    id: strawberry.ID
    community_id: strawberry.ID
    plate: str
    plate_colour: PlateColour
    direction: Direction
    gate_id: str
    camera_id: str
    confidence: float
    occurred_at: datetime
    received_at: datetime
    snapshot_ref: str | None

    @classmethod
    def from_record(cls, passage: events.VehiclePassage) -> VehiclePassage:
        return cls(
            id=strawberry.ID(passage.event_id),
            community_id=strawberry.ID(passage.community_id),
            plate=passage.plate,
            plate_colour=passage.plate_colour,
            direction=passage.direction,
            gate_id=passage.gate_id,
            camera_id=passage.camera_id,
            confidence=passage.confidence,
            occurred_at=passage.occurred_at,
            received_at=passage.received_at,
            snapshot_ref=passage.snapshot_ref,
        )


@strawberry.type
class WatchlistEntry:
    plate: str
    category: WatchlistCategory
    note: str
    added_by: str
    added_at: datetime

    @classmethod
    def from_record(cls, entry: alert_records.WatchlistPlate) -> WatchlistEntry:
        return cls(
            plate=entry.plate,
            category=entry.category,
            note=entry.note,
            added_by=entry.added_by,
            added_at=entry.added_at,
        )


@strawberry.input(description="Alerts matching every given field; omit a field to allow any value.")
class AlertFilter:
    community_ids: list[strawberry.ID] | None = None
    types: list[AlertType] | None = None
    severities: list[Severity] | None = None
    statuses: list[AlertStatus] | None = None
    subject_kinds: list[SubjectKind] | None = None
    since: datetime | None = strawberry.field(
        default=None, description="Earliest firstSeen, inclusive."
    )
    until: datetime | None = strawberry.field(
        default=None, description="Latest firstSeen, exclusive."
    )

    def criteria(self, caller: Caller, known_communities: frozenset[str]) -> AlertCriteria:
        return AlertCriteria.checked(
            caller,
            known_communities,
            community_ids=self.community_ids,
            types=self.types,
            severities=self.severities,
            statuses=self.statuses,
            subject_kinds=self.subject_kinds,
            since=self.since,
            until=self.until,
        )


@strawberry.type(description="One threshold of a rule as it applies to a community.")
class RuleParameter:
    name: str
    value: JSON | None
    default: JSON | None = strawberry.field(description="The rule's built-in default.")
    overridden: bool = strawberry.field(
        description="Set by the district default or the community, not the built-in default."
    )
    source: Scope
    minimum: float | None = strawberry.field(description="Smallest value accepted, if bounded.")
    maximum: float | None = strawberry.field(description="Largest value accepted, if bounded.")
    max_items: int | None = strawberry.field(description="Longest list accepted, for lists.")


@strawberry.type(description="A rule's thresholds as they apply to one community.")
class RuleSettings:
    name: str
    community_id: strawberry.ID = strawberry.field(description='A community id, or "*".')
    alert_types: list[AlertType] = strawberry.field(description="The alerts the rule raises.")
    parameters: list[RuleParameter]

    @classmethod
    def from_view(cls, view: RuleView) -> RuleSettings:
        return cls(
            name=view.rule.name,
            community_id=strawberry.ID(view.community_id),
            alert_types=list(view.rule.alert_types),
            parameters=[
                RuleParameter(
                    name=p.name,
                    value=p.value,
                    default=p.default,
                    overridden=p.overridden,
                    source=p.source,
                    minimum=p.minimum,
                    maximum=p.maximum,
                    max_items=p.max_items,
                )
                for p in view.parameters
            ],
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo
    count_all: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(
        description="Matches across all pages; costs a count query, so ask only when shown."
    )
    async def total_count(self) -> int:
        return await self.count_all()


def alert_connection(
    page: Page[alert_records.Alert], count_all: Callable[[], Awaitable[int]]
) -> Connection[Alert]:
    return connection(
        [(Cursor(a.first_seen, a.alert_id), Alert.from_record(a)) for a in page.items],
        ALERTS_LISTING,
        page.has_next,
        count_all,
    )


def passage_connection(
    page: Page[events.VehiclePassage], count_all: Callable[[], Awaitable[int]]
) -> Connection[VehiclePassage]:
    return connection(
        [(Cursor(p.occurred_at, p.event_id), VehiclePassage.from_record(p)) for p in page.items],
        PASSAGES_LISTING,
        page.has_next,
        count_all,
    )


def connection(
    positioned: list[tuple[Cursor, N]],
    listing: str,
    has_next: bool,
    count_all: Callable[[], Awaitable[int]],
) -> Connection[N]:
    edges = [Edge(cursor=encode_cursor(listing, c), node=node) for c, node in positioned]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
        count_all=count_all,
    )

"""What resolvers need: the process-wide services, and the caller of one request."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from strawberry.dataloader import DataLoader

from graphql_api.access import Caller, Unauthenticated
from graphql_api.audit import AuditTrail
from graphql_api.evidence import EventDetail, EvidenceKey, event_details
from graphql_api.faces import CappedFaceEngine, FaceEngine, FaceModelUnavailable
from graphql_api.facility_queries import FacilityCounters
from graphql_api.feed import AlertFeed
from graphql_api.limits import ReadLimits
from graphql_api.queries import WarehouseReader, alert_histories
from graphql_api.reference_registry import ReferenceRegistry
from graphql_api.types import AlertStep
from pingan.platform.publisher import Publisher
from pingan.platform.settings import get_settings
from pingan.platform.warehouse import Warehouse
from schemas.reference import Community
from schemas.rule_config import RuleSpec


@dataclass(frozen=True)
class ApiContext:
    """Built once per process and shared by all requests."""

    warehouse: Warehouse
    publisher: Publisher
    alert_feed: AlertFeed
    communities: tuple[Community, ...]
    read_limits: ReadLimits = field(default_factory=ReadLimits)
    face_engine: FaceEngine | None = None
    """The hosting process's face model; None without a model pack."""
    reference_registry: ReferenceRegistry = field(default_factory=ReferenceRegistry)
    """Followed from Kafka once needed; stopped with the web app."""
    rules: tuple[RuleSpec, ...] = ()
    """The rule catalogue whose thresholds the API shows and edits, handed in by the process
    that starts the API (the API never imports the rules)."""

    @property
    def faces(self) -> FaceEngine:
        if self.face_engine is None:
            raise FaceModelUnavailable
        settings = get_settings()
        return CappedFaceEngine(
            self.face_engine, settings.max_image_decodes, settings.ingest_retry_after_seconds
        )

    @cached_property
    def community_ids(self) -> frozenset[str]:
        """Arguments naming a community are checked against these."""
        return frozenset(c.community_id for c in self.communities)

    @cached_property
    def reader(self) -> WarehouseReader:
        return WarehouseReader(self.warehouse, self.read_limits)

    @cached_property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.publisher)


@dataclass
class CallContext:
    """One request (or one websocket connection): the services and who is calling.

    A websocket's caller is set at `connection_init`, so the object is mutable; Strawberry
    also stores the connection's `connection_params` on it.
    """

    api: ApiContext
    client_address: str
    known_caller: Caller | None = None
    connection_params: Any = None
    alert_history: DataLoader[str, list[AlertStep]] = field(init=False)
    facility_counters: FacilityCounters = field(init=False)
    evidence_details: DataLoader[EvidenceKey, EventDetail | None] = field(init=False)

    def __post_init__(self) -> None:
        """Uncached, so a websocket's long-lived context never shows a stale history; a
        page of alerts still costs one query for all their histories."""
        self.alert_history = DataLoader(self._load_histories, cache=False)
        self.evidence_details = DataLoader(self._load_evidence, cache=False)
        self.facility_counters = FacilityCounters(
            self.api.reader, lambda: self.caller, self.api.community_ids
        )

    async def _load_histories(self, alert_ids: list[str]) -> list[list[AlertStep]]:
        return await alert_histories(self.api.reader, alert_ids)

    async def _load_evidence(self, keys: list[EvidenceKey]) -> list[EventDetail | None]:
        return await event_details(self.api.reader, keys)

    @property
    def caller(self) -> Caller:
        if self.known_caller is None:
            raise Unauthenticated("sign in first")
        return self.known_caller

    @property
    def warehouse(self) -> Warehouse:
        return self.api.warehouse

    @property
    def data_dir(self) -> Path:
        """Where cameras keep their snapshots and crops."""
        return get_settings().data_dir

    @property
    def publisher(self) -> Publisher:
        return self.api.publisher

    @property
    def community_ids(self) -> frozenset[str]:
        return self.api.community_ids

"""What every resolver needs, built once per process and shared by all requests."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from graphql_api.feed import AlertFeed
from ingest.publisher import Publisher
from pingan.warehouse import Warehouse
from schemas.reference import Community


@dataclass(frozen=True)
class ApiContext:
    warehouse: Warehouse
    publisher: Publisher
    alert_feed: AlertFeed
    communities: tuple[Community, ...]

    @cached_property
    def community_ids(self) -> frozenset[str]:
        """Arguments naming a community are checked against these."""
        return frozenset(c.community_id for c in self.communities)

"""The schema: each domain's roots merged, behind the limits every request meets.

Resolvers live in `graphql_api/resolvers/`, one module per domain; this module only
assembles them, so adding a domain is one line here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from graphql_api.errors import MASKED_MESSAGE, log_error, should_mask
from graphql_api.resolvers.alerts import AlertMutation, AlertQuery, AlertSubscription
from graphql_api.resolvers.district import DistrictQuery
from graphql_api.resolvers.face_search import FaceSearchQuery
from graphql_api.resolvers.facilities import FacilityQuery, FacilitySubscription
from graphql_api.resolvers.movements import MovementQuery
from graphql_api.resolvers.registry import RegistryMutation, RegistryQuery
from graphql_api.resolvers.rule_settings import RuleSettingsMutation, RuleSettingsQuery
from graphql_api.resolvers.vehicles import VehicleQuery
from graphql_api.resolvers.watchlists import WatchlistMutation
from pingan.platform.settings import Settings

log = logging.getLogger(__name__)

Query = merge_types(
    "Query",
    (
        DistrictQuery,
        AlertQuery,
        VehicleQuery,
        RuleSettingsQuery,
        FacilityQuery,
        MovementQuery,
        RegistryQuery,
        FaceSearchQuery,
    ),
)
Mutation = merge_types(
    "Mutation", (AlertMutation, WatchlistMutation, RuleSettingsMutation, RegistryMutation)
)
Subscription = merge_types("Subscription", (AlertSubscription, FacilitySubscription))


class PinganSchema(strawberry.Schema):
    """Logs client mistakes briefly and unexpected errors with their traceback."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            log_error(error)


def build_schema(settings: Settings | None = None) -> PinganSchema:
    """The schema with the configured limits (defaults when no settings are given)."""
    settings = settings or Settings()
    depth, aliases, tokens = (
        settings.api_max_query_depth,
        settings.api_max_aliases,
        settings.api_max_tokens,
    )
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: QueryDepthLimiter(max_depth=depth),
        lambda: MaxAliasesLimiter(max_alias_count=aliases),
        lambda: MaxTokensLimiter(max_token_count=tokens),
        lambda: MaskErrors(should_mask_error=should_mask, error_message=MASKED_MESSAGE),
    ]
    if not settings.api_introspection:
        extensions.append(DisableIntrospection)
    return PinganSchema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions
    )

"""The aiohttp application serving /graphql and /healthz.

`serve` only starts a site on the caller's event loop, so the API can live inside the
Faust worker; `run_api` is the standalone process for when ClickHouse is a server.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from strawberry.aiohttp.views import GraphQLView
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from graphql_api.context import ApiContext
from graphql_api.feed import AlertFeed
from graphql_api.schema import schema
from ingest.publisher import Publisher
from ingest.reference import load_communities
from pingan.settings import Settings
from pingan.warehouse import open_warehouse
from pingan.web import start_site

__all__ = ["ApiContext", "build_web_app", "run_api", "serve"]

log = logging.getLogger(__name__)


class PinganGraphQLView(GraphQLView[ApiContext, None]):
    """Strawberry's view with the process-wide ApiContext as every operation's context.

    Queries are accepted by POST only, so they stay out of URLs and access logs;
    GET from a browser still opens GraphiQL.
    """

    def __init__(self, context: ApiContext) -> None:
        super().__init__(
            schema=schema,
            graphql_ide="graphiql",
            allow_queries_via_get=False,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        )
        self._context = context

    async def get_context(
        self, request: web.Request, response: web.Response | web.WebSocketResponse
    ) -> ApiContext:
        return self._context


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_web_app(context: ApiContext, ingest: web.Application | None = None) -> web.Application:
    """`ingest` (device webhooks, `ingest.http.app`) is mounted at /ingest on the same port."""
    app = web.Application()
    app.router.add_route("*", "/graphql", PinganGraphQLView(context))
    app.router.add_get("/healthz", healthz)
    if ingest is not None:
        app.add_subapp("/ingest", ingest)
    return app


async def serve(
    context: ApiContext, host: str, port: int, ingest: web.Application | None = None
) -> web.AppRunner:
    """Start serving on the running loop; the caller owns the runner and cleans it up.

    Port 0 picks a free port: read it from `runner.addresses`.
    """
    runner = await start_site(build_web_app(context, ingest), host, port)
    for address in runner.addresses:
        log.info("GraphQL API listening on http://%s:%s/graphql", *address[:2])
    return runner


async def run_api(settings: Settings) -> None:
    """Serve the API on settings.api_host until cancelled.

    Access control arrives with a later issue; until then api_host must stay loopback.
    """
    warehouse = open_warehouse(settings)
    try:
        async with (
            Publisher(settings.bootstrap) as publisher,
            AlertFeed(settings.bootstrap) as feed,
        ):
            context = ApiContext(warehouse, publisher, feed, load_communities())
            runner = await serve(context, settings.api_host, settings.api_port)
            try:
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()
    finally:
        await asyncio.to_thread(warehouse.close)

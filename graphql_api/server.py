"""The aiohttp application serving /graphql, /healthz and the police console at /.

`serve` only starts a site on the caller's event loop, so the API can live inside the
Faust worker; `run_api` is the standalone process for when ClickHouse is a server.

Every request to /graphql meets, in order: the Host allow-list, CORS, the bearer token
(HTTP 401 without a valid one; websockets present theirs in `connection_init`), and the
caller's rate limit. Only then does GraphQL see it. Face crops (GET /graphql/crops/{id})
need the same token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from strawberry.aiohttp.views import GraphQLView
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from graphql_api.access import Caller, Unauthenticated
from graphql_api.console import console_handlers, graphiql_page
from graphql_api.context import ApiContext, CallContext
from graphql_api.errors import http_refusal
from graphql_api.evidence import CROPS_PATH
from graphql_api.faces import FaceEngine
from graphql_api.feed import AlertFeed
from graphql_api.limits import RateLimiter, ReadLimits
from graphql_api.reference_registry import ReferenceRegistry
from graphql_api.resolvers.movements import CropRequest, serve_face_crop
from graphql_api.schema import build_schema
from graphql_api.tokens import TokenVerifier
from pingan.platform.district import load_communities
from pingan.platform.health import PIPELINE_HEALTH, RuleFailures
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.warehouse import Warehouse, open_warehouse
from pingan.platform.web import start_site
from schemas.rule_config import RuleSpec

__all__ = ["ApiContext", "api_context", "build_web_app", "run_api", "serve"]

log = logging.getLogger(__name__)

GRAPHQL_PATH = "/graphql"
UNGUARDED_PATHS = ("/healthz", "/ingest")
"""Health checks and device webhooks: their callers use whatever Host they were given."""
CALLER = web.RequestKey("caller", Caller)
MAX_REQUEST_BYTES = 8 * 1024 * 1024
"""Large enough for a face-search photo in base64; device webhooks keep their own limits."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PinganGraphQLView(GraphQLView[CallContext, None]):
    """Strawberry's view, with one CallContext per request or websocket connection.

    Queries are accepted by POST only, so they stay out of URLs and access logs; GET from
    a browser opens GraphiQL when it is enabled.
    """

    def __init__(self, context: ApiContext, settings: Settings, verifier: TokenVerifier) -> None:
        super().__init__(
            schema=build_schema(settings),
            graphql_ide="graphiql" if settings.api_graphiql else None,
            allow_queries_via_get=False,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        )
        self._context = context
        self._verifier = verifier
        self._console_dir = settings.console_dir

    async def render_graphql_ide(self, request: web.Request) -> web.Response:
        """GraphiQL from the console's local assets: strawberry's page loads a CDN."""
        return graphiql_page(request, self._console_dir)

    async def get_context(
        self, request: web.Request, response: web.Response | web.WebSocketResponse
    ) -> CallContext:
        return CallContext(
            api=self._context,
            client_address=request.remote or "",
            known_caller=request.get(CALLER),
        )

    async def on_ws_connect(self, context: CallContext) -> None:
        """Websockets sign in with `{"authorization": "Bearer …"}` in connection_init."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        authorization = params.get("authorization") or params.get("Authorization")
        try:
            context.known_caller = self._verifier.caller(
                authorization if isinstance(authorization, str) else None
            )
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"message": str(exc)}) from None


def access_middleware(settings: Settings, verifier: TokenVerifier) -> Callable[..., object]:
    """Host allow-list for the console and /graphql; CORS, authentication and rate limit
    for /graphql. The console's files hold no data and need no token."""
    hosts = settings.allowed_hosts
    origins = settings.cors_origins
    limiter = RateLimiter(settings.api_rate_limit_per_minute)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(UNGUARDED_PATHS):
            return await handler(request)
        if "*" not in hosts and _host_name(request.host) not in hosts:
            return http_refusal(421, f"this API does not answer for host {request.host!r}")
        if not request.path.startswith(GRAPHQL_PATH):
            return await handler(request)
        origin = request.headers.get("Origin")
        cors = _cors_headers(origin) if origin in origins else {}
        if request.method == "OPTIONS":
            return web.Response(status=204 if cors else 403, headers=cors)
        if request.method == "POST" or request.path.startswith(CROPS_PATH):
            try:
                caller = verifier.caller(request.headers.get("Authorization"))
            except Unauthenticated as exc:
                return http_refusal(401, str(exc), cors)
            wait = limiter.allow(caller.sub)
            if wait:
                headers = {"Retry-After": str(max(1, round(wait))), **cors}
                return http_refusal(429, "too many requests for this token; slow down", headers)
            request[CALLER] = caller
        response = await handler(request)
        response.headers.update(cors)
        return response

    return middleware


def _host_name(host: str) -> str:
    """`127.0.0.1:6066` → `127.0.0.1`, `[::1]:6066` → `::1`."""
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _cors_headers(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def face_crop_handler(context: ApiContext, settings: Settings) -> Handler:
    """GET /graphql/crops/{capture_id}: a face crop, behind the same bearer token as POST."""

    async def face_crop(request: web.Request) -> web.StreamResponse:
        crop = CropRequest(
            caller=request.get(CALLER),
            capture_id=request.match_info["capture_id"],
            client_address=request.remote or "",
        )
        return await serve_face_crop(context, settings.data_dir, crop)

    return face_crop


async def healthz(request: web.Request) -> web.Response:
    """503 while a sink of this process is stalled, so an orchestrator or an operator's probe
    sees what the alert says; no data, only the topic, partitions and ClickHouse's error."""
    stalls = PIPELINE_HEALTH.stalls()
    if stalls:
        return web.json_response(
            {"status": "stalled", "reasons": [s.reason for s in stalls]}, status=503
        )
    failures = PIPELINE_HEALTH.rule_failures()
    if failures:
        return web.json_response({"status": "degraded", "rule_failures": _listed(failures)})
    return web.json_response({"status": "ok"})


def _listed(failures: list[RuleFailures]) -> list[dict[str, object]]:
    """Rules that raised: data still flows (200), but their alerts may be missing."""
    return [
        {
            "rule": f.rule,
            "events": f.count,
            "last_reason": f.last_reason,
            "last_at": f.last_at.isoformat(timespec="seconds"),
        }
        for f in failures
    ]


def build_web_app(
    context: ApiContext, settings: Settings, ingest: web.Application | None = None
) -> web.Application:
    """`ingest` (device webhooks, `ingest.http.app`) is mounted at /ingest on the same port."""
    verifier = TokenVerifier.from_settings(settings)
    app = web.Application(
        middlewares=[access_middleware(settings, verifier)], client_max_size=MAX_REQUEST_BYTES
    )
    app.router.add_route("*", GRAPHQL_PATH, PinganGraphQLView(context, settings, verifier))
    app.router.add_get(CROPS_PATH + "{capture_id}", face_crop_handler(context, settings))
    app.router.add_get("/healthz", healthz)
    if ingest is not None:
        app.add_subapp("/ingest", ingest)
    app.router.add_routes(console_handlers(settings.console_dir))

    async def close_reference_registry(app: web.Application) -> None:
        await context.reference_registry.close()

    app.on_cleanup.append(close_reference_registry)
    return app


async def serve(
    context: ApiContext,
    settings: Settings,
    host: str,
    port: int,
    ingest: web.Application | None = None,
) -> web.AppRunner:
    """Start serving on the running loop; the caller owns the runner and cleans it up.

    Port 0 picks a free port: read it from `runner.addresses`.
    """
    runner = await start_site(build_web_app(context, settings, ingest), host, port)
    for address in runner.addresses:
        log.info("GraphQL API listening on http://%s:%s/graphql", *address[:2])
    return runner


def api_context(
    settings: Settings,
    warehouse: Warehouse,
    publisher: Publisher,
    feed: AlertFeed,
    faces: FaceEngine | None = None,
    rules: Sequence[RuleSpec] = (),
) -> ApiContext:
    """The process-wide services, with the configured read limits; `rules` is the catalogue
    whose thresholds the API shows and edits."""
    return ApiContext(
        warehouse=warehouse,
        publisher=publisher,
        alert_feed=feed,
        communities=load_communities(),
        read_limits=ReadLimits(
            timeout_seconds=settings.api_query_timeout_seconds,
            max_memory_mb=settings.api_query_max_memory_mb,
            max_threads=settings.api_query_max_threads,
        ),
        face_engine=faces,
        reference_registry=ReferenceRegistry(settings.bootstrap),
        rules=tuple(rules),
    )


async def run_api(settings: Settings, rules: Sequence[RuleSpec]) -> None:
    """Serve the API on settings.api_host until cancelled."""
    warehouse = open_warehouse(settings)
    try:
        async with (
            Publisher(settings.bootstrap) as publisher,
            AlertFeed(settings.bootstrap) as feed,
        ):
            context = api_context(settings, warehouse, publisher, feed, rules=rules)
            runner = await serve(context, settings, settings.api_host, settings.api_port)
            try:
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()
    finally:
        await asyncio.to_thread(warehouse.close)

"""The webhooks on their own (`pingan ingest http`), for deployments where devices reach
an ingest host and the API runs elsewhere; in embedded mode the worker's API serves them."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from ingest.http.app import PREFIX, ingest_app
from ingest.http.snapshots import SnapshotAnalyser
from ingest.vision.faces.service import started_for_uploads
from pingan.platform.provision import create_topics
from pingan.platform.settings import Settings
from pingan.platform.web import start_site

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def webhooks_app(
    settings: Settings, face_snapshots: SnapshotAnalyser | None = None
) -> web.Application:
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.add_subapp(PREFIX, ingest_app(settings, face_snapshots=face_snapshots))
    return app


async def serve_webhooks(
    settings: Settings, host: str, port: int, face_snapshots: SnapshotAnalyser | None = None
) -> web.AppRunner:
    """Start on the running loop (port 0 = a free one, see `runner.addresses`)."""
    runner = await start_site(webhooks_app(settings, face_snapshots), host, port)
    for address in runner.addresses:
        log.info("device webhooks listening on http://%s:%s%s/v1/", *address[:2], PREFIX)
    return runner


async def run_webhooks(settings: Settings) -> None:
    """Serve on settings.ingest_http_host/port until SIGINT or SIGTERM; requests in progress
    finish (their events are acknowledged or refused) before the producer is flushed."""
    await create_topics(settings.bootstrap)
    faces = await started_for_uploads(settings)
    runner = await serve_webhooks(
        settings,
        settings.ingest_http_host,
        settings.ingest_http_port,
        faces.upload if faces else None,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        if faces is not None:
            await faces.stop()

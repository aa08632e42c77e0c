"""Running a worker: the Faust pipeline, and in embedded mode the API in the same process.

chDB lets one process open a data directory, so with the embedded warehouse the worker
also serves GraphQL from its own event loop; with a ClickHouse server the API can run alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import faust
from aiohttp import web
from mode import Service

from graphql_api.context import ApiContext
from graphql_api.feed import AlertFeed
from graphql_api.server import serve
from ingest.http.app import ingest_app
from ingest.publisher import Publisher
from ingest.reference import load_communities
from ingest.vision.faces.service import FaceService, started_for_uploads
from pingan.provision import create_topics, prepare_warehouse
from pingan.settings import Settings
from pingan.warehouse import Warehouse, open_warehouse
from streams.app import Pipeline
from streams.engine import changelog_topics
from streams.parking.book import parking_changelog_topics
from streams.rules.catalogue import all_rules

log = logging.getLogger(__name__)

Companion = Callable[[asyncio.Event], Awaitable[None]]


class ApiService(Service):
    """GraphQL API, alert feed and publisher, living as long as the worker."""

    def __init__(self, settings: Settings, warehouse: Warehouse, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        self._warehouse = warehouse
        self._runner: web.AppRunner | None = None
        self._context: ApiContext | None = None
        self._faces: FaceService | None = None

    async def on_start(self) -> None:
        """Kafka clients are made here: they bind to the worker's running loop."""
        publisher = Publisher(self._settings.bootstrap)
        feed = AlertFeed(self._settings.bootstrap)
        await publisher.start()
        await feed.start()
        self._faces = await started_for_uploads(self._settings)
        self._context = ApiContext(
            warehouse=self._warehouse,
            publisher=publisher,
            alert_feed=feed,
            communities=load_communities(),
        )
        self._runner = await serve(
            self._context,
            self._settings.api_host,
            self._settings.api_port,
            ingest=ingest_app(
                self._settings, face_snapshots=self._faces.upload if self._faces else None
            ),
        )
        log.info(
            "GraphQL API at http://%s:%d/graphql", self._settings.api_host, self._settings.api_port
        )

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._context is not None:
            await self._context.alert_feed.stop()
            await self._context.publisher.stop()
        if self._faces is not None:
            await self._faces.stop()


@dataclass
class WorkerRun:
    pipeline: Pipeline
    warehouse: Warehouse


def prepare(settings: Settings) -> Warehouse:
    """Topics (with the rule tables' changelogs) and tables exist before any agent subscribes."""
    asyncio.run(
        create_topics(
            settings.bootstrap,
            changelog_topics(settings.worker_id, all_rules())
            + parking_changelog_topics(settings.worker_id),
        )
    )
    warehouse = open_warehouse(settings)
    prepare_warehouse(warehouse, settings)
    return warehouse


def run_worker(
    settings: Settings,
    *,
    host_api: bool,
    companion: Companion | None = None,
    duration: float | None = None,
) -> WorkerRun:
    """Run until SIGINT/SIGTERM or `duration` seconds; returns what the summary needs.

    `companion` (the simulator, in `pingan run`) runs in the worker's loop and is told to
    stop through its event when the worker stops.
    """
    warehouse = prepare(settings)
    pipeline = Pipeline(settings, warehouse)
    app = pipeline.app
    if host_api:
        app.web_server(ApiService(settings, warehouse))
    stop_companion = asyncio.Event()
    if companion is not None:

        @app.task
        async def run_companion() -> None:
            await companion(stop_companion)

    if duration is not None:

        @app.timer(interval=duration, on_leader=False)
        async def end_of_run() -> None:
            stop_companion.set()
            os.kill(os.getpid(), signal.SIGTERM)

    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    with contextlib.suppress(SystemExit):
        worker.execute_from_commandline()
    return WorkerRun(pipeline, warehouse)

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
from mode import Service

from graphql_api.feed import AlertFeed
from graphql_api.server import ApiContext, serve
from ingest.publisher import Publisher
from ingest.reference import load_communities
from pingan.provision import create_topics, prepare_warehouse
from pingan.settings import Settings
from pingan.warehouse import Warehouse, open_warehouse
from streams.app import Pipeline

log = logging.getLogger(__name__)

Companion = Callable[[asyncio.Event], Awaitable[None]]


class ApiService(Service):
    """GraphQL API, alert feed and publisher, living as long as the worker."""

    def __init__(self, settings: Settings, warehouse: Warehouse, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        self._warehouse = warehouse
        self._runner = None
        self._publisher = Publisher(settings.bootstrap)
        self._feed = AlertFeed(settings.bootstrap)

    async def on_start(self) -> None:
        await self._publisher.start()
        await self._feed.start()
        context = ApiContext(
            warehouse=self._warehouse,
            publisher=self._publisher,
            alert_feed=self._feed,
            communities=load_communities(),
        )
        self._runner = await serve(context, self._settings.api_host, self._settings.api_port)
        log.info(
            "GraphQL API at http://%s:%d/graphql", self._settings.api_host, self._settings.api_port
        )

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self._feed.stop()
        await self._publisher.stop()


@dataclass
class WorkerRun:
    pipeline: Pipeline
    warehouse: Warehouse


def prepare(settings: Settings) -> Warehouse:
    """Topics and tables exist before any agent subscribes."""
    asyncio.run(create_topics(settings.bootstrap))
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

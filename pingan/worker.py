"""Running a worker: the Faust pipeline, and in embedded mode the API in the same process.

chDB lets one process open a data directory, so with the embedded warehouse the worker
also serves GraphQL, on a thread and event loop of the API's own; with a ClickHouse server
the API can run alone.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import faust
from aiohttp import web
from mode import Service

from graphql_api.context import ApiContext
from graphql_api.faces import PhotoFace, UnusablePhoto
from graphql_api.feed import AlertFeed
from graphql_api.limits import API_NICE
from graphql_api.server import api_context, serve
from graphql_api.sql_gateway import start_sql_gateway
from ingest.http.app import ingest_app
from ingest.vision.faces.images import UnreadableImage, decode_image
from ingest.vision.faces.search import EnrolmentError, enrolment_face
from ingest.vision.faces.service import FaceService, started_for_uploads
from pingan.platform.provision import align_retention, create_topics, prepare_warehouse
from pingan.platform.publisher import Publisher
from pingan.platform.retention import EvidenceSweeper, evidence_retention, sweep_periodically
from pingan.platform.settings import Settings
from pingan.platform.warehouse import Warehouse, open_warehouse
from streams.app import Pipeline
from streams.engine import changelog_topics
from streams.parking.book import parking_changelog_topics
from streams.rules.catalogue import all_rules
from streams.rules.rule import Rule

log = logging.getLogger(__name__)

Companion = Callable[[asyncio.Event], Awaitable[None]]
"""A task of `pingan run` in the worker's loop (the simulator, the status line), told to stop
through its event when the run ends."""


class ApiService(Service):
    """GraphQL API and device webhooks, living as long as the worker, on a thread of their own.

    The API has its own event loop: turning a large answer into JSON is pure Python, and on
    the worker's loop it held up the batches that raise alerts (a flood of heavy queries
    pushed fence alarm → subscriber past a second). chDB releases the GIL while it queries,
    and the warehouse serialises its one session, writers first.
    """

    def __init__(
        self,
        settings: Settings,
        warehouse: Warehouse,
        rules: Sequence[Rule[Any, Any, Any]],
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self._thread = ApiThread(settings, warehouse, rules)

    async def on_start(self) -> None:
        await asyncio.wrap_future(self._thread.start())

    async def on_stop(self) -> None:
        await asyncio.to_thread(self._thread.stop)


class ApiThread:
    """Runs the API's loop: Kafka clients, face pipeline and site are made on that loop."""

    STOP_TIMEOUT_SECONDS = 30.0

    def __init__(
        self, settings: Settings, warehouse: Warehouse, rules: Sequence[Rule[Any, Any, Any]]
    ) -> None:
        self._settings = settings
        self._warehouse = warehouse
        self._rules = rules
        self._ready: Future[None] = Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="pingan-api", daemon=True)

    def start(self) -> Future[None]:
        """Resolves once the API answers on its port, or with the error that stopped it."""
        self._thread.start()
        return self._ready

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(self.STOP_TIMEOUT_SECONDS)

    def _run(self) -> None:
        _lower_priority()
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            else:
                log.exception("the API thread stopped")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        settings = self._settings
        async with (
            Publisher(settings.bootstrap) as publisher,
            AlertFeed(settings.bootstrap) as feed,
        ):
            faces = await started_for_uploads(settings)
            try:
                engine = FaceServiceEngine(faces) if faces else None
                context = api_context(
                    settings, self._warehouse, publisher, feed, engine, self._rules
                )
                webhooks = ingest_app(settings, face_snapshots=faces.upload if faces else None)
                await self._serve_sql_then_api(context, webhooks)
            finally:
                if faces is not None:
                    await faces.stop()

    async def _serve_sql_then_api(self, context: ApiContext, webhooks: web.Application) -> None:
        """The analysts' SQL endpoint first: once /healthz answers, everything does."""
        assert self._stopping is not None
        settings = self._settings
        sql = await start_sql_gateway(settings, context.audit)
        try:
            runner = await serve(
                context, settings, settings.api_host, settings.api_port, ingest=webhooks
            )
            try:
                log.info(
                    "GraphQL API at http://%s:%d/graphql", settings.api_host, settings.api_port
                )
                self._ready.set_result(None)
                await self._stopping.wait()
            finally:
                await runner.cleanup()
        finally:
            if sql is not None:
                gateway, sql_runner = sql
                await sql_runner.cleanup()
                await asyncio.to_thread(gateway.close)


def _lower_priority() -> None:
    """The API's thread (and the threads it starts) yield the cores to the pipeline's.

    Linux gives each thread its own niceness; elsewhere this is a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), API_NICE)
    except (AttributeError, OSError) as exc:
        log.info("the API thread keeps the worker's priority: %s", exc)


class FaceServiceEngine:
    """The worker's face pipeline as the API's FaceEngine (face search, enrolment)."""

    def __init__(self, service: FaceService) -> None:
        self._service = service

    @property
    def model_id(self) -> str:
        return self._service.pack.model_id

    @property
    def match_threshold(self) -> float:
        return self._service.pack.config.match_threshold

    async def photo_face(self, image: bytes) -> PhotoFace:
        return await self._service.on_models(lambda: self._photo_face(image))

    def _photo_face(self, image: bytes) -> PhotoFace:
        try:
            face = enrolment_face(
                self._service.analyser, decode_image(image, self._service.image_limits)
            )
        except (UnreadableImage, EnrolmentError) as exc:
            raise UnusablePhoto(str(exc)) from None
        embedding = [float(v) for v in face.embedding]
        return PhotoFace(embedding, float(face.face.quality.score), self.model_id)


@dataclass
class WorkerRun:
    pipeline: Pipeline
    warehouse: Warehouse | None
    """None in a rules worker: only sinks hold ClickHouse."""
    failure: BaseException | None = None
    """Why the worker stopped, if not on a signal or at the end of its duration."""


def prepare_topics(settings: Settings, rules: Sequence[Rule[Any, Any, Any]] | None = None) -> None:
    """Topics (with the rule tables' changelogs) exist before any agent subscribes."""
    asyncio.run(
        create_topics(
            settings.bootstrap,
            changelog_topics(settings.worker_id, all_rules() if rules is None else rules)
            + parking_changelog_topics(settings.worker_id),
        )
    )
    asyncio.run(align_retention(settings.bootstrap, settings))


def prepare(settings: Settings, rules: Sequence[Rule[Any, Any, Any]] | None = None) -> Warehouse:
    """Topics, then the tables, migrated: a sink writes from its first batch on."""
    prepare_topics(settings, rules)
    warehouse = open_warehouse(settings)
    prepare_warehouse(warehouse, settings)
    return warehouse


GC_THRESHOLDS = (100_000, 50, 100)
"""CPython's defaults are (700, 10, 10)."""


def _collect_garbage_rarely() -> None:
    """A worker keeps each batch for a fraction of a second and rule state for hours. At
    CPython's default thresholds the batches outlive the young generations, and a full
    collection ran every second or so under load: 300–470 ms each with the event loop and
    every alert stopped, collecting nothing (refcounts free the batches). Young objects
    get room to die young, full collections become rare, and what start-up built (modules,
    models, the pipeline) is frozen out of their scans."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


def run_worker(
    settings: Settings,
    *,
    host_api: bool,
    companions: Sequence[Callable[[WorkerRun], Companion]] = (),
    duration: float | None = None,
    logfile: Path | None = None,
    rules: Sequence[Rule[Any, Any, Any]] | None = None,
) -> WorkerRun:
    """Run until SIGINT/SIGTERM or `duration` seconds; returns what the summary needs.

    `companions` are made from the run, so that they can read its figures, and run in the
    worker's loop. With `logfile`, Faust's and every other log go there, not to the terminal.
    `rules` replaces the catalogue (tests inject a rule that fails on purpose). A rules
    worker opens no ClickHouse (embedded chDB is one process's: the sink's) and so serves
    no API.
    """
    if settings.worker_role == "rules":
        if host_api:
            raise ValueError("a rules worker holds no ClickHouse: serve the API from the sink")
        prepare_topics(settings, rules)
        warehouse = None
    else:
        warehouse = prepare(settings, rules)
    pipeline = Pipeline(settings, warehouse, rules)
    app = pipeline.app
    if host_api and warehouse is not None:
        app.web_server(ApiService(settings, warehouse, pipeline.rules))
    stop_companion = asyncio.Event()
    for make_companion in companions:
        _run_alongside(app, make_companion(WorkerRun(pipeline, warehouse)), stop_companion)
    if warehouse is not None:
        sweeper = EvidenceSweeper(evidence_retention(settings))
        _run_alongside(app, partial(sweep_periodically, sweeper), stop_companion)

    if duration is not None:

        @app.timer(interval=duration, on_leader=False)
        async def end_of_run() -> None:
            stop_companion.set()
            os.kill(os.getpid(), signal.SIGTERM)

    _collect_garbage_rarely()
    worker = faust.Worker(
        app, loglevel=settings.log_level, quiet=True, logfile=str(logfile) if logfile else None
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_:
        if exit_.code:
            # mode logs the error, then exits from inside the `except` that caught it.
            failure = worker.crash_reason or exit_.__context__ or exit_
            return WorkerRun(pipeline, warehouse, failure)
    return WorkerRun(pipeline, warehouse)


def _run_alongside(app: faust.App, companion: Companion, stop: asyncio.Event) -> None:
    @app.task
    async def run_companion() -> None:
        await companion(stop)

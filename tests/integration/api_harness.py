"""The police API over real HTTP and websockets, signed in as any role: shared by the API's
integration test modules."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pyarrow as pa
import pytest
import websockets
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr

from graphql_api.access import Role
from graphql_api.faces import FaceEngine
from graphql_api.feed import AlertFeed
from graphql_api.server import ApiContext, api_context, serve
from graphql_api.tokens import mint_token
from ingest.vision.faces.service import FaceService
from pingan.platform.provision import prepare_warehouse
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings, get_settings
from pingan.platform.warehouse import EmbeddedWarehouse, Warehouse
from pingan.worker import FaceServiceEngine
from schemas.audit import AuditEntry
from schemas.codec import decode
from schemas.events import Record
from schemas.reference import Device
from schemas.topics import AUDIT_LOG
from streams.rules.catalogue import all_rules

ADMIN = (Role.DISTRICT_ADMIN, None)
OFFICER = (Role.DISTRICT_OFFICER, None)
C01_OFFICER = (Role.COMMUNITY_OFFICER, ["c01"])
C01_MANAGER = (Role.PROPERTY_MANAGER, ["c01"])
ANALYST = (Role.ANALYST, None)
Who = tuple[Role, list[str] | None]
WAIT = 30.0


def api_settings(**overrides: Any) -> Settings:
    """A fixed secret, so tests mint tokens without touching any data directory."""
    return Settings(api_token_secret=SecretStr(secrets.token_urlsafe(32)), **overrides)


@dataclass
class Api:
    context: ApiContext
    settings: Settings
    url: str
    http: aiohttp.ClientSession
    _tokens: dict[tuple[Role, str, str], str] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def token(self, who: Who = ADMIN, sub: str | None = None) -> str:
        role, communities = who
        name = sub or f"{role.value}-{'-'.join(communities or ['all'])}"
        key = (role, name, ",".join(communities or []))
        if key not in self._tokens:
            self._tokens[key] = mint_token(
                self.settings, role, name, communities, timedelta(hours=1)
            )
        return self._tokens[key]

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"query": query, "variables": variables}
        async with self.http.post(self.url, json=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, who: Who = ADMIN
    ) -> dict[str, Any]:
        status, body = await self.post(query, variables, self.token(who))
        assert status == 200, body
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, who: Who = ADMIN
    ) -> dict[str, Any]:
        body = await self.graphql(query, variables, who)
        assert "errors" not in body, body
        return body["data"]

    async def errors(
        self, query: str, variables: dict[str, Any] | None = None, who: Who = ADMIN
    ) -> list[str]:
        body = await self.graphql(query, variables, who)
        assert body.get("errors"), body
        return [e["message"] for e in body["errors"]]

    @contextlib.asynccontextmanager
    async def websocket(self, who: Who | None = ADMIN) -> AsyncIterator[Any]:
        """A graphql-transport-ws connection, initialised with the role's token (None: with
        none); yields the socket and the server's answer to connection_init."""
        async with websockets.connect(self.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
            payload = {} if who is None else {"authorization": f"Bearer {self.token(who)}"}
            await ws.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
            try:
                async with asyncio.timeout(WAIT):
                    answer: Any = orjson.loads(await ws.recv())
            except websockets.ConnectionClosed as closed:
                answer = {"type": "closed", "code": closed.rcvd.code if closed.rcvd else None}
            yield ws, answer

    async def subscribe(self, ws: Any, query: str, variables: dict[str, Any] | None = None) -> None:
        message = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": query, "variables": variables},
        }
        await ws.send(orjson.dumps(message).decode())


async def next_message(ws: Any) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        return orjson.loads(await ws.recv())


def insert_records(warehouse: Warehouse, table: str, records: Sequence[Record]) -> None:
    """Rows as the worker's sink writes them: API tests set up their data without a worker."""
    rows = [r.row() | {"kafka_partition": 0, "kafka_offset": i} for i, r in enumerate(records)]
    warehouse.insert(table, pa.Table.from_pylist(rows, schema=warehouse.arrow_schema(table)))


@contextlib.contextmanager
def prepared_warehouse(data_dir: Path) -> Iterator[EmbeddedWarehouse]:
    """A migrated chDB of the test's own, closed afterwards."""
    warehouse = EmbeddedWarehouse(data_dir / "clickhouse", "pingan")
    try:
        prepare_warehouse(warehouse, Settings(data_dir=data_dir))
        yield warehouse
    finally:
        warehouse.close()


@contextlib.contextmanager
def configured(bootstrap: str, data_dir: Path, face_model_dir: Path) -> Iterator[Settings]:
    """This module's broker, data directory and face models as the configured ones: the API
    reads compacted topics from the configured Kafka and crops under the configured data
    directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KAFKA_BOOTSTRAP", bootstrap)
        patch.setenv("PINGAN_DATA_DIR", str(data_dir))
        patch.setenv("PINGAN_FACE_MODEL_DIR", str(face_model_dir))
        get_settings.cache_clear()
        yield Settings(kafka_bootstrap=bootstrap, data_dir=data_dir, face_model_dir=face_model_dir)
    get_settings.cache_clear()


async def audit_entries(bootstrap: str) -> list[AuditEntry]:
    """Every audit row on the topic so far, oldest first: the API publishes a call's row
    (acks=all) before it answers, so a test reading after the answer finds it."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(AUDIT_LOG.name, p) for p in range(AUDIT_LOG.partitions)]
    entries: list[AuditEntry] = []
    async with asyncio.timeout(WAIT):
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                batches = await consumer.getmany(*partitions, timeout_ms=500)
                entries += [decode(m.value, AuditEntry) for ms in batches.values() for m in ms]
        finally:
            await consumer.stop()
    return entries


@contextlib.asynccontextmanager
async def running_api(
    warehouse: Warehouse,
    bootstrap: str,
    settings: Settings | None = None,
    faces: FaceEngine | None = None,
) -> AsyncIterator[Api]:
    """The API on a free port; `faces` is the hosting process's face model, if any."""
    settings = settings or api_settings()
    async with (
        Publisher(bootstrap) as publisher,
        AlertFeed(bootstrap) as feed,
        aiohttp.ClientSession() as http,
    ):
        context = api_context(settings, warehouse, publisher, feed, faces, all_rules())
        runner = await serve(context, settings, "127.0.0.1", 0)
        host, port = runner.addresses[0][:2]
        try:
            yield Api(context, settings, f"http://{host}:{port}/graphql", http)
        finally:
            await runner.cleanup()


@contextlib.asynccontextmanager
async def face_service_knowing(
    settings: Settings, cameras: Sequence[Device]
) -> AsyncIterator[FaceService]:
    """The face pipeline of the process hosting the API, with `cameras` registered first."""
    async with asyncio.timeout(WAIT), Publisher(settings.bootstrap) as publisher:
        await publisher.publish_many(cameras)
    async with FaceService(settings) as service:
        yield service


@contextlib.asynccontextmanager
async def running_api_with_faces(
    warehouse: Warehouse, settings: Settings, faces: FaceService
) -> AsyncIterator[Api]:
    """The API of a worker that has a face model pack: face search and enrolment work."""
    api_config = api_settings(data_dir=settings.data_dir)
    engine = FaceServiceEngine(faces)
    async with running_api(warehouse, settings.bootstrap, api_config, faces=engine) as api:
        yield api

"""The Faust app: topics from the catalogue, the watchlist, rule agents and the sink."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

import faust
from faust.types import EventT

from ingest.reference import community_ids
from pingan.settings import Settings
from pingan.warehouse import Warehouse
from schemas.codec import DecodeError, encode
from schemas.events import VehiclePassage, utc_now
from schemas.topics import (
    ALERTS,
    DEAD_LETTERS,
    EVENT_TOPICS,
    VEHICLE_PASSAGES,
    Topic,
)
from streams.dead_letters import DeadLetter
from streams.intake import Intake
from streams.rules.watchlist_plate import watchlist_alert, watchlist_key
from streams.sink import Message, SinkStats, TableSink
from streams.watchlist import WatchlistTable

log = logging.getLogger(__name__)


class Pipeline:
    """Everything one worker runs, built from settings; agents are registered on construction."""

    def __init__(self, settings: Settings, warehouse: Warehouse) -> None:
        self.settings = settings
        self.warehouse = warehouse
        self.stats = SinkStats()
        self.intake = Intake(community_ids(), timedelta(seconds=settings.max_clock_skew_seconds))
        self.app = faust.App(
            settings.worker_id,
            broker=f"kafka://{settings.bootstrap}",
            key_serializer="raw",
            value_serializer="raw",
            topic_allow_declare=False,
            topic_disable_leader=True,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            broker_commit_interval=1.0,
            datadir=str(settings.data_dir / "faust"),
            web_enabled=True,
            web_bind=settings.api_host,
            web_port=settings.api_port,
            loghandlers=[],
        )
        self.sinks: list[TableSink] = []
        self.watchlist = WatchlistTable(settings.bootstrap)
        self.app.add_dependency(self.watchlist)
        self.dead_letter_topic = self.topic(DEAD_LETTERS)
        self.alerts_topic = self.topic(ALERTS)
        self._register_watchlist_rule()
        for spec in (*EVENT_TOPICS, ALERTS, DEAD_LETTERS):
            self._register_sink(spec)
        self.app.on_partitions_assigned.connect(self._on_partitions_assigned)

    def topic(self, spec: Topic) -> faust.TopicT:
        return self.app.topic(
            spec.name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=spec.partitions,
        )

    def _register_watchlist_rule(self) -> None:
        @self.app.agent(self.topic(VEHICLE_PASSAGES), name="rule-watchlist-plate")
        async def watchlist_plate(stream: faust.StreamT[bytes]) -> None:
            await self.watchlist.loaded.wait()
            async for raw in stream:
                try:
                    passage = self.intake.accept(raw, VehiclePassage)
                except DecodeError:
                    continue  # the sink dead-letters it
                entry = self.watchlist.get(watchlist_key(passage.plate))
                if entry is None:
                    continue
                alert = watchlist_alert(passage, entry, utc_now())
                await self.alerts_topic.send(key=passage.community_id.encode(), value=encode(alert))

    def _register_sink(self, spec: Topic) -> None:
        reject = self._log_unreadable if spec is DEAD_LETTERS else self._dead_letter
        sink = TableSink(self.warehouse, spec, self.intake, reject, self.stats)
        self.sinks.append(sink)
        size, within = self.settings.sink_batch_size, self.settings.sink_batch_seconds

        async def write_table(stream: faust.StreamT[bytes]) -> None:
            async for events in stream.take_events(size, within=within):
                await sink.write(_messages(events))

        self.app.agent(self.topic(spec), name=f"sink-{sink.table}")(write_table)

    async def _dead_letter(self, dead_letter: DeadLetter) -> None:
        """Publish and wait for the broker's ack before the batch (and its offset) is committed."""
        fut = await self.dead_letter_topic.send(
            key=dead_letter.source_topic.encode(),
            value=dead_letter.raw,
            headers=dead_letter.headers(),
        )
        await fut
        log.warning("dead-lettered %s: %s", dead_letter.dead_letter_id, dead_letter.reason)

    async def _log_unreadable(self, dead_letter: DeadLetter) -> None:
        log.error("unreadable dead letter %s: %s", dead_letter.dead_letter_id, dead_letter.reason)

    async def _on_partitions_assigned(self, sender: object, assigned: object, **_: object) -> None:
        for sink in self.sinks:
            sink.forget_watermarks()


def _messages(events: Sequence[EventT]) -> list[Message]:
    return [
        Message(
            topic=e.message.topic,
            partition=e.message.partition,
            offset=e.message.offset,
            key=e.message.key,
            value=e.message.value,
            headers=_headers(e.message.headers),
        )
        for e in events
    ]


def _headers(headers: object) -> dict[str, bytes]:
    items = headers.items() if isinstance(headers, dict) else headers or []
    return {k: v for k, v in items}

"""The Faust app: each event topic is decoded once per batch, run through the rules and
written to ClickHouse; passages are re-keyed by plate for the cross-community rules."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import faust
from faust.types import EventT
from pydantic import BaseModel

from pingan.platform.district import community_ids
from pingan.platform.health import Stall
from pingan.platform.reference_data import ReferenceData, ReferenceFollower
from pingan.platform.rule_settings import RuleThresholds
from pingan.platform.settings import Settings
from pingan.platform.warehouse import Warehouse, event_retention
from schemas.alerts import PLATFORM_COMMUNITY, Alert
from schemas.codec import DecodeError, encode
from schemas.events import Event, Record, VehiclePassage
from schemas.topics import (
    ALERTS,
    ALERTS_BY_PLATE,
    AUDIT_TOPICS,
    BRACELET_READINGS,
    DEAD_LETTERS,
    EVENT_TOPICS,
    PARKING_SESSIONS,
    PASSAGES_BY_PLATE,
    PERIMETER_ALARMS,
    VEHICLE_PASSAGES,
    Topic,
)
from streams.dead_letters import DeadLetter
from streams.engine import Arrival, RuleEngine
from streams.faust_internals import PinganApp, SettledTableManager, acting_for
from streams.intake import Intake
from streams.parking.book import ParkingBook
from streams.pending_rows import Decoded, PendingRows
from streams.rules.catalogue import all_rules
from streams.rules.rule import Keying, Rule
from streams.sink import Message, SinkStats, TableSink, stall_alert
from streams.staged_writes import StagedWrites
from streams.steady_batches import SteadyBatches

log = logging.getLogger(__name__)
R = TypeVar("R", bound=BaseModel)

FORWARDED_FROM = "pingan-forwarded-from-partition"
URGENT_TOPICS = frozenset({PERIMETER_ALARMS.name, BRACELET_READINGS.name})
"""A fence alarm or an SOS must reach the officer's phone within a second: these topics
wait `urgent_batch_seconds` for a batch instead of `sink_batch_seconds`, and the consumer
hands their records out ahead of other topics' (`streams/faust_internals.py`)."""
POLL_RECORDS = 500
"""Records per fetch handed to the agents: an urgent record fetched meanwhile waits for the
ones before it to be queued, at the rate the shared event loop allows."""


def _broker_credentials(settings: Settings) -> faust.SASLCredentials | None:
    """The worker's Kafka user: the same settings every other client takes."""
    security = settings.kafka_security
    if not security:
        return None
    return faust.SASLCredentials(
        username=security["sasl_plain_username"],
        password=security["sasl_plain_password"],
        mechanism=security["sasl_mechanism"],
        ssl_context=security.get("ssl_context"),
    )


class Pipeline:
    """Everything one worker runs, built from settings; agents are registered on construction.

    Its role (`settings.worker_role`) picks the stages. Rule workers share one consumer group
    (the worker id) and scale to a process per partition, their state moving with the
    partitions through its changelogs. Sinks read the same topics in a group of their own
    (`<worker id>-sink`) and only write ClickHouse, skipping rows already stored, so their
    progress never waits on the rules' and the rules never wait on ClickHouse. `all` is both,
    in one process and one group.
    """

    def __init__(
        self,
        settings: Settings,
        warehouse: Warehouse | None,
        rules: Sequence[Rule[Any, Any, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.runs_rules = settings.worker_role in ("all", "rules")
        self.runs_sink = settings.worker_role in ("all", "sink")
        if self.runs_sink and warehouse is None:
            raise ValueError("a sink writes ClickHouse: it needs the warehouse")
        self.warehouse = warehouse
        self.stats = SinkStats()
        self.intake = Intake(
            community_ids(),
            timedelta(seconds=settings.max_clock_skew_seconds),
            event_retention(settings),
        )
        self.app = self._faust_app(settings)
        self.rules = list(all_rules() if rules is None else rules)
        self.reference = ReferenceData()
        self.thresholds = RuleThresholds(self.rules)
        self._settings_version = -1
        self.dead_letter_topic = self.topic(DEAD_LETTERS)
        self.sinks: list[TableSink] = []
        self.pending_rows: list[PendingRows[EventT]] = []
        self.steady = SteadyBatches(settings.sink_stall_minutes * 60, self._pipeline_stalled)
        if self.runs_rules:
            self._build_rule_stages(settings)
        for spec in EVENT_TOPICS:
            self._register_event_topic(spec)
        self._register_alerts()
        if self.runs_rules:
            self._register_plate_rules()
            self._register_plate_officer_updates()
        if self.runs_sink:
            self._register_dead_letters()
            for spec in (PARKING_SESSIONS, *AUDIT_TOPICS):
                self._register_record_sink(spec)
        self.app.on_partitions_assigned.connect(self._on_partitions_assigned)
        if self.runs_rules and self.runs_sink:
            self.app.task(self._write_due_rows)

    @staticmethod
    def _faust_app(settings: Settings) -> PinganApp:
        group = (
            settings.worker_id if settings.worker_role != "sink" else f"{settings.worker_id}-sink"
        )
        return PinganApp(
            group,
            broker=f"kafka://{settings.bootstrap}",
            broker_credentials=_broker_credentials(settings),
            key_serializer="raw",
            value_serializer="raw",
            topic_allow_declare=False,
            topic_disable_leader=True,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            broker_commit_interval=1.0,
            broker_session_timeout=settings.kafka_session_timeout_seconds,
            producer_linger=0.005,
            broker_max_poll_records=POLL_RECORDS,
            urgent_topics=URGENT_TOPICS,
            store="rocksdb://",
            datadir=str(settings.data_dir / "faust"),
            web_enabled=True,
            web_bind=settings.api_host,
            web_port=settings.api_port,
            loghandlers=[],
            TableManager=SettledTableManager,
        )

    def _build_rule_stages(self, settings: Settings) -> None:
        """The rule engines, the parking book and their staged writes (rule workers only)."""
        self.follower = ReferenceFollower(settings.bootstrap, self.reference)
        self.app.add_dependency(self.follower)
        self.staged = StagedWrites(settings.bootstrap)
        self.app.add_dependency(self.staged)
        self.by_plate_topic = self.topic(PASSAGES_BY_PLATE)
        self.alerts_by_plate_topic = self.topic(ALERTS_BY_PLATE)
        lateness = timedelta(seconds=settings.rule_lateness_seconds)
        stream_gap = timedelta(seconds=settings.rule_stream_gap_seconds)
        self.community_rules = RuleEngine(
            self.app,
            Keying.COMMUNITY,
            self.rules,
            self.reference,
            self.thresholds,
            self._send_alert,
            lateness,
            stream_gap,
            {t.record: t.name for t in EVENT_TOPICS if t.record is not None},
            self.staged,
            self._dead_letter,
            self.stats.rule_failures,
            settings.rule_state_max_bytes,
        )
        self.plate_rules = RuleEngine(
            self.app,
            Keying.PLATE,
            self.rules,
            self.reference,
            self.thresholds,
            self._send_alert,
            lateness,
            stream_gap,
            {VehiclePassage: PASSAGES_BY_PLATE.name},
            self.staged,
            self._dead_letter,
            self.stats.rule_failures,
            settings.rule_state_max_bytes,
        )
        self.parking = ParkingBook(self.app, self.reference, self.staged, settings)

    def topic(self, spec: Topic) -> faust.TopicT:
        return self.app.topic(
            spec.name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=spec.partitions,
        )

    def _sink(self, spec: Topic) -> TableSink:
        reject = self._log_unreadable if spec is DEAD_LETTERS else self._dead_letter
        sink = TableSink(
            self.warehouse,
            spec,
            self.intake,
            reject,
            self.stats,
            stall_after_seconds=self.settings.sink_stall_minutes * 60,
            on_stall=self._pipeline_stalled,
        )
        self.sinks.append(sink)
        return sink

    def _batches(self, stream: faust.StreamT[bytes], within: float) -> Any:
        return stream.take_events(self.settings.sink_batch_size, within=within)

    def _rule_window(self, urgent: bool = False) -> float:
        """How long the rules wait to fill a batch: what an event may wait for its alert."""
        window = self.settings.rule_batch_seconds
        return min(window, self.settings.urgent_batch_seconds) if urgent else window

    def _sink_window(self, urgent: bool = False) -> float:
        """How long a table's batch waits to fill: few, large inserts suit ClickHouse."""
        return self.settings.urgent_batch_seconds if urgent else self.settings.sink_batch_seconds

    def _register_event_topic(self, spec: Topic) -> None:
        sink = self._sink(spec) if self.runs_sink else None
        urgent = spec.name in URGENT_TOPICS
        record = spec.record
        assert record is not None

        async def handle(events: Sequence[EventT]) -> None:
            messages = _messages(events)
            decoded = [self.intake.accepted(m.value, record) for m in messages]
            if self.runs_rules:
                await self._apply_rules(spec, decoded, events)
            if sink is not None:
                await sink.write(messages, decoded)

        async def process(stream: faust.StreamT[bytes]) -> None:
            if self.runs_rules:
                await self.follower.loaded.wait()
            if self.runs_rules and sink is not None:
                await self._rules_ahead_of_rows(spec, sink, stream, urgent)
                return
            window = self._rule_window(urgent) if self.runs_rules else self._sink_window(urgent)
            async for events in self._batches(stream, window):
                await self._steadily(spec.name, spec.table or spec.name, events, handle)

        self.app.agent(self.topic(spec), name=f"events-{spec.table}")(process)

    async def _rules_ahead_of_rows(
        self, spec: Topic, sink: TableSink, stream: faust.StreamT[bytes], urgent: bool
    ) -> None:
        """Both stages in one process: the rules take each small batch as it comes, and its
        rows wait in `PendingRows` for the table's batch, acknowledged once stored."""
        record = spec.record
        assert record is not None

        async def acknowledge(events: Sequence[EventT]) -> None:
            for event in events:
                await stream.ack(event)

        async def write(messages: Sequence[Message], decoded: Sequence[Decoded]) -> None:
            partitions = [m.partition for m in messages]
            await self.steady.handle(
                spec.name, sink.table, partitions, lambda: sink.write(messages, decoded)
            )

        pending = PendingRows(
            write, acknowledge, self.settings.sink_batch_size, self._sink_window(urgent)
        )
        self.pending_rows.append(pending)
        batches = stream.noack_take(self.settings.sink_batch_size, within=self._rule_window(urgent))
        async for events in batches:
            messages = _messages(events)
            decoded = [self.intake.accepted(m.value, record) for m in messages]
            rules = functools.partial(self._apply_rules, spec, decoded)
            await self._steadily(spec.name, "rules", events, rules)
            await pending.add(messages, decoded, events)

    async def _write_due_rows(self) -> None:
        """Writes every topic's pending rows once they have waited their batch's time (a
        quiet topic's last rows would otherwise wait for its next event).

        A task of its own rather than a Faust timer: timers end as the app starts stopping,
        but the app then waits for every message taken to be acknowledged, so the rows
        still pending are written at once while it waits.
        """
        while True:
            await asyncio.sleep(self._rule_window())
            stopping = self.app.should_stop
            await asyncio.gather(
                *(p.write() if stopping else p.write_if_due() for p in self.pending_rows)
            )

    async def _apply_rules(
        self, spec: Topic, decoded: Sequence[Record | DecodeError], events: Sequence[EventT]
    ) -> None:
        arrivals = [
            Arrival(record, source)
            for record, source in zip(decoded, events, strict=True)
            if isinstance(record, Event)
        ]
        self._refresh_thresholds()
        await self.community_rules.process(arrivals)
        if spec is VEHICLE_PASSAGES:
            self.parking.fold(arrivals)
            self._forward_by_plate(arrivals)
        await self._flush_rule_stages()

    async def _flush_rule_stages(self) -> None:
        """One flush per batch sends what every stage staged (state changelogs, alerts,
        parking sessions, re-keyed passages) before the batch is acknowledged; then caches
        past their limit restart from RocksDB."""
        await self.staged.flush()
        self.community_rules.trim()
        self.plate_rules.trim()
        self.parking.ledgers.trim()

    def _register_alerts(self) -> None:
        """Alerts land in ClickHouse; an officer's acknowledgement, resolve or assignment also
        updates the book that holds the alert, so the rule's later updates keep it.

        The community book's entries live in the partitions of the alerts' community, as this
        topic's do, so it is updated here. The plate rules' book lives in the partitions of
        the plate: versions of its alert types are forwarded there (`ALERTS_BY_PLATE`). Every
        version goes, not only acknowledged or resolved ones: an assignment can change an
        open alert, and the book tells an officer's version from its own echoes.
        """
        sink = self._sink(ALERTS) if self.runs_sink else None

        async def handle(events: Sequence[EventT]) -> None:
            messages = _messages(events)
            decoded = [self.intake.accepted(m.value, Alert) for m in messages]
            if self.runs_rules:
                await self._book_officer_updates(decoded, events)
            if sink is not None:
                await sink.write(messages, decoded)

        async def write_alerts(stream: faust.StreamT[bytes]) -> None:
            window = self._sink_window() if sink is not None else self._rule_window()
            async for events in self._batches(stream, window):
                await self._steadily(ALERTS.name, "alerts", events, handle)

        self.app.agent(self.topic(ALERTS), name="sink-alerts")(write_alerts)

    async def _book_officer_updates(
        self, decoded: Sequence[Record | DecodeError], events: Sequence[EventT]
    ) -> None:
        by_plate = self.plate_rules.alert_types
        for record, source in zip(decoded, events, strict=True):
            if not isinstance(record, Alert):
                continue
            if record.alert_type in by_plate:
                self._forward_alert_by_plate(record, source)
            else:
                with acting_for(source):
                    self.community_rules.book.officer_update(record)
        await self._flush_rule_stages()

    def _register_dead_letters(self) -> None:
        sink = self._sink(DEAD_LETTERS)

        async def write_dead_letters(stream: faust.StreamT[bytes]) -> None:
            async for events in self._batches(stream, self._sink_window()):
                await self._steadily(
                    DEAD_LETTERS.name, sink.table, events, lambda e: sink.write(_messages(e))
                )

        self.app.agent(self.topic(DEAD_LETTERS), name="sink-dead-letters")(write_dead_letters)

    def _register_record_sink(self, spec: Topic) -> None:
        """A topic no rule reads (parking sessions, audit records) lands in its table."""
        sink = self._sink(spec)

        async def write_records(stream: faust.StreamT[bytes]) -> None:
            async for events in self._batches(stream, self._sink_window()):
                await self._steadily(
                    spec.name, sink.table, events, lambda e: sink.write(_messages(e))
                )

        self.app.agent(self.topic(spec), name=f"sink-{sink.table}")(write_records)

    def _register_plate_rules(self) -> None:
        async def handle(events: Sequence[EventT]) -> None:
            arrivals = []
            for passage, source in _re_keyed(events, VehiclePassage):
                headers = _headers(source.message.headers)
                clock = int(headers.get(FORWARDED_FROM, b"-1")) if headers else -1
                arrivals.append(Arrival(passage, source, clock if clock >= 0 else None))
            self._refresh_thresholds()
            await self.plate_rules.process(arrivals)
            await self._flush_rule_stages()

        async def by_plate(stream: faust.StreamT[bytes]) -> None:
            await self.follower.loaded.wait()
            async for events in self._batches(stream, self._rule_window()):
                await self._steadily(PASSAGES_BY_PLATE.name, "plate rules", events, handle)

        self.app.agent(self.by_plate_topic, name="rules-by-plate")(by_plate)

    def _register_plate_officer_updates(self) -> None:
        """Alert versions re-keyed by plate reach the plate rules' book; table writes go to
        the message's partition, which is the plate's, as for the passages by plate."""

        async def handle(events: Sequence[EventT]) -> None:
            for alert, source in _re_keyed(events, Alert):
                with acting_for(source):
                    self.plate_rules.book.officer_update(alert)
            await self._flush_rule_stages()

        async def officer_updates(stream: faust.StreamT[bytes]) -> None:
            async for events in self._batches(stream, self._rule_window()):
                await self._steadily(ALERTS_BY_PLATE.name, "plate alert book", events, handle)

        self.app.agent(self.alerts_by_plate_topic, name="officer-updates-by-plate")(officer_updates)

    async def _steadily(
        self,
        topic: str,
        destination: str,
        events: Sequence[EventT],
        handle: Callable[[Sequence[EventT]], Awaitable[object]],
    ) -> None:
        """`handle(events)` until it succeeds: Faust would commit a batch that raised."""
        partitions = [e.message.partition for e in events]
        await self.steady.handle(topic, destination, partitions, lambda: handle(events))

    def _forward_alert_by_plate(self, alert: Alert, source: EventT) -> None:
        """Keyed by the alert's subject, the plate its passages were keyed by: the same key,
        partition count and partitioner put it in the partition of the plate's book entry."""
        self.staged.forward(
            ALERTS_BY_PLATE.name,
            ALERTS_BY_PLATE.partitions,
            alert.subject.encode(),
            source.message.value,
            [],
        )

    def _forward_by_plate(self, arrivals: Sequence[Arrival]) -> None:
        """The source partition travels along: the plate rules' clock is the slowest of them."""
        for arrival in arrivals:
            passage = arrival.event
            assert isinstance(passage, VehiclePassage)
            self.staged.forward(
                PASSAGES_BY_PLATE.name,
                PASSAGES_BY_PLATE.partitions,
                passage.plate.encode(),
                arrival.source.message.value,
                [(FORWARDED_FROM, str(arrival.partition).encode())],
            )

    def _refresh_thresholds(self) -> None:
        if self.reference.version != self._settings_version:
            self._settings_version = self.reference.version
            self.thresholds.refresh(self.reference.rule_settings())

    async def _send_alert(self, alert: Alert) -> None:
        """Sent with the rule state that raised it, before the batch is acknowledged."""
        self.staged.forward(
            ALERTS.name, ALERTS.partitions, alert.community_id.encode(), encode(alert), []
        )

    async def _dead_letter(self, dead_letter: DeadLetter) -> None:
        """Publish and wait for the broker's ack before the batch (and its offset) is committed."""
        fut = await self.dead_letter_topic.send(
            key=dead_letter.source_topic.encode(),
            value=dead_letter.raw,
            headers=dead_letter.headers(),
        )
        await fut
        log.warning("dead-lettered %s: %s", dead_letter.dead_letter_id, dead_letter.reason)

    async def _pipeline_stalled(self, stall: Stall) -> None:
        """Straight to the alerts topic: the officers' feed reads it from Kafka, so the alert
        reaches them even when it is the alerts table that cannot be written."""
        fut = await self.topic(ALERTS).send(
            key=PLATFORM_COMMUNITY.encode(), value=encode(stall_alert(stall))
        )
        await fut

    async def _log_unreadable(self, dead_letter: DeadLetter) -> None:
        log.error("unreadable dead letter %s: %s", dead_letter.dead_letter_id, dead_letter.reason)

    async def _on_partitions_assigned(self, sender: object, assigned: object, **_: object) -> None:
        for sink in self.sinks:
            sink.forget_watermarks()
        if self.runs_rules:
            self.community_rules.reassigned()
            self.plate_rules.reassigned()
            self.parking.reassigned()


def _re_keyed(events: Sequence[EventT], record: type[R]) -> Iterator[tuple[R, EventT]]:
    """The records the worker re-keyed itself (passages, alerts by plate), each with its
    message. They were valid when forwarded, so one unreadable is logged and passed over."""
    for source in events:
        try:
            parsed = record.model_validate_json(source.message.value)
        except ValueError as exc:
            log.error("unreadable re-keyed %s: %s", record.__name__, exc)
            continue
        yield parsed, source


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

"""The rule engine: dispatches batches of decoded events to the rule modules, and time to
the absence rules.

State, time and wake-ups are not kept here but in `streams/state`: each stateful rule's
states and the alert book's entries live in a `KeyedStore` (a RocksDB-backed Faust table
whose changelog is co-partitioned with the stream it runs on, so a restarted worker, or
the worker that takes over a partition, recovers them); event time in `PartitionClocks`;
wake-ups in `WakeUps`. Events are folded in per key; a state that has already applied an
event's offset skips it, so a replay after a crash changes nothing.

Absence rules (a device that went silent) advance on the event-time watermark of their
inputs per partition. Nothing here reads the wall clock, so a replay raises the same
alerts. Before the watermark leaps over a stretch in which a rule's input carried nothing
at all (the platform was dark, not each device), the rule is told (`heard_nothing`), so
that silence is not counted against its subjects; after a (re)assignment the clock resumes
from the latest event the states had heard (`last_heard`), so a gap across a worker
restart is recognised too.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import faust
import orjson
from faust.types import EventT

from pingan.platform.health import PIPELINE_HEALTH
from pingan.platform.rule_settings import RuleThresholds
from schemas.alerts import Alert
from schemas.events import Event, utc_now
from schemas.topics import EVENT_PARTITIONS, Topic
from streams.alert_book import AlertBook
from streams.dead_letters import DeadLetter
from streams.faust_internals import acting_for, changelog_topic_name
from streams.rules.rule import Keying, Outcome, Reference, Rule, RuleState
from streams.staged_writes import StagedWrites
from streams.state.applied import Applied, already_applied, applying
from streams.state.clock import PartitionClocks
from streams.state.store import KeyedStore
from streams.state.timers import WakeUps

log = logging.getLogger(__name__)

SendAlert = Callable[[Alert], Awaitable[None]]
Reject = Callable[[DeadLetter], Awaitable[None]]
YIELD_EVERY = 200
"""Arrivals between yields to the event loop. A backlog's batch of thousands takes the rules a
second or more; a fence alarm's own small batch, ready meanwhile, would wait for all of it.
Other agents may run at a yield: each arrival is folded whole before it, and what they flush
meanwhile is what an agent's flush during an await already sent (see `StagedWrites.flush`)."""
REASON_CHARS = 500
"""An exception's repr in a dead letter's reason is cut here: a message can be any size."""


@dataclass(frozen=True)
class Arrival:
    """A decoded event with the Kafka message it came from.

    `clock_partition` is the partition whose event-time clock the event advances: its own,
    or for re-keyed passages the community partition it was forwarded from.
    """

    event: Event
    source: EventT
    clock_partition: int | None = None

    @property
    def topic(self) -> str:
        return self.source.message.topic

    @property
    def partition(self) -> int:
        return self.source.message.partition

    @property
    def offset(self) -> int:
        return self.source.message.offset


def table_name(keying: Keying, rule_name: str) -> str:
    return f"rule-{rule_name}" if keying is Keying.COMMUNITY else f"rule-{keying}-{rule_name}"


def book_table_name(keying: Keying) -> str:
    return f"alert-book-{keying}"


def _hears_gaps(rule: Rule[Any, Any, Any]) -> bool:
    return type(rule).heard_nothing is not Rule.heard_nothing


def _gaps_heard_by(
    rules: Sequence[Rule[Any, Any, Any]], input_topics: Mapping[str, Sequence[str]]
) -> dict[str, list[Rule[Any, Any, Any]]]:
    """Input topic → the rules told of its dark stretches. A dark stretch is one topic's (see
    PartitionClocks.dark_before), so a rule hearing gaps takes one input topic."""
    by_topic: dict[str, list[Rule[Any, Any, Any]]] = defaultdict(list)
    for rule in rules:
        topics = input_topics[rule.name]
        if len(topics) != 1:
            raise ValueError(f"{rule.name} hears gaps, so it takes one input topic: {topics}")
        by_topic[topics[0]].append(rule)
    return dict(by_topic)


def changelog_topics(app_id: str, rules: Sequence[Rule[Any, Any, Any]]) -> list[Topic]:
    """The compacted changelog topics of every table, created up front like all topics."""
    names = [table_name(r.keying, r.name) for r in rules if r.State is not None]
    names += [book_table_name(k) for k in Keying]
    return [
        Topic(
            name=changelog_topic_name(app_id, name),
            key="state key",
            partitions=EVENT_PARTITIONS,
            retention=None,
            record=None,
            table=None,
            compacted=True,
        )
        for name in names
    ]


def _table(app: faust.App, name: str) -> faust.Table:
    return app.Table(
        name,
        default=None,
        partitions=EVENT_PARTITIONS,
        key_type=bytes,
        value_type=bytes,
    )


BookEntry = tuple[Alert, Applied]


def _decode_entry(raw: bytes) -> BookEntry:
    stored = orjson.loads(raw)
    return Alert.model_validate(stored["alert"]), stored["applied"]


def _encode_entry(entry: BookEntry) -> bytes:
    return orjson.dumps({"alert": entry[0].model_dump(), "applied": entry[1]})


class BookEntries:
    """The alert book's entries in a keyed store, each with the offsets that touched it, so a
    replayed event cannot count twice on an alert (stateless rules have no state to
    remember it in)."""

    def __init__(self, table: faust.Table, changelog: StagedWrites) -> None:
        self.store = KeyedStore(table, changelog, _decode_entry, _encode_entry)
        self._source: tuple[str, str, int] | None = None

    def fresh(self, key: str, topic: str, offset: int) -> bool:
        """False if an event at this offset already touched the entry; else it is the source
        of the entry's next write (when the book writes it at all: a suppressed finding does
        not, and its offset must not stick to the next entry written, e.g. an officer's)."""
        entry = self.store.get(key)
        if entry is not None and already_applied(entry[1], topic, offset):
            return False
        self._source = (key, topic, offset)
        return True

    def get(self, key: str) -> Alert | None:
        entry = self.store.get(key)
        return None if entry is None else entry[0]

    def __setitem__(self, key: str, alert: Alert) -> None:
        entry = self.store.get(key)
        applied = entry[1] if entry is not None else {}
        if self._source is not None and self._source[0] == key:
            applied = applying(applied, self._source[1], self._source[2])
        self._source = None
        self.store.put(key, (alert, applied))


def capped(
    rule: Rule[Any, Any, Any], state: RuleState, max_bytes: int
) -> tuple[RuleState | None, bytes | None]:
    """The state and its JSON, shrunk by the rule (oldest records first) until the JSON fits
    in `max_bytes`; (None, None) when the rule cannot shrink it enough. A changelog record
    over Kafka's message size is refused by the broker, and the worker would crash-loop."""
    value = state.model_dump_json().encode()
    while len(value) > max_bytes:
        smaller = rule.shrink(state)
        if smaller is None:
            log.error(
                "%s state is %d bytes, over the %d-byte cap, and cannot shrink: dropped",
                rule.name,
                len(value),
                max_bytes,
            )
            return None, None
        state = smaller
        value = state.model_dump_json().encode()
    return state, value


class RuleStates(KeyedStore[RuleState]):
    """One rule's states, each capped in size as it is written."""

    def __init__(
        self,
        rule: Rule[Any, Any, Any],
        table: faust.Table,
        changelog: StagedWrites,
        max_bytes: int,
    ) -> None:
        assert rule.State is not None
        super().__init__(table, changelog, rule.State.model_validate_json, _encode_state)
        self._rule = rule
        self._max_bytes = max_bytes

    def put(self, key: str, value: RuleState | None, encoded: bytes | None = None) -> None:
        if value is not None:
            value, encoded = capped(self._rule, value, self._max_bytes)
        super().put(key, value, encoded)


def _encode_state(state: RuleState) -> bytes:
    return state.model_dump_json().encode()


class RuleEngine:
    """The rules of one keying, their tables, the alert book and the watermark clock."""

    def __init__(
        self,
        app: faust.App,
        keying: Keying,
        rules: Sequence[Rule[Any, Any, Any]],
        reference: Reference,
        thresholds: RuleThresholds,
        send_alert: SendAlert,
        lateness: timedelta,
        stream_gap: timedelta,
        topic_of: Mapping[type[Event], str],
        changelog: StagedWrites,
        reject: Reject,
        failures: Counter[str],
        state_max_bytes: int,
    ) -> None:
        self.keying = keying
        self.global_clock = keying is Keying.PLATE
        self.rules = [r for r in rules if r.keying is keying]
        self.alert_types = frozenset(t for r in self.rules for t in r.alert_types)
        """The alert types in this engine's book: where an officer's version must go."""
        self.reference = reference
        self.thresholds = thresholds
        self.clocks = PartitionClocks(lateness, stream_gap, district_wide=self.global_clock)
        self.wake_ups = WakeUps()
        self._send_alert = send_alert
        self._reject = reject
        self.failures = failures
        """Rule name → events (or wake-ups) it raised on, isolated and dead-lettered."""
        self._by_input: dict[type[Event], list[Rule[Any, Any, Any]]] = defaultdict(list)
        for rule in self.rules:
            for kind in rule.inputs:
                self._by_input[kind].append(rule)
        self.states = {
            r.name: RuleStates(
                r, _table(app, table_name(keying, r.name)), changelog, state_max_bytes
            )
            for r in self.rules
            if r.State is not None
        }
        self._absence = [r for r in self.rules if r.State is not None and _has_wakeups(r)]
        self._catching_up = [r for r in self._absence if len(r.inputs) == 1 or r.gap_proves_absence]
        self._hearing_gaps = [r for r in self._absence if _hears_gaps(r)]
        self._input_topics = {
            r.name: [topic_of[kind] for kind in r.inputs if kind in topic_of] for r in self.rules
        }
        self._gaps_heard_by = _gaps_heard_by(self._hearing_gaps, self._input_topics)
        self.book_entries = BookEntries(_table(app, book_table_name(keying)), changelog)
        self.book = AlertBook(
            self.book_entries,  # type: ignore[arg-type]
            district_wide=keying is Keying.PLATE,
        )
        self._needs_schedule = True

    def reassigned(self) -> None:
        """Partitions moved: cached states may belong to another worker now; reload."""
        for states in self.states.values():
            states.forget()
        self.book_entries.store.forget()
        self.clocks.reassigned()
        self.wake_ups.clear()
        self._needs_schedule = True

    async def process(self, arrivals: Sequence[Arrival]) -> None:
        """Fold a batch into the rules in order, staging their writes for the pipeline's one
        flush of the batch. Before each event, absent things whose time
        has come (by the watermark so far) time out: a batch replayed from a backlog can span
        minutes of event time, and a device silent for six of them must still go offline."""
        if self._needs_schedule and arrivals:
            with acting_for(arrivals[0].source):
                self._schedule_stored()
        for n, arrival in enumerate(arrivals, start=1):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            hearing = self._gaps_heard_by.get(arrival.topic)
            if hearing:
                at = arrival.event.occurred_at
                dark = self.clocks.dark_before(arrival.topic, arrival.partition, at)
                if dark is not None:
                    with acting_for(arrival.source):
                        await self._hear_gap(hearing, arrival, dark)
            self.clocks.observe(
                arrival.topic,
                arrival.partition,
                arrival.event.occurred_at,
                arrival.source,
                arrival.clock_partition,
            )
            if self._due(arrival.partition):
                await self._advance(arrival.partition)
            rules = self._by_input.get(type(arrival.event))
            if rules:
                with acting_for(arrival.source):
                    for rule in rules:
                        await self._apply(rule, arrival)
            self.wake_ups.release_held(arrival.partition)

    def trim(self) -> None:
        """After the batch's flush: the caches past their limit restart from RocksDB."""
        for states in self.states.values():
            states.trim()
        self.book_entries.store.trim()

    async def _hear_gap(
        self, rules: Sequence[Rule[Any, Any, Any]], arrival: Arrival, dark: timedelta
    ) -> None:
        """Before the watermark leaps over a stretch in which their input carried nothing,
        absence rules take that stretch off their subjects' silence."""
        partition = arrival.partition
        log.warning(
            "partition %d of %s carried no event for %s: not counted as silence",
            partition,
            arrival.topic,
            dark,
        )
        for rule in rules:
            states = self.states[rule.name]
            for key, state in states.current():
                if state.partition != partition:
                    continue
                config = self.thresholds.config(rule, state.community_id)
                try:
                    quieter = rule.heard_nothing(state, dark, config)
                except Exception as exc:
                    await self._failed(rule, key, exc, arrival.source, f"hearing {dark} dark")
                    continue
                if quieter is None:
                    continue
                quieter.partition = state.partition
                quieter.community_id = state.community_id
                quieter.applied = state.applied
                states.put(key, quieter)
                self._schedule(rule, key, quieter, config)

    def _due(self, partition: int) -> bool:
        """Cheap test before the per-rule watermarks: can any wake-up be due at all?"""
        due = self.wake_ups.next_due(partition)
        horizon = self.clocks.horizon(partition)
        return due is not None and horizon is not None and horizon >= due

    async def _apply(self, rule: Rule[Any, Any, Any], arrival: Arrival) -> None:
        """One rule on one event, isolated: a rule that raises loses this event only, with
        its state as before it, and every other rule and later event goes on."""
        event = arrival.event
        config = self.thresholds.config(rule, event.community_id)
        if not config.enabled:
            return
        key: str | None = None
        try:
            key = rule.key(event, self.reference)
            if key is None:
                return
            caught_up, outcome = self._fold(rule, key, arrival, config)
        except Exception as exc:
            await self._failed(rule, key, exc, arrival.source, "on this event")
            return
        if caught_up is not None:
            await self._publish(caught_up, config.suppress_minutes, event.occurred_at)
        if outcome is not None:
            await self._publish(outcome, config.suppress_minutes, event.received_at, arrival)

    def _fold(
        self, rule: Rule[Any, Any, Any], key: str, arrival: Arrival, config: Any
    ) -> tuple[Outcome[Any] | None, Outcome[Any] | None]:
        """The key's state with the event folded in: what catching up found, then what the
        event did (None when the state had already applied it). Nothing is published here,
        so a rule raising midway leaves no trace but its cached state, which is discarded."""
        event = arrival.event
        states = self.states.get(rule.name)
        state = states.get(key) if states is not None else None
        if state is not None and already_applied(state.applied, arrival.topic, arrival.offset):
            return None, None
        caught_up = None
        if state is not None and rule in self._catching_up:
            caught_up = self._caught_up(rule, key, state, config, event.occurred_at)
            if caught_up is not None:
                state = caught_up.state
        outcome = rule.apply(state, event, config, self.reference)
        if states is not None:
            if outcome.state is not None:
                if state is not None and outcome.state is not state:
                    outcome.state.applied = {**state.applied, **outcome.state.applied}
                outcome.state.applied = applying(
                    outcome.state.applied, arrival.topic, arrival.offset
                )
                outcome.state.partition = arrival.partition
                outcome.state.community_id = event.community_id
            states.put(key, outcome.state)
            if outcome.state is not None and rule in self._absence:
                self._schedule_after_event(rule, key, outcome.state, config)
        return caught_up, outcome

    def _caught_up(
        self, rule: Rule[Any, Any, Any], key: str, state: RuleState, config: Any, now: datetime
    ) -> Outcome[Any] | None:
        """An event proves its key's time has reached `now`: a gap the watermark has not
        reached yet (another input topic lags while catching up on a backlog) still counts."""
        wake = rule.wake_at(state, config)
        if wake is None or wake > now:
            return None
        return self._advanced(rule, key, state, now, config)

    async def _failed(
        self, rule: Rule[Any, Any, Any], key: str | None, exc: Exception, source: EventT, what: str
    ) -> None:
        """Count the failure and dead-letter the message it happened on, with the reason."""
        states = self.states.get(rule.name)
        if states is not None and key is not None:
            states.discard(key)
        self.failures[rule.name] += 1
        message = source.message
        reason = f"rule {rule.name} raised {repr(exc)[:REASON_CHARS]} {what}"
        log.error("%s (%s:%d:%d)", reason, message.topic, message.partition, message.offset)
        PIPELINE_HEALTH.rule_failed(rule.name, reason, utc_now())
        await self._reject(
            DeadLetter.rejected(
                message.topic, message.partition, message.offset, message.key, message.value, reason
            )
        )

    def _advanced(
        self, rule: Rule[Any, Any, Any], key: str, state: RuleState, now: datetime, config: Any
    ) -> Outcome[Any]:
        """`advance`, with the engine's bookkeeping carried over to the new state."""
        outcome = rule.advance(state, key, now, config, self.reference)
        if outcome.state is not None:
            outcome.state.partition = state.partition
            outcome.state.community_id = state.community_id
            outcome.state.applied = state.applied
        return outcome

    async def _publish(
        self,
        outcome: Outcome[Any],
        suppress_minutes: float,
        at: datetime,
        arrival: Arrival | None = None,
    ) -> None:
        if not (outcome.findings or outcome.attachments or outcome.clearances):
            return
        now = utc_now()
        suppress = timedelta(minutes=suppress_minutes)
        alerts: list[Alert | None] = []
        for finding in outcome.findings:
            if self._fresh(finding.alert_type, finding.community_id, finding.subject, arrival):
                alerts.append(self.book.record(finding, at, now, suppress))
        for attachment in outcome.attachments:
            if self._fresh(
                attachment.alert_type, attachment.community_id, attachment.subject, arrival
            ):
                alerts.append(self.book.attach(attachment, at))
        alerts += [self.book.clear(c, at) for c in outcome.clearances]
        for alert in alerts:
            if alert is not None:
                await self._send_alert(alert)

    def _fresh(
        self, alert_type: str, community_id: str, subject: str, arrival: Arrival | None
    ) -> bool:
        if arrival is None:
            return True
        key = self.book.key(alert_type, community_id, subject)
        return self.book_entries.fresh(key, arrival.topic, arrival.offset)

    def watermark(self, rule: Rule[Any, Any, Any], partition: int) -> datetime | None:
        return self.clocks.watermark(self._input_topics[rule.name], partition)

    def _schedule(self, rule: Rule[Any, Any, Any], key: str, state: RuleState, config: Any) -> None:
        wake = rule.wake_at(state, config)
        if wake is not None:
            self.wake_ups.schedule(rule.name, state.partition, key, wake)

    def _schedule_after_event(
        self, rule: Rule[Any, Any, Any], key: str, state: RuleState, config: Any
    ) -> None:
        """A late event (a device's buffered upload) can leave its key's wake-up already
        past. Woken at once, a device whose upload was still being read would go offline
        between two of its own heartbeats; so the wake-up is held (see `WakeUps.hold`)."""
        wake = rule.wake_at(state, config)
        if wake is None:
            return
        horizon = self.clocks.horizon(state.partition)
        if horizon is not None and wake <= horizon:
            watermark = self.watermark(rule, state.partition)
            if watermark is not None and wake <= watermark:
                self.wake_ups.hold(rule.name, state.partition, key, wake)
                return
        self.wake_ups.schedule(rule.name, state.partition, key, wake)

    def _schedule_stored(self) -> None:
        """After (re)assignment the tables hold states whose wake-ups nobody scheduled, and
        the latest events they heard, where each partition's clock resumes."""
        self._needs_schedule = False
        for rule in self._absence:
            hears_gaps = rule in self._hearing_gaps
            for key, state in self.states[rule.name].stored():
                config = self.thresholds.config(rule, state.community_id)
                self._schedule(rule, key, state, config)
                heard = rule.last_heard(state) if hears_gaps else None
                if heard is not None:
                    topic = self._input_topics[rule.name][0]
                    self.clocks.heard_until(topic, state.partition, heard)

    async def _advance(self, partition: int) -> None:
        for rule in self._absence:
            watermark = self.watermark(rule, partition)
            if watermark is None:
                continue
            due = self.wake_ups.pop_due(rule.name, partition, watermark)
            if not due:
                continue
            source = self.clocks.last_source(partition)
            with acting_for(source):
                for _, key in due:
                    await self._wake(rule, key, watermark, source)

    async def _wake(
        self, rule: Rule[Any, Any, Any], key: str, watermark: datetime, source: EventT
    ) -> None:
        """A failing rule is isolated as in `_apply`; the event whose arrival moved the
        watermark is the one dead-lettered, and the key waits for its next event."""
        states = self.states[rule.name]
        state = states.get(key)
        if state is None:
            return
        config = self.thresholds.config(rule, state.community_id)
        try:
            wake = rule.wake_at(state, config)
            if wake is not None and wake > watermark:
                self._schedule(rule, key, state, config)
                return
            outcome = self._advanced(rule, key, state, watermark, config)
            later = None if outcome.state is None else rule.wake_at(outcome.state, config)
        except Exception as exc:
            await self._failed(rule, key, exc, source, f"advancing {key} to {watermark}")
            return
        states.put(key, outcome.state)
        if outcome.state is not None:
            if later is not None and later <= watermark:
                log.error("%s did not move %s's wake-up past the watermark", rule.name, key)
            else:
                self._schedule(rule, key, outcome.state, config)
        await self._publish(outcome, config.suppress_minutes, watermark + self.clocks.lateness)


def _has_wakeups(rule: Rule[Any, Any, Any]) -> bool:
    return type(rule).wake_at is not Rule.wake_at

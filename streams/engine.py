"""The rule engine: runs rule modules over batches of decoded events with durable state.

Each stateful rule keeps its state in a RocksDB-backed Faust table whose changelog topic
is co-partitioned with the stream it runs on, so a restarted worker (or the worker that
takes over a partition) recovers the state. Events are folded in per key; a state that
has already seen an event's offset skips it, so a replay after a crash changes nothing.

Absence rules (a device that went silent) advance on the stream's event-time watermark
per partition: the latest `occurred_at` seen on every input topic of the rule, minus the
allowed lateness. Nothing here reads the wall clock, so a replay raises the same alerts.

A partition whose events jump ahead by more than the stream gap carried nothing at all in
between: the platform, not its devices, was dark (ingest down, network cut, everything
restarted). Absence rules are told (`heard_nothing`) before the watermark leaps, so that
silence is not counted against each subject. After a (re)assignment the partition's clock
starts from the latest event its rule states have heard (`last_heard`), so a gap across a
worker restart is recognised too.
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
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
from streams.faust_internals import acting_for, changelog_topic_name, write_changelog_first
from streams.rules.rule import Keying, Outcome, Reference, Rule, RuleState
from streams.staged_writes import StagedWrites

log = logging.getLogger(__name__)

SendAlert = Callable[[Alert], Awaitable[None]]
Reject = Callable[[DeadLetter], Awaitable[None]]
REASON_CHARS = 500
"""An exception's repr in a dead letter's reason is cut here: a message can be any size."""
STATE_CACHE_LIMIT = 200_000
"""Decoded states kept in memory per rule; past this the cache restarts from RocksDB."""


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


class BookEntries:
    """The alert book's store: alerts as JSON in a Faust table, decoded ones cached.

    Each entry also remembers the last offset per source topic that touched it, so a
    replayed event cannot count twice on an alert (stateless rules have no state to
    remember it in).
    """

    def __init__(self, table: faust.Table, changelog: StagedWrites) -> None:
        self._table = table
        self._changelog = changelog
        self._cache: dict[str, tuple[Alert, dict[str, int]]] = {}
        self._source: tuple[str, str, int] | None = None

    def fresh(self, key: str, topic: str, offset: int) -> bool:
        """False if an event at this offset already touched the entry; else it is the source
        of the entry's next write (when the book writes it at all: a suppressed finding does
        not, and its offset must not stick to the next entry written, e.g. an officer's)."""
        entry = self._entry(key)
        if entry is not None and entry[1].get(topic, -1) >= offset:
            return False
        self._source = (key, topic, offset)
        return True

    def get(self, key: str) -> Alert | None:
        entry = self._entry(key)
        return None if entry is None else entry[0]

    def __setitem__(self, key: str, alert: Alert) -> None:
        entry = self._entry(key)
        applied = dict(entry[1]) if entry is not None else {}
        if self._source is not None and self._source[0] == key:
            applied[self._source[1]] = self._source[2]
        self._source = None
        self._cache[key] = (alert, applied)
        value = orjson.dumps({"alert": alert.model_dump(), "applied": applied})
        write_changelog_first(self._table, self._changelog, key.encode(), value)

    def _entry(self, key: str) -> tuple[Alert, dict[str, int]] | None:
        entry = self._cache.get(key)
        if entry is None:
            raw = self._table.get(key.encode())
            if raw is not None:
                stored = orjson.loads(raw)
                entry = (Alert.model_validate(stored["alert"]), stored["applied"])
                self._cache[key] = entry
        return entry

    def forget(self) -> None:
        self._cache.clear()

    def trim(self) -> None:
        """Between batches (nothing staged), the cache may restart from RocksDB."""
        if len(self._cache) > STATE_CACHE_LIMIT:
            self._cache.clear()


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


class RuleStates:
    """One rule's states: decoded cache in front of the RocksDB-backed table."""

    def __init__(
        self,
        rule: Rule[Any, Any, Any],
        table: faust.Table,
        changelog: StagedWrites,
        max_bytes: int,
    ) -> None:
        assert rule.State is not None
        self._rule = rule
        self._state_type = rule.State
        self._max_bytes = max_bytes
        self.table = table
        self._changelog = changelog
        self._cache: dict[str, RuleState | None] = {}
        self._written: dict[str, bytes | None] = {}
        """Writes staged and not yet in RocksDB (another agent's flush may store them at any
        await): what a key goes back to when a rule fails on it."""

    def get(self, key: str) -> RuleState | None:
        if key in self._cache:
            return self._cache[key]
        raw = self.table.get(key.encode())
        state = None if raw is None else self._state_type.model_validate_json(raw)
        self._cache[key] = state
        return state

    def put(self, key: str, state: RuleState | None) -> None:
        existed = self.get(key) is not None
        value = None
        if state is not None:
            state, value = capped(self._rule, state, self._max_bytes)
        self._cache[key] = state
        if value is not None or existed:
            self._written[key] = value
            write_changelog_first(
                self.table, self._changelog, key.encode(), value, self._stored(key, value)
            )

    def _stored(self, key: str, value: bytes | None) -> Callable[[], None]:
        def stored() -> None:
            if key in self._written and self._written[key] is value:
                del self._written[key]

        return stored

    def discard(self, key: str) -> None:
        """Undo whatever a failed rule did to the key's cached state (rules may change it in
        place before raising): back to its last write, or to what RocksDB holds."""
        if key not in self._written:
            self._cache.pop(key, None)
            return
        value = self._written[key]
        self._cache[key] = None if value is None else self._state_type.model_validate_json(value)

    def trim(self) -> None:
        """Between batches (nothing staged), the cache may restart from RocksDB."""
        if len(self._cache) > STATE_CACHE_LIMIT:
            self._cache.clear()

    def stored(self) -> Iterator[tuple[str, RuleState]]:
        for raw_key, raw in self.table.items():
            if raw is not None:
                yield raw_key.decode(), self._state_type.model_validate_json(raw)

    def current(self) -> Iterator[tuple[str, RuleState]]:
        """Every state, including writes of this batch not yet in RocksDB."""
        cached = list(self._cache.items())
        for key, state in cached:
            if state is not None:
                yield key, state
        known = {key for key, _ in cached}
        for key, state in self.stored():
            if key not in known:
                yield key, state

    def forget(self) -> None:
        self._cache.clear()
        self._written.clear()


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
        self.lateness = lateness
        self.stream_gap = stream_gap
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
        self._heard: dict[int, datetime] = {}
        """Per partition, the latest event time the stream carried (for rules hearing gaps)."""
        self._input_topics = {
            r.name: [topic_of[kind] for kind in r.inputs if kind in topic_of] for r in self.rules
        }
        self.changelog = changelog
        self.book_entries = BookEntries(_table(app, book_table_name(keying)), changelog)
        self.book = AlertBook(
            self.book_entries,  # type: ignore[arg-type]
            district_wide=keying is Keying.PLATE,
        )
        self._latest: dict[tuple[str, int], datetime] = {}
        self._newest: dict[int, datetime] = {}
        self._next_due: dict[int, datetime] = {}
        self._last_source: dict[int, EventT] = {}
        self._wakeups: dict[tuple[str, int], list[tuple[datetime, str]]] = defaultdict(list)
        self._scheduled: dict[tuple[str, str], datetime] = {}
        self._needs_schedule = True

    def reassigned(self) -> None:
        """Partitions moved: cached states may belong to another worker now; reload."""
        for states in self.states.values():
            states.forget()
        self.book_entries.forget()
        self._heard.clear()
        self._wakeups.clear()
        self._scheduled.clear()
        self._next_due.clear()
        self._needs_schedule = True

    async def process(self, arrivals: Sequence[Arrival]) -> None:
        """Fold a batch into the rules in order. Before each event, absent things whose time
        has come (by the watermark so far) time out: a batch replayed from a backlog can span
        minutes of event time, and a device silent for six of them must still go offline."""
        if self._needs_schedule and arrivals:
            with acting_for(arrivals[0].source):
                self._schedule_stored()
        for arrival in arrivals:
            if self._hearing_gaps:
                dark = self._silence_before(arrival)
                if dark is not None:
                    with acting_for(arrival.source):
                        await self._hear_gap(arrival, dark)
            self._observe(arrival)
            if self._due(arrival.partition):
                await self._advance(arrival.partition)
            rules = self._by_input.get(type(arrival.event))
            if not rules:
                continue
            with acting_for(arrival.source):
                for rule in rules:
                    await self._apply(rule, arrival)
        await self.changelog.flush()
        for states in self.states.values():
            states.trim()
        self.book_entries.trim()

    def _observe(self, arrival: Arrival) -> None:
        at, partition = arrival.event.occurred_at, arrival.partition
        clock = arrival.partition if arrival.clock_partition is None else arrival.clock_partition
        key = (arrival.topic, clock)
        seen = self._latest.get(key)
        if seen is None or at > seen:
            self._latest[key] = at
        newest = self._newest.get(partition)
        if newest is None or at > newest:
            self._newest[partition] = at
        self._last_source[partition] = arrival.source

    def _silence_before(self, arrival: Arrival) -> timedelta | None:
        """Move the partition's clock to the arrival; the silence before it when longer
        than the stream gap."""
        partition, at = arrival.partition, arrival.event.occurred_at
        latest = self._heard.get(partition)
        if latest is not None and at <= latest:
            return None
        self._heard[partition] = at
        return at - latest if latest is not None and at - latest > self.stream_gap else None

    async def _hear_gap(self, arrival: Arrival, dark: timedelta) -> None:
        """Before the watermark leaps over a stretch in which the stream carried nothing,
        absence rules take that stretch off their subjects' silence."""
        partition = arrival.partition
        log.warning(
            "partition %d of the %s stream carried no event for %s: not counted as silence",
            partition,
            self.keying,
            dark,
        )
        for rule in self._hearing_gaps:
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
        due = self._next_due.get(partition)
        if due is None:
            return False
        if self.global_clock:
            clocks = self._latest.values()
            return len(clocks) >= EVENT_PARTITIONS and min(clocks) - self.lateness >= due
        return self._newest[partition] - self.lateness >= due

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
        if state is not None and state.applied.get(arrival.topic, -1) >= arrival.offset:
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
                outcome.state.applied[arrival.topic] = arrival.offset
                outcome.state.partition = arrival.partition
                outcome.state.community_id = event.community_id
            states.put(key, outcome.state)
            if outcome.state is not None and rule in self._absence:
                self._schedule(rule, key, outcome.state, config)
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
        """The event time up to which every input of `rule` on `partition` has arrived; for
        re-keyed streams, up to which every source partition has."""
        topics = self._input_topics[rule.name]
        if self.global_clock:
            seen = [at for (topic, _), at in self._latest.items() if topic in topics]
            if len(seen) < EVENT_PARTITIONS:
                return None  # a source partition not heard from yet may still be far behind
        else:
            seen = [
                self._latest[(topic, partition)]
                for topic in topics
                if (topic, partition) in self._latest
            ]
        return min(seen) - self.lateness if seen else None

    def _schedule(self, rule: Rule[Any, Any, Any], key: str, state: RuleState, config: Any) -> None:
        wake = rule.wake_at(state, config)
        if wake is None:
            return
        current = self._scheduled.get((rule.name, key))
        if current is not None and current <= wake:
            return
        self._scheduled[(rule.name, key)] = wake
        heapq.heappush(self._wakeups[(rule.name, state.partition)], (wake, key))
        due = self._next_due.get(state.partition)
        if due is None or wake < due:
            self._next_due[state.partition] = wake

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
                    latest = self._heard.get(state.partition, heard)
                    self._heard[state.partition] = max(heard, latest)

    async def _advance(self, partition: int) -> None:
        for rule in self._absence:
            heap = self._wakeups.get((rule.name, partition))
            if not heap:
                continue
            watermark = self.watermark(rule, partition)
            if watermark is None:
                continue
            source = self._last_source[partition]
            while heap and heap[0][0] <= watermark:
                wake, key = heapq.heappop(heap)
                if self._scheduled.get((rule.name, key)) != wake:
                    continue
                del self._scheduled[(rule.name, key)]
                with acting_for(source):
                    await self._wake(rule, key, watermark, source)
        tops = [
            heap[0][0]
            for rule in self._absence
            if (heap := self._wakeups.get((rule.name, partition)))
        ]
        if tops:
            self._next_due[partition] = min(tops)
        else:
            self._next_due.pop(partition, None)

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
        await self._publish(outcome, config.suppress_minutes, watermark + self.lateness)


def _has_wakeups(rule: Rule[Any, Any, Any]) -> bool:
    return type(rule).wake_at is not Rule.wake_at

"""The state layer every stateful stage shares (`streams/state`): the keyed store, the
partition clocks, the wake-ups and the applied offsets.

The store runs on a real Faust table (its in-memory store: no RocksDB or broker needed for
the cache and ordering logic); the changelog is a recorder that acknowledges when told,
which is what the broker's acks=all does for `StagedWrites` in the integration tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import faust
import orjson
import pytest

from schemas.topics import EVENT_PARTITIONS
from streams.faust_internals import acting_for
from streams.state.applied import already_applied, applying
from streams.state.clock import PartitionClocks
from streams.state.store import KeyedStore
from streams.state.timers import WakeUps

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
TELEMETRY, DOORS = "pingan.events.device-telemetry", "pingan.events.door-access"


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


# --- the keyed store -------------------------------------------------------------------------


@dataclass
class Message:
    partition: int


@dataclass
class Source:
    """What `acting_for` needs of an event: the message whose partition takes the writes."""

    message: Message


class Changelog:
    """Records changelog writes; `acknowledge` is the broker taking them (then local)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, int, bytes, bytes | None]] = []
        self._then: list[Callable[[], None]] = []

    def put_state(
        self, topic: str, partition: int, key: bytes, value: bytes | None, then: Callable[[], None]
    ) -> None:
        self.records.append((topic, partition, key, value))
        self._then.append(then)

    def acknowledge(self) -> None:
        then, self._then = self._then, []
        for stored in then:
            stored()


@pytest.fixture
def table() -> faust.Table:
    app = faust.App("unit-state", store="memory://", broker="kafka://127.0.0.1:1")
    return app.Table("notes", default=None, partitions=2, key_type=bytes, value_type=bytes)


def store(table: faust.Table, changelog: Changelog, cache_limit: int = 100) -> KeyedStore[str]:
    return KeyedStore(
        table,
        changelog,  # type: ignore[arg-type]
        decode=bytes.decode,
        encode=str.encode,
        cache_limit=cache_limit,
    )


def test_a_write_is_read_back_at_once_and_reaches_rocksdb_only_after_its_changelog(
    table: faust.Table,
) -> None:
    changelog = Changelog()
    notes = store(table, changelog)
    with acting_for(Source(Message(1))):
        notes.put("door-7", "visitor at 08:01")
    assert notes.get("door-7") == "visitor at 08:01"
    assert changelog.records == [("unit-state-notes-changelog", 1, b"door-7", b"visitor at 08:01")]
    assert table.data.get(b"door-7") is None
    changelog.acknowledge()
    assert table.data.get(b"door-7") == b"visitor at 08:01"


def test_discard_goes_back_to_the_last_write_or_to_what_rocksdb_holds(
    table: faust.Table,
) -> None:
    """A rule may change its state in place before it raises."""
    visitors: KeyedStore[dict] = KeyedStore(
        table,
        Changelog(),  # type: ignore[arg-type]
        decode=orjson.loads,
        encode=orjson.dumps,
    )
    table.data[b"stored"] = b'{"visitors": 1}'
    with acting_for(Source(Message(0))):
        visitors.put("staged", {"visitors": 2})
    for key in ("staged", "stored"):
        state = visitors.get(key)
        assert state is not None
        state["visitors"] = 99
    visitors.discard("staged")
    visitors.discard("stored")
    assert visitors.get("staged") == {"visitors": 2}
    assert visitors.get("stored") == {"visitors": 1}


def test_deleting_writes_a_tombstone_only_for_a_key_that_holds_something(
    table: faust.Table,
) -> None:
    changelog = Changelog()
    notes = store(table, changelog)
    table.data[b"held"] = b"x"
    with acting_for(Source(Message(0))):
        notes.put("never-stored", None)
        notes.put("held", None)
    assert [(key, value) for _, _, key, value in changelog.records] == [(b"held", None)]
    changelog.acknowledge()
    assert b"held" not in table.data
    assert notes.get("held") is None


def test_current_holds_this_batch_writes_before_rocksdb_and_stored_values(
    table: faust.Table,
) -> None:
    notes = store(table, Changelog())
    table.data[b"old"] = b"stored"
    table.data[b"changed"] = b"stored"
    with acting_for(Source(Message(0))):
        notes.put("new", "staged")
        notes.put("changed", "staged")
    assert dict(notes.current()) == {"new": "staged", "changed": "staged", "old": "stored"}
    assert dict(notes.stored()) == {"old": "stored", "changed": "stored"}


def test_after_partitions_move_a_write_on_its_way_to_the_changelog_is_still_read(
    table: faust.Table,
) -> None:
    """A batch may go on folding events after a rebalance at one of its awaits: the key's
    next event must build on the write staged for the one before, not on RocksDB."""
    changelog = Changelog()
    notes = store(table, changelog)
    table.data[b"door-7"] = b"stored"
    table.data[b"door-8"] = b"stored"
    with acting_for(Source(Message(0))):
        notes.put("door-7", "staged")
    notes.get("door-8")
    table.data[b"door-8"] = b"written by the partition's new owner"
    notes.forget()
    assert notes.get("door-7") == "staged"
    assert notes.get("door-8") == "written by the partition's new owner"
    changelog.acknowledge()
    notes.forget()
    table.data[b"door-7"] = b"changed since"
    assert notes.get("door-7") == "changed since"


def test_a_trimmed_cache_reads_rocksdb_again_but_keeps_what_is_staged(
    table: faust.Table,
) -> None:
    changelog = Changelog()
    notes = store(table, changelog, cache_limit=2)
    with acting_for(Source(Message(0))):
        for n in range(3):
            notes.put(f"k{n}", f"v{n}")
    changelog.acknowledge()
    with acting_for(Source(Message(0))):
        notes.put("k1", "staged since")
    table.data[b"k0"] = b"changed underneath"
    notes.trim()
    assert notes.get("k0") == "changed underneath"
    assert notes.get("k1") == "staged since"


# --- the partition clocks ---------------------------------------------------------------------


def test_the_watermark_follows_the_slowest_input_topic_minus_the_lateness() -> None:
    clocks = PartitionClocks(timedelta(seconds=30), timedelta(minutes=3))
    assert clocks.watermark([TELEMETRY, DOORS], 0) is None
    clocks.observe(TELEMETRY, 0, minutes(10), Source(Message(0)))
    clocks.observe(DOORS, 0, minutes(4), Source(Message(0)))
    clocks.observe(DOORS, 1, minutes(30), Source(Message(1)))
    assert clocks.watermark([TELEMETRY, DOORS], 0) == minutes(4) - timedelta(seconds=30)
    assert clocks.watermark([TELEMETRY], 0) == minutes(10) - timedelta(seconds=30)
    assert clocks.horizon(0) == minutes(10) - timedelta(seconds=30)


def test_a_district_wide_clock_waits_for_every_source_partition() -> None:
    clocks = PartitionClocks(timedelta(0), timedelta(minutes=3), district_wide=True)
    for source in range(EVENT_PARTITIONS - 1):
        clocks.observe(TELEMETRY, 0, minutes(10 + source), Source(Message(0)), source)
    assert clocks.watermark([TELEMETRY], 0) is None
    assert clocks.horizon(0) is None
    clocks.observe(TELEMETRY, 0, minutes(5), Source(Message(0)), EVENT_PARTITIONS - 1)
    assert clocks.watermark([TELEMETRY], 0) == minutes(5)
    assert clocks.horizon(0) == minutes(5)


def test_a_jump_over_the_stream_gap_on_one_topic_is_a_dark_stretch() -> None:
    clocks = PartitionClocks(timedelta(0), timedelta(minutes=3))
    assert clocks.dark_before(TELEMETRY, 0, minutes(0)) is None
    assert clocks.dark_before(TELEMETRY, 0, minutes(2)) is None
    assert clocks.dark_before(TELEMETRY, 0, minutes(1)) is None
    assert clocks.dark_before(TELEMETRY, 0, minutes(12)) == timedelta(minutes=10)


def test_another_topic_read_ahead_is_no_dark_stretch() -> None:
    """Each topic has its own agent: door access read minutes ahead of the telemetry, while
    catching up, says nothing of what the telemetry carried in between."""
    clocks = PartitionClocks(timedelta(0), timedelta(minutes=3))
    clocks.dark_before(TELEMETRY, 0, minutes(10))
    assert clocks.dark_before(DOORS, 0, minutes(14)) is None
    assert clocks.dark_before(TELEMETRY, 0, minutes(11)) is None


def test_after_a_reassignment_dark_stretches_are_told_from_what_the_states_heard() -> None:
    clocks = PartitionClocks(timedelta(0), timedelta(minutes=3))
    clocks.dark_before(TELEMETRY, 0, minutes(1))
    clocks.reassigned()
    assert clocks.dark_before(TELEMETRY, 0, minutes(50)) is None
    clocks.reassigned()
    clocks.heard_until(TELEMETRY, 0, minutes(20))
    clocks.heard_until(TELEMETRY, 0, minutes(10))
    assert clocks.dark_before(TELEMETRY, 0, minutes(50)) == timedelta(minutes=30)


# --- wake-ups ---------------------------------------------------------------------------------


def test_a_key_keeps_its_earliest_wake_up_and_is_woken_once() -> None:
    wake_ups = WakeUps()
    wake_ups.schedule("device_offline", 0, "cam-1", minutes(10))
    wake_ups.schedule("device_offline", 0, "cam-1", minutes(20))
    wake_ups.schedule("device_offline", 0, "cam-1", minutes(5))
    assert wake_ups.next_due(0) == minutes(5)
    assert wake_ups.pop_due("device_offline", 0, minutes(4)) == []
    assert wake_ups.pop_due("device_offline", 0, minutes(30)) == [(minutes(5), "cam-1")]
    assert wake_ups.pop_due("device_offline", 0, minutes(30)) == []
    assert wake_ups.next_due(0) is None


def test_wake_ups_are_popped_earliest_first_per_owner_and_partition() -> None:
    wake_ups = WakeUps()
    wake_ups.schedule("device_offline", 0, "cam-2", minutes(7))
    wake_ups.schedule("device_offline", 0, "cam-1", minutes(3))
    wake_ups.schedule("device_offline", 1, "cam-3", minutes(1))
    wake_ups.schedule("parking-ledgers", 0, "c01:鄂A12345", minutes(2))
    assert wake_ups.next_due(0) == minutes(2)
    assert wake_ups.pop_due("device_offline", 0, minutes(10)) == [
        (minutes(3), "cam-1"),
        (minutes(7), "cam-2"),
    ]
    assert wake_ups.next_due(0) == minutes(2)
    assert wake_ups.pop_due("parking-ledgers", 0, minutes(10)) == [(minutes(2), "c01:鄂A12345")]
    assert wake_ups.next_due(0) is None
    assert wake_ups.next_due(1) == minutes(1)
    wake_ups.clear()
    assert wake_ups.next_due(1) is None
    assert wake_ups.pop_due("device_offline", 1, minutes(10)) == []


def test_a_key_woken_may_be_scheduled_again() -> None:
    wake_ups = WakeUps()
    wake_ups.schedule("device_offline", 0, "cam-1", minutes(5))
    wake_ups.pop_due("device_offline", 0, minutes(5))
    wake_ups.schedule("device_offline", 0, "cam-1", minutes(9))
    assert wake_ups.pop_due("device_offline", 0, minutes(9)) == [(minutes(9), "cam-1")]


def test_a_wake_up_held_by_a_late_event_waits_for_an_event_of_another_key() -> None:
    wake_ups = WakeUps()
    wake_ups.schedule("device_offline", 0, "cam-1", minutes(30))
    wake_ups.hold("device_offline", 0, "cam-1", minutes(11))
    wake_ups.release_held(0)
    assert wake_ups.pop_due("device_offline", 0, minutes(40)) == [], "not even the earlier one"
    wake_ups.hold("device_offline", 0, "cam-1", minutes(12))
    wake_ups.release_held(0)
    wake_ups.release_held(1)
    assert wake_ups.next_due(0) is None, "held while the key's own events come"
    wake_ups.release_held(0)
    assert wake_ups.pop_due("device_offline", 0, minutes(40)) == [(minutes(12), "cam-1")]


def test_an_event_on_time_schedules_a_held_key_as_usual() -> None:
    wake_ups = WakeUps()
    wake_ups.hold("device_offline", 0, "cam-1", minutes(11))
    wake_ups.schedule("device_offline", 0, "cam-1", minutes(25))
    wake_ups.release_held(0)
    wake_ups.release_held(0)
    assert wake_ups.pop_due("device_offline", 0, minutes(40)) == [(minutes(25), "cam-1")]
    wake_ups.hold("device_offline", 0, "cam-2", minutes(11))
    wake_ups.clear()
    wake_ups.release_held(0)
    assert wake_ups.next_due(0) is None


# --- applied offsets --------------------------------------------------------------------------


def test_an_offset_at_or_below_the_last_applied_is_skipped_per_topic() -> None:
    applied = applying({}, TELEMETRY, 41)
    assert already_applied(applied, TELEMETRY, 41)
    assert already_applied(applied, TELEMETRY, 7)
    assert not already_applied(applied, TELEMETRY, 42)
    assert not already_applied(applied, DOORS, 0)


def test_applying_leaves_the_cached_mapping_alone_and_never_goes_back() -> None:
    cached = {TELEMETRY: 41}
    assert applying(cached, TELEMETRY, 40) == {TELEMETRY: 41}
    assert applying(cached, DOORS, 3) == {TELEMETRY: 41, DOORS: 3}
    assert cached == {TELEMETRY: 41}

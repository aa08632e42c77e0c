"""Every coupling to Faust's and aiokafka's internals, in one place.

Pingan relies on faust-streaming 0.15.3 (pinned exactly) in ways its public API does not
cover. Each is here, with why, and each has a test that pins the behaviour it works around
or relies on, so that an upgrade shows at once what broke: `tests/unit/test_faust_pins.py`
(every override and private name, and the upstream order worked around),
`tests/integration/test_faust_behaviour.py`, `tests/unit/test_refetching_consumer.py`,
`tests/unit/test_urgent_partitions.py` and `tests/integration/test_urgent_first.py`,
and end to end the restart, kill and scale-out tests:

- **Paused-partition fetches** (`RefetchingConsumer`): records fetched for a partition
  Faust has paused are put back, not skipped.
- **Urgent topics first** (`UrgentFirstConsumer`): fence alarms and SOS readings are handed
  to their agents ahead of the records other topics fetched before them.
- **Recovery order** (`SettledRecovery`): stream partitions resume only once they are
  sought to their committed offsets and the queues are emptied.
- **The current event** (`acting_for`): agents take events in batches, so the table writes
  of one event are pointed at its partition through Faust's private context variable.
- **Changelog-first table writes** (`write_changelog_first`): a table's changelog record is
  sent through our staged producer, and the local store written only once Kafka has it.
- **Changelog names** (`changelog_topic_name`): topics are created up front
  (`topic_allow_declare=False`), so Faust's naming of a table's changelog must be known.

Nothing else in `streams/` imports a private name of Faust or aiokafka
(`tests/unit/test_faust_internals.py` checks).

## Paused-partition fetches

aiokafka's `fetched_records(partitions)` drains every partition when the set it is given is
empty, and faust passes its live set of active partitions, which recovery empties while the
fetch waits. The records then come back for partitions faust has paused; faust's `getmany`
skips them after aiokafka has already moved the fetch position past them. A restarted
worker then never sees its first batch of a partition, its acknowledgements have a hole at
the start and no commit of that partition passes it again. Here such records are put back:
the partition is sought to the first of them, so it is fetched again once resumed.

## Urgent topics first

Faust's fetcher hands out one `getmany` at a time and asks for the next only once every
record of the last is queued for its agent; aiokafka's `fetched_records` hands out what it
buffered partition by partition, in the order the fetches came back. A fence alarm fetched
just after a busy second of passages therefore waited for all of them to be handed out:
in `make bench` at 75% of a worker's capacity that was up to 1.5 s between the broker
having the alarm and its agent getting it, while its rules then took 30 ms. Here each
`getmany` first asks for what the urgent topics' partitions have buffered (without
waiting), and `broker_max_poll_records` keeps every `getmany` small, so an urgent record
waits for at most one of them (docs/upstream/faust-fetch-has-no-topic-priority.md).

## Recovery order

faust-streaming 0.15 ends a recovery by resuming the stream partitions, then seeking them
to their committed offsets, then resuming flow, which empties the stream queues. Messages
fetched in between are either acknowledged and committed during the seek (which then
restores the older offset) or dropped by the emptying after the fetch position has passed
them; either way the consumer's ack bookkeeping is left with a hole no commit can pass,
and a restarted worker stops committing its backlog for good. Here the partitions stay
paused until the seek is done and the queues are emptied, so the first message fetched
is the committed one.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from contextlib import contextmanager
from typing import Any

import faust
from faust.streams import _current_event, current_event
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as kafka_driver
from faust.types import TP, EventT

from streams.staged_writes import StagedWrites

log = logging.getLogger(__name__)


def paused_records(
    records: Mapping[TP, Sequence[Any]], active: Set[TP], buffered: Set[TP]
) -> tuple[dict[TP, Sequence[Any]], dict[TP, int]]:
    """Split a fetch into what faust will deliver and, per paused partition, the first
    offset it would have skipped."""
    kept: dict[TP, Sequence[Any]] = {}
    put_back: dict[TP, int] = {}
    for tp, batch in records.items():
        if tp in active or tp in buffered:
            kept[tp] = batch
        elif batch:
            put_back[tp] = batch[0].offset
    return kept, put_back


class RefetchingConsumer(kafka_driver.Consumer):
    async def _wait_next_records(self, timeout: float) -> Any:
        records, active = await super()._wait_next_records(timeout)
        if not records or active is None:
            return records, active
        kept, put_back = paused_records(records, active, self._buffered_partitions)
        assigned = self.assignment()
        put_back = {tp: offset for tp, offset in put_back.items() if tp in assigned}
        for tp, offset in put_back.items():
            await self.seek(tp, offset)
        if put_back:
            log.info(
                "fetched while paused, refetched on resume: %s",
                ", ".join(f"{tp.topic}:{tp.partition}@{offset}" for tp, offset in put_back.items()),
            )
        return kept, active


def urgent_partitions(active: Set[TP] | None, urgent_topics: Set[str]) -> set[TP]:
    """The active partitions whose records go first; none when Faust asks for everything
    (`None`: a client-only app), as then there is no set to favour within."""
    if not active:
        return set()
    return {tp for tp in active if tp.topic in urgent_topics}


class UrgentFirstConsumer(RefetchingConsumer):
    async def _getmany(self, active_partitions: Set[TP] | None, timeout: float) -> Any:
        urgent = urgent_partitions(active_partitions, self.app.urgent_topics)
        if urgent:
            records = await super()._getmany(urgent, 0.0)
            if records:
                return records
        return await super()._getmany(active_partitions, timeout)


class PinganTransport(kafka_driver.Transport):
    Consumer = UrgentFirstConsumer


class PinganApp(faust.App):
    """A Faust app whose consumer hands out `urgent_topics` first and puts back what a
    paused partition fetched."""

    def __init__(self, *args: Any, urgent_topics: Set[str] = frozenset(), **kwargs: Any) -> None:
        self.urgent_topics = frozenset(urgent_topics)
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return PinganTransport(self.conf.broker_consumer, self)


class SettledRecovery(Recovery):
    """Faust's two ways out of a recovery, with the stream partitions resumed last."""

    async def _resume_streams(self, generation_id: int = 0) -> None:
        await self.app.on_rebalance_complete.send()
        await self._seek_then_resume(generation_id, standbys_ready=True)

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.log.info("Restore complete!")
        await self.app.on_rebalance_complete.send()
        self._set_recovery_ended()
        done = [
            asyncio.ensure_future(
                table.on_recovery_completed(
                    self.actives_for_table[table], self.standbys_for_table[table]
                )
            )
            for table in self.tables.values()
        ]
        if done:
            await asyncio.wait(done)
        standbys_ready = not self.app.assignor.assigned_standbys()
        await self._seek_then_resume(generation_id, standbys_ready=standbys_ready)

    async def _seek_then_resume(self, generation_id: int, standbys_ready: bool) -> None:
        app = self.app
        assignment = app.consumer.assignment()
        if app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        if assignment:
            self.log.info("Seek stream partitions to committed offsets.")
            await self._wait(app.consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
        else:
            self.log.info("Resuming streams with empty assignment")
        self._resume_settled_streams(assignment)
        await app._fetcher.maybe_start()  # type: ignore[attr-defined]
        self.tables.on_actives_ready()
        if standbys_ready:
            self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")

    def _resume_settled_streams(self, assignment: Any) -> None:
        """Flow first (emptying the queues), the stream partitions after it."""
        self.completed.set()
        self.app.flow_control.resume()
        self.app.consumer.resume_flow()
        self.app.consumer.resume_partitions(
            {tp for tp in assignment if not self._is_changelog_tp(tp)}
        )


class SettledTableManager(TableManager):
    """Faust's table manager, recovering with `SettledRecovery`."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SettledRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


def changelog_topic_name(app_id: str, table: str) -> str:
    return f"{app_id}-{table}-changelog"


@contextmanager
def acting_for(source: EventT) -> Iterator[None]:
    """Table writes go to the partition of `source`, as inside Faust's own iteration.

    Agents here take events in batches (one decode, one ClickHouse insert per batch), so
    the engine sets the current event Faust's tables use to pick their partition.
    """
    token = _current_event.set(weakref.ref(source))
    try:
        yield
    finally:
        _current_event.reset(token)


def write_changelog_first(
    table: faust.Table,
    changelog: StagedWrites,
    key: bytes,
    value: bytes | None,
    stored: Callable[[], None] | None = None,
) -> None:
    """Changelog first, local RocksDB once the changelog has it (same partition): a worker
    killed in between never restarts with local state ahead of what Kafka can replay.
    `stored` runs once RocksDB has the value. Runs inside `acting_for` the event the write
    belongs to."""
    source = current_event()
    assert source is not None, "table writes need the event they belong to (acting_for)"

    def store_locally() -> None:
        with acting_for(source):
            if value is None:
                table.data.pop(key, None)
            else:
                table.data[key] = value
        if stored is not None:
            stored()

    topic = table.changelog_topic.get_topic_name()
    changelog.put_state(topic, source.message.partition, key, value, store_locally)

"""Faust's Kafka consumer, without silently skipping the records of a paused partition.

aiokafka's `fetched_records(partitions)` drains every partition when the set it is given is
empty, and faust passes its live set of active partitions, which recovery empties while the
fetch waits. The records then come back for partitions faust has paused; faust's `getmany`
skips them after aiokafka has already moved the fetch position past them. A restarted
worker then never sees its first batch of a partition, its acknowledgements have a hole at
the start and no commit of that partition passes it again. Here such records are put back:
the partition is sought to the first of them, so it is fetched again once resumed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence, Set
from typing import Any

import faust
from faust.transport.drivers import aiokafka as kafka_driver
from faust.types import TP

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


class RefetchingTransport(kafka_driver.Transport):
    Consumer = RefetchingConsumer


class PinganApp(faust.App):
    """A Faust app whose consumer puts back what a paused partition fetched."""

    def _new_transport(self) -> Any:
        return RefetchingTransport(self.conf.broker_consumer, self)

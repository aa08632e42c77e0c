"""How far a consumer group has got: committed offsets against the logs' ends."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, CoordinatorNotAvailableError

from pingan.platform.settings import kafka_security
from schemas.topics import Topic


async def group_offsets(
    bootstrap: str, group: str, topics: Sequence[Topic]
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """(committed offsets of the group, log-end offsets) for the topics' partitions."""
    partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_security())
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **kafka_security())
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        end = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
        await admin.close()
    return {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}, end


def group_lag(bootstrap: str, group: str, topics: Sequence[Topic]) -> int | None:
    """Messages on the topics the group has not committed yet; None while a fresh broker is
    still electing the group's coordinator."""
    try:
        committed, end = asyncio.run(group_offsets(bootstrap, group, topics))
    except (CoordinatorNotAvailableError, CoordinatorLoadInProgressError):
        return None
    return sum(max(0, offset - committed.get(tp, 0)) for tp, offset in end.items())


def committed_total(bootstrap: str, group: str, topics: Sequence[Topic]) -> int:
    committed, _ = asyncio.run(group_offsets(bootstrap, group, topics))
    return sum(committed.values())

"""Faust behaviour Pingan relies on or works around, pinned on a real broker: an upgrade of
faust-streaming that changes it fails here first, naming what to revisit.

`take_events` acknowledges a batch whose handling raised (docs/upstream/
faust-take-events-acks-a-failed-batch.md): the agent restarts past it, and the committed
offset covers events never handled. `streams/steady_batches.py` exists because of it; if
this test fails because Faust stopped doing so, the retry there may be simplified.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.integration.faust_app import first_line_matching

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

APP = """
import faust

app = faust.App("{group}", broker="kafka://{bootstrap}", value_serializer="raw",
                web_enabled=False, topic_allow_declare=False)
topic = app.topic("{topic}", value_type=bytes, partitions=1)
handled = []
failures = 0


@app.agent(topic)
async def handle(stream):
    global failures
    async for events in stream.take_events(10, within=1.0):
        if failures == 0:
            failures += 1
            raise ConnectionError("dependency down")
        handled.extend(int(e.value) for e in events)
        print(f"handled {{sorted(handled)}}", flush=True)


@app.task
async def produce():
    for i in range(20):
        await topic.send(value=str(i).encode())
"""


async def _topic(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


async def _committed(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()


def _handled_after_a_failed_batch(app_dir: Path) -> list[int]:
    """Runs the app until its agent reports a batch handled; the values it handled."""
    found = first_line_matching(app_dir, "take_ack", r"handled \[([\d, ]*)\]")
    return [int(v) for v in found[1].split(",")]


def test_take_events_acknowledges_a_batch_whose_handling_raised(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    topic, group = f"faust-take-ack-{run}", f"faust-take-ack-{run}"
    asyncio.run(_topic(kafka_bootstrap, topic))
    (tmp_path / "take_ack.py").write_text(
        APP.format(group=group, bootstrap=kafka_bootstrap, topic=topic)
    )

    handled = _handled_after_a_failed_batch(tmp_path)

    assert handled == list(range(10, 20)), "the failed batch 0-9 is skipped, not retried"
    committed = asyncio.run(_committed(kafka_bootstrap, group, topic))
    assert committed is not None and committed >= 10, "committed past events never handled"

"""A fence alarm is handed to its agent ahead of the passages fetched before it, on a real
broker (`UrgentFirstConsumer` in `streams/faust_internals.py`).

The app below is the worker's consumer set-up (`PinganApp` with urgent topics and the
worker's poll size) on two topics: a bulk topic filled beforehand, whose agent spends CPU
on each record as rules do, and an urgent topic. On its first batch the bulk agent sends
one urgent record; the urgent agent reports how many bulk records the bulk agent took
while it waited: 0 or 500 here, also with two CPU hogs beside it. With Faust's stock
consumer it was 43,000 of the 60,000: the urgent record waited behind every record fetched
before it. Counted in records, not seconds, so a slow machine slows both sides alike.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.integration.faust_app import first_line_matching

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]
BULK_RECORDS = 60_000
TAKE = 500
MOST_TAKEN_MEANWHILE = 3 * TAKE
"""The urgent record's fetch and one poll of the worker's size ahead of it: a few of the
bulk agent's batches at most, an order of magnitude under a whole fetch of bulk records."""

APP = """
import os
import sys
import time

sys.path.insert(0, {repo!r})

from streams.app import POLL_RECORDS
from streams.faust_internals import PinganApp

app = PinganApp(
    "{group}",
    broker="kafka://{bootstrap}",
    value_serializer="raw",
    web_enabled=False,
    topic_allow_declare=False,
    consumer_auto_offset_reset="earliest",
    broker_max_poll_records=POLL_RECORDS,
    urgent_topics={{"{urgent}"}},
)
bulk = app.topic("{bulk}", value_type=bytes, partitions=1)
urgent = app.topic("{urgent}", value_type=bytes, partitions=1)
taken = 0
taken_when_sent = None


@app.agent(bulk)
async def rules(stream):
    global taken, taken_when_sent
    async for events in stream.take_events({take}, within=0.1):
        taken += len(events)
        if taken_when_sent is None:
            taken_when_sent = taken
            await urgent.send(value=b"fence alarm")
        busy_until = time.perf_counter() + 0.0001 * len(events)
        while time.perf_counter() < busy_until:
            pass


@app.agent(urgent)
async def alarm(stream):
    async for _ in stream:
        print(f"taken meanwhile {{taken - taken_when_sent}}", flush=True)
        os._exit(0)
"""


async def _fill(bootstrap: str, bulk: str, urgent: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=1, replication_factor=1) for name in (bulk, urgent)]
        )
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        for n in range(BULK_RECORDS):
            await producer.send(bulk, f"passage {n:08d}".encode())
        await producer.flush()
    finally:
        await producer.stop()


def _taken_meanwhile(app_dir: Path) -> int:
    return int(first_line_matching(app_dir, "urgent_first", r"taken meanwhile (\d+)")[1])


def test_an_urgent_record_overtakes_the_records_fetched_before_it(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    bulk, urgent = f"urgent-first-bulk-{run}", f"urgent-first-alarm-{run}"
    asyncio.run(_fill(kafka_bootstrap, bulk, urgent))
    (tmp_path / "urgent_first.py").write_text(
        APP.format(
            repo=str(REPO),
            group=f"urgent-first-{run}",
            bootstrap=kafka_bootstrap,
            bulk=bulk,
            urgent=urgent,
            take=TAKE,
        )
    )

    taken = _taken_meanwhile(tmp_path)

    assert taken <= MOST_TAKEN_MEANWHILE, f"{taken} bulk records went ahead of the urgent one"

"""faust-streaming with nothing to do: agents take the event topics in batches and drop
them, with offsets committed as the worker commits them. No decode, no rules, no
state, no ClickHouse. Its events/s is the ceiling of any worker built on Faust on this
machine, which `make bench` prints next to the raw baseline (`faust floor / baseline`).

Run by `bench.pipeline` as `python -m bench.faust_floor worker`, with KAFKA_BOOTSTRAP,
FLOOR_GROUP and FLOOR_DATA_DIR set.
"""

from __future__ import annotations

import os

import faust

from pingan.platform.settings import Settings
from schemas.topics import EVENT_TOPICS

settings = Settings()
app = faust.App(
    os.environ["FLOOR_GROUP"],
    broker=f"kafka://{settings.bootstrap}",
    key_serializer="raw",
    value_serializer="raw",
    topic_allow_declare=False,
    topic_disable_leader=True,
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=1.0,
    store="memory://",
    datadir=os.environ["FLOOR_DATA_DIR"],
    web_enabled=False,
)


TAKE = 1000
"""Below Faust's stream buffer (`stream_buffer_maxsize`, 4,096): a larger take could never
fill from a backlog and would wait out `within` every time, measuring the wait."""


async def drop(stream: faust.StreamT[bytes]) -> None:
    async for _ in stream.take_events(TAKE, within=settings.sink_batch_seconds):
        pass


for spec in EVENT_TOPICS:
    topic = app.topic(spec.name, key_type=bytes, value_type=bytes, partitions=spec.partitions)
    app.agent(topic, name=f"floor-{spec.table}")(drop)

if __name__ == "__main__":
    app.main()

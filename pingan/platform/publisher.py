"""The one producer path into Kafka, shared by the simulator, device adapters and the API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from pingan.platform.settings import kafka_security
from schemas.codec import encode
from schemas.events import Record
from schemas.topics import TOPIC_FOR_RECORD, Topic


class Publisher:
    """Idempotent producer with acks=all: a returned publish is durable in Kafka."""

    def __init__(self, bootstrap: str, linger_ms: int = 5) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            **kafka_security(),
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            max_batch_size=256 * 1024,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def publish(self, record: Record) -> None:
        await self.publish_many([record])

    async def publish_many(self, records: Iterable[Record]) -> int:
        """Send all, then wait for every acknowledgement; aiokafka batches them per partition."""
        futures = [await self._send(record) for record in records]
        await asyncio.gather(*futures)
        return len(futures)

    async def publish_raw(
        self,
        topic: Topic,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        await (await self._producer.send(topic.name, value=value, key=key, headers=headers))

    async def _send(self, record: Record) -> asyncio.Future:
        topic = TOPIC_FOR_RECORD[type(record)]
        key = str(getattr(record, topic.key)).encode()
        return await self._producer.send(topic.name, value=encode(record), key=key)


def publish_now(bootstrap: str, *records: Record) -> None:
    """One-shot commands (keys, thresholds): publish and return once every record is acked.
    Raises aiokafka's KafkaError when the broker cannot take them."""

    async def send() -> None:
        async with Publisher(bootstrap) as publisher:
            await publisher.publish_many(records)

    asyncio.run(send())

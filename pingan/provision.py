"""Start-up provisioning: catalogue topics, ClickHouse tables, reference data."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from ingest.reference import load_communities
from pingan.settings import Settings, get_settings
from pingan.warehouse import Warehouse, migrate
from schemas.topics import ALL_TOPICS, Topic

log = logging.getLogger(__name__)


async def create_topics(
    bootstrap: str, extra: Sequence[Topic] = (), settings: Settings | None = None
) -> list[str]:
    """Create missing catalogue topics (and `extra`, e.g. table changelogs) with partitions,
    retention, and the replication of `settings` (default: this process's); returns those
    created."""
    settings = settings or get_settings()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **settings.kafka_security)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in (*ALL_TOPICS, *extra) if t.name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name=t.name,
                        num_partitions=t.partitions,
                        replication_factor=settings.kafka_replication_factor,
                        topic_configs=t.config()
                        | {"min.insync.replicas": str(settings.kafka_min_insync_replicas)},
                    )
                    for t in missing
                ]
            )
            _raise_refusals(response.topic_errors)
        return [t.name for t in missing]
    finally:
        await admin.close()


class TopicsNotCreated(KafkaError):
    """The cluster refused to create topics (replication above its brokers, no ACL...)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _raise_refusals(topic_errors: Sequence[tuple[Any, ...]]) -> None:
    """aiokafka returns per-topic errors instead of raising them: a refused topic would
    otherwise pass for created, and surface later as a consumer that never gets a message."""
    refused = [
        f"{topic}: {for_code(code).__name__}" + (f" ({rest[0]})" if rest and rest[0] else "")
        for topic, code, *rest in topic_errors
        if code not in (0, TopicAlreadyExistsError.errno)
    ]
    if refused:
        raise TopicsNotCreated("Kafka refused to create topics: " + "; ".join(refused))


def prepare_warehouse(warehouse: Warehouse, settings: Settings) -> list[str]:
    """Apply migrations and reload the communities table; returns migrations applied."""
    applied = migrate(warehouse, settings)
    communities = load_communities()
    warehouse.command("TRUNCATE TABLE communities")
    warehouse.insert(
        "communities",
        pa.Table.from_pylist(
            [c.model_dump() for c in communities], schema=warehouse.arrow_schema("communities")
        ),
    )
    if applied:
        log.info("applied ClickHouse migrations %s", ", ".join(applied))
    return applied

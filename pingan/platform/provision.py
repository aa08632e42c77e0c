"""Start-up provisioning: catalogue topics, ClickHouse tables, reference data."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pyarrow as pa
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from pingan.platform.district import load_communities
from pingan.platform.settings import Settings, get_settings
from pingan.platform.warehouse import Warehouse, migrate
from schemas.topics import ALL_TOPICS, BIOMETRIC_TOPICS, DEAD_LETTERS, Topic

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
                        topic_configs=topic_configs(t, settings),
                    )
                    for t in missing
                ]
            )
            _raise_refusals(response.topic_errors)
        return [t.name for t in missing]
    finally:
        await admin.close()


def kafka_retention(topic: Topic, settings: Settings) -> timedelta | None:
    """Biometric payloads (face captures, searches, and the raw bytes of dead letters) leave
    Kafka no later than PINGAN_BIOMETRIC_TTL_DAYS lets the tables keep them. Compacted
    topics (the gallery, the watchlist) hold current facts, withdrawn by tombstone."""
    if topic.retention is None or not _follows_biometric_ttl(topic):
        return topic.retention
    return min(topic.retention, timedelta(days=settings.biometric_ttl_days))


def _follows_biometric_ttl(topic: Topic) -> bool:
    return not topic.compacted and (topic in BIOMETRIC_TOPICS or topic is DEAD_LETTERS)


def topic_configs(topic: Topic, settings: Settings) -> dict[str, str]:
    """Every topic-level config we set: AlterConfigs replaces the whole set, so it is one."""
    retention = kafka_retention(topic, settings)
    return topic.config() | {
        "retention.ms": "-1" if retention is None else str(int(retention.total_seconds() * 1000)),
        "min.insync.replicas": str(settings.kafka_min_insync_replicas),
    }


async def align_retention(bootstrap: str, settings: Settings | None = None) -> list[str]:
    """Give existing topics whose retention follows a setting the retention it asks for now
    (topics are created once, so a shorter biometric TTL would otherwise never reach Kafka);
    returns the topics changed."""
    settings = settings or get_settings()
    following = [t for t in ALL_TOPICS if _follows_biometric_ttl(t)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **settings.kafka_security)
    await admin.start()
    try:
        wanted = {t.name: topic_configs(t, settings) for t in following}
        current = await _retention_ms(admin, list(wanted))
        stale = [n for n in wanted if n in current and current[n] != wanted[n]["retention.ms"]]
        if stale:
            response = await admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, n, wanted[n]) for n in stale]
            )
            _raise_refusals(
                [(name, code, message) for r in response for code, message, _, name in r.resources],
                "configure",
            )
            await _until_applied(admin, {n: wanted[n]["retention.ms"] for n in stale})
        for name in stale:
            log.info("Kafka retention of %s set to %s ms", name, wanted[name]["retention.ms"])
        return stale
    finally:
        await admin.close()


async def _until_applied(
    admin: AIOKafkaAdminClient, retention_ms: dict[str, str], timeout: float = 30.0
) -> None:
    """A broker answers AlterConfigs before its metadata log has applied the change: wait
    until it reads back, so the caller (and whoever describes the topic next) sees it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while await _retention_ms(admin, list(retention_ms)) != retention_ms:
        if asyncio.get_running_loop().time() > deadline:
            raise TopicsRefused(f"Kafka did not apply retention {retention_ms} in {timeout} s")
        await asyncio.sleep(0.1)


async def _retention_ms(admin: AIOKafkaAdminClient, topics: Sequence[str]) -> dict[str, str]:
    """Each existing topic's retention.ms; topics that do not exist are left out."""
    if not topics:
        return {}
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, {"retention.ms": None}) for name in topics]
    )
    found: dict[str, str] = {}
    for response in responses:
        for code, _, _, name, entries in response.resources:
            values = [value for key, value, *_ in entries if key == "retention.ms"]
            if code == 0 and values:
                found[name] = values[0]
    return found


class TopicsRefused(KafkaError):
    """The cluster refused to create or configure topics (replication above its brokers,
    no ACL...)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _raise_refusals(topic_errors: Sequence[tuple[Any, ...]], action: str = "create") -> None:
    """aiokafka returns per-topic errors instead of raising them: a refused topic would
    otherwise pass for created, and surface later as a consumer that never gets a message."""
    refused = [
        f"{topic}: {for_code(code).__name__}" + (f" ({rest[0]})" if rest and rest[0] else "")
        for topic, code, *rest in topic_errors
        if code not in (0, TopicAlreadyExistsError.errno)
    ]
    if refused:
        raise TopicsRefused(f"Kafka refused to {action} topics: " + "; ".join(refused))


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

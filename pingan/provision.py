"""Start-up provisioning: catalogue topics, ClickHouse tables, reference data."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pyarrow as pa
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ingest.reference import load_communities
from pingan.settings import Settings
from pingan.warehouse import Warehouse, migrate
from schemas.topics import ALL_TOPICS, Topic

log = logging.getLogger(__name__)


async def create_topics(bootstrap: str, extra: Sequence[Topic] = ()) -> list[str]:
    """Create missing catalogue topics (and `extra`, e.g. table changelogs) with partitions
    and retention; returns those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in (*ALL_TOPICS, *extra) if t.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name=t.name,
                        num_partitions=t.partitions,
                        replication_factor=1 if bootstrap.startswith("127.") else -1,
                        topic_configs=t.config(),
                    )
                    for t in missing
                ]
            )
        return [t.name for t in missing]
    finally:
        await admin.close()


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

"""Kafka keeps biometric payloads no longer than the tables do, and follows the setting
when it changes after the topics exist: on a real broker, read back with DescribeConfigs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from pingan.platform.provision import align_retention
from pingan.platform.settings import Settings
from schemas.topics import (
    BIOMETRIC_SEARCHES,
    DEAD_LETTERS,
    FACE_CAPTURES,
    FACE_GALLERY,
    VEHICLE_PASSAGES,
)

DAY_MS = int(timedelta(days=1).total_seconds() * 1000)
FOLLOWING = [DEAD_LETTERS, FACE_CAPTURES, BIOMETRIC_SEARCHES]
WATCHED = [*FOLLOWING, FACE_GALLERY, VEHICLE_PASSAGES]


async def _configs(bootstrap: str) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t.name) for t in WATCHED]
        )
    finally:
        await admin.close()
    return {
        name: {key: value for key, value, *_ in entries}
        for response in responses
        for _, _, _, name, entries in response.resources
    }


def test_a_shorter_biometric_ttl_reaches_the_topics_that_carry_faces(kafka_bootstrap: str) -> None:
    created = asyncio.run(_configs(kafka_bootstrap))
    assert created[DEAD_LETTERS.name]["retention.ms"] == str(30 * DAY_MS)
    assert created[FACE_CAPTURES.name]["retention.ms"] == str(7 * DAY_MS)

    changed = asyncio.run(align_retention(kafka_bootstrap, Settings(biometric_ttl_days=3)))
    assert sorted(changed) == sorted(t.name for t in FOLLOWING)
    after = asyncio.run(_configs(kafka_bootstrap))
    for name in changed:
        assert after[name]["retention.ms"] == str(3 * DAY_MS)
        assert after[name]["cleanup.policy"] == created[name]["cleanup.policy"] == "delete"
        assert after[name]["min.insync.replicas"] == created[name]["min.insync.replicas"]
    assert after[FACE_GALLERY.name] == created[FACE_GALLERY.name], "compacted: tombstones"
    assert after[VEHICLE_PASSAGES.name] == created[VEHICLE_PASSAGES.name]

    assert asyncio.run(align_retention(kafka_bootstrap, Settings(biometric_ttl_days=3))) == []
    restored = asyncio.run(align_retention(kafka_bootstrap, Settings(biometric_ttl_days=90)))
    assert sorted(restored) == sorted(changed)
    assert asyncio.run(_configs(kafka_bootstrap)) == created

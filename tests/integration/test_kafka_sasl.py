"""Kafka with SASL/SCRAM and ACLs, as compose runs it, on the local broker.

The local broker started with PINGAN_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT authenticates
every client and enforces ACLs with the configured user as the only super user. Compose's
own provisioning script (deploy/kafka/acls.sh) then runs against it with the Kafka tools,
and each service user is tried for what it may and may not do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError
from pydantic import SecretStr

from ingest.http.credentials import issue_key
from pingan.platform.provision import TopicsRefused, align_retention, create_topics
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings, get_settings
from pingan.platform.stack import kafka
from pingan.platform.stack.kafka import free_port
from schemas.credentials import CredentialScheme
from schemas.events import AccessMethod, DoorAccess, DoorKind, utc_now
from schemas.topics import DEAD_LETTERS, DOOR_ACCESS, FACE_CAPTURES

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ACL_SCRIPT = REPO / "deploy" / "kafka" / "acls.sh"
SERVICES = ("migrate", "worker", "sink", "api", "ingest", "simulator", "modbus")
PASSWORDS = {service: secrets.token_hex(16) for service in (*SERVICES, "admin")}
JVM_QUICK_START = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto"
"""The tools run for a second each: start fast rather than optimise (24 runs, 2 cores)."""
TOOLS = {"kafka-configs.sh": "kafka.admin.ConfigCommand", "kafka-acls.sh": "kafka.admin.AclCommand"}


def sasl(user: str, password: str | None = None, **fields: object) -> Settings:
    return Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username=user,
        kafka_sasl_password=SecretStr(password or PASSWORDS[user]),
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A fresh SASL broker; its settings are the super user's."""
    settings = sasl(
        "admin",
        data_dir=tmp_path_factory.mktemp("sasl-kafka"),
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
    )
    kafka.up(settings)
    yield settings
    kafka.down(settings)


@pytest.fixture
def acting_as(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Make this process's settings (what every Pingan client reads) those of one user."""

    def act(user: str) -> None:
        monkeypatch.setenv("PINGAN_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
        monkeypatch.setenv("PINGAN_KAFKA_SASL_USERNAME", user)
        monkeypatch.setenv("PINGAN_KAFKA_SASL_PASSWORD", PASSWORDS[user])
        get_settings.cache_clear()

    yield act
    get_settings.cache_clear()


def door_access() -> DoorAccess:
    return DoorAccess(
        event_id=f"d-{secrets.token_hex(8)}",
        community_id="c01",
        occurred_at=utc_now(),
        received_at=utc_now(),
        door_id="u3-1",
        door_kind=DoorKind.UNIT_DOOR,
        method=AccessMethod.CARD,
        granted=True,
    )


async def read_all(bootstrap: str, user: str) -> int:
    """Messages on the door-access topic as `user` reads them."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        **sasl(user).kafka_security,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(DOOR_ACCESS.name, p) for p in range(DOOR_ACCESS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        read = 0
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            batches = await consumer.getmany(*partitions, timeout_ms=500)
            read += sum(len(batch) for batch in batches.values())
        return read
    finally:
        await consumer.stop()


def test_clients_without_the_right_password_are_refused(admin: Settings) -> None:
    bootstrap = admin.local_kafka_bootstrap
    assert asyncio.run(kafka.probe_broker(bootstrap, security=admin.kafka_security))
    assert asyncio.run(kafka.probe_broker(bootstrap, security={})) is None
    wrong = sasl("admin", "not-the-password").kafka_security
    assert asyncio.run(kafka.probe_broker(bootstrap, security=wrong)) is None


def test_topics_take_the_replication_settings(admin: Settings) -> None:
    bootstrap = admin.local_kafka_bootstrap
    asyncio.run(create_topics(bootstrap, settings=admin))

    async def described() -> dict[str, str]:
        client = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **admin.kafka_security)
        await client.start()
        try:
            resource = ConfigResource(ConfigResourceType.TOPIC, DOOR_ACCESS.name)
            [answer] = await client.describe_configs([resource])
            [(_, _, _, _, entries)] = answer.resources
            return {entry[0]: entry[1] for entry in entries}
        finally:
            await client.close()

    assert asyncio.run(described())["min.insync.replicas"] == "1"


def test_a_replication_the_cluster_cannot_give_is_refused_clearly(admin: Settings) -> None:
    three = sasl("admin", kafka_replication_factor=3, kafka_min_insync_replicas=2)
    extra = [dataclasses.replace(DOOR_ACCESS, name="pingan.events.replicated")]
    with pytest.raises(TopicsRefused) as refused:
        asyncio.run(create_topics(admin.local_kafka_bootstrap, extra, settings=three))
    assert str(refused.value).startswith(
        "Kafka refused to create topics: pingan.events.replicated: InvalidReplicationFactorError"
    )


@pytest.fixture(scope="module")
def provisioned(admin: Settings, tmp_path_factory: pytest.TempPathFactory) -> str:
    """deploy/kafka/acls.sh run as compose's kafka-init runs it, with the Kafka jars' tools."""
    libs = kafka.ensure_jars(admin)
    tools = tmp_path_factory.mktemp("kafka-bin")
    for script, main_class in TOOLS.items():
        path = tools / script
        command = f'exec java {JVM_QUICK_START} -cp "{libs}/*" {main_class} "$@"'
        path.write_text(f"#!/bin/sh\n{command}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    bootstrap = admin.local_kafka_bootstrap
    asyncio.run(create_topics(bootstrap, settings=admin))
    env = {
        "PATH": os.environ["PATH"],
        "KAFKA_BIN": str(tools),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_ADMIN_PASSWORD": PASSWORDS["admin"],
        "PINGAN_WORKER_ID": "pingan-worker",
        "PINGAN_MODBUS_POLLER_ID": "modbus",
    } | {f"PINGAN_KAFKA_{s.upper()}_PASSWORD": PASSWORDS[s] for s in SERVICES}
    done = subprocess.run(
        ["sh", str(ACL_SCRIPT)], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout.strip().endswith("kafka users and ACLs are up to date")
    return bootstrap


async def publish(bootstrap: str, *records: object) -> None:
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(records)  # type: ignore[arg-type]


def test_the_simulator_writes_events_but_no_device_keys_and_reads_nothing(
    provisioned: str, acting_as: object
) -> None:
    acting_as("simulator")  # type: ignore[operator]
    asyncio.run(publish(provisioned, door_access()))
    key = issue_key("door-1", CredentialScheme.BEARER, "test", utc_now())
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(publish(provisioned, key.credential))
    with pytest.raises(KafkaError):
        asyncio.run(read_all(provisioned, "simulator"))


def test_the_webhooks_write_events_and_device_keys(provisioned: str, acting_as: object) -> None:
    acting_as("ingest")  # type: ignore[operator]
    key = issue_key("door-1", CredentialScheme.BEARER, "test", utc_now())
    asyncio.run(publish(provisioned, door_access(), key.credential))


def test_the_worker_reads_events_but_may_not_forge_device_keys(
    provisioned: str, acting_as: object
) -> None:
    acting_as("worker")  # type: ignore[operator]
    assert asyncio.run(read_all(provisioned, "worker")) >= 1
    key = issue_key("door-1", CredentialScheme.BEARER, "test", utc_now())
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(publish(provisioned, key.credential))


def test_the_sink_reads_events_and_writes_only_dead_letters_and_alerts(
    provisioned: str, acting_as: object
) -> None:
    acting_as("sink")  # type: ignore[operator]
    assert asyncio.run(read_all(provisioned, "sink")) >= 1
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(publish(provisioned, door_access()))


def test_only_migrate_creates_topics(provisioned: str, admin: Settings) -> None:
    extra = [dataclasses.replace(DOOR_ACCESS, name="pingan.events.extra")]
    with pytest.raises(TopicsRefused, match="TopicAuthorizationFailedError"):
        asyncio.run(create_topics(provisioned, extra, settings=sasl("worker")))
    created = asyncio.run(create_topics(provisioned, extra, settings=sasl("migrate")))
    assert created == ["pingan.events.extra"]


def test_migrate_follows_the_biometric_ttl_and_the_worker_leaves_it(provisioned: str) -> None:
    """The worker may not read or change topic configs: its start-up alignment is a no-op,
    and `pingan migrate`, run as migrate, applies a shorter TTL to the biometric topics."""
    shorter = {"biometric_ttl_days": 2}
    assert asyncio.run(align_retention(provisioned, sasl("worker", **shorter))) == []
    changed = asyncio.run(align_retention(provisioned, sasl("migrate", **shorter)))
    assert DEAD_LETTERS.name in changed and FACE_CAPTURES.name in changed

"""The local Kafka stack against a real KRaft broker on free ports in a temp data dir."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pingan.platform.settings import Settings
from pingan.platform.stack import kafka

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "kafka_port": _free_port(),
        "kafka_controller_port": _free_port(),
        "kafka_bootstrap": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _settings(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="module")
def bootstrap(settings: Settings) -> Iterator[str]:
    try:
        started = kafka.up(settings)
    except kafka.MissingPrerequisite as exc:
        pytest.skip(str(exc))
    try:
        yield started
    finally:
        kafka.down(settings)


def test_up_returns_a_bootstrap_that_answers(settings: Settings, bootstrap: str) -> None:
    assert bootstrap == f"127.0.0.1:{settings.kafka_port}"
    cluster_id = asyncio.run(kafka.probe_broker(bootstrap))
    meta = (settings.data_dir / "kafka" / "logs" / "meta.properties").read_text()
    assert cluster_id
    assert f"cluster.id={cluster_id}" in meta
    kafka.wait_for_broker(bootstrap, timeout=5)


def test_second_up_is_idempotent(settings: Settings, bootstrap: str) -> None:
    pid = kafka.status(settings)["pid"]
    started = time.monotonic()
    assert kafka.up(settings) == bootstrap
    assert time.monotonic() - started < 5
    assert kafka.status(settings)["pid"] == pid


def test_status_reports_running(settings: Settings, bootstrap: str) -> None:
    info = kafka.status(settings)
    assert info["running"] is True
    assert info["answers"] is True
    assert info["bootstrap"] == bootstrap
    assert isinstance(info["pid"], int)
    assert Path(info["log"]).is_file()


def test_external_bootstrap_is_only_waited_for(tmp_path: Path, bootstrap: str) -> None:
    external = _settings(tmp_path, kafka_bootstrap=bootstrap)
    assert kafka.up(external, timeout=10) == bootstrap
    assert not (tmp_path / "kafka").exists()
    assert kafka.status(external)["answers"] is True


async def test_produce_consume_round_trip(bootstrap: str) -> None:
    topic = f"stack-test-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    sent = [f"event-{i}".encode() for i in range(10)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in sent:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{topic}-group",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            async for message in consumer:
                received.append(message.value)
                if len(received) == len(sent):
                    break
        await consumer.commit()
    finally:
        await consumer.stop()
    assert received == sent


def test_down_stops_the_broker(settings: Settings, bootstrap: str) -> None:
    pid = kafka.status(settings)["pid"]
    kafka.down(settings)
    info = kafka.status(settings)
    assert info["running"] is False
    assert info["pid"] is None
    assert info["answers"] is False
    assert not (settings.data_dir / "kafka" / "broker.pid").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    kafka.down(settings)


def test_wait_for_broker_times_out_when_nothing_listens() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        kafka.wait_for_broker(f"127.0.0.1:{_free_port()}", timeout=1)
    assert time.monotonic() - started < 5


def test_up_refuses_a_port_taken_by_another_process(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = _settings(tmp_path, kafka_port=squatter.getsockname()[1])
        with pytest.raises(kafka.BrokerError, match="in use"):
            kafka.up(taken, timeout=5)
    assert kafka.status(taken)["running"] is False

"""The sink never gets stuck and never loses a row, on real Kafka + chDB: a poison message
is dead-lettered while the rest are stored, a refused insert is dead-lettered, a transient
one retried, a lasting one alerts and turns /healthz unhealthy, and a crash between the
parts of one insert leaves every row stored exactly once."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from functools import partial

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from pingan.platform.publisher import Publisher
from pingan.platform.warehouse_faults import CRASH_EXIT_CODE
from schemas.events import VehiclePassage, utc_now
from schemas.topics import ALERTS, DEAD_LETTERS, VEHICLE_PASSAGES
from tests.conftest import CATCH_UP_AFTER_SIGKILL_S, WorkerProcess, eventually, group_caught_up
from tests.integration.flaky_stage_worker import FLAKY_FAILURES, FLAKY_MARK
from tests.integration.test_pipeline import _group, _query, passage, unique_plate

pytestmark = pytest.mark.integration

FAULT = "PINGAN_TEST_WAREHOUSE_FAULT"


POISONS = {
    "schema_version": 70000,
    "occurred_at": "0001-01-01T00:00:00+14:00",
}
"""Valid JSON with every field present: a UInt16 cannot hold 70000, and the timestamp is
before year 1 once in UTC (it crashed the batch's agent, and Faust went on past it)."""


@pytest.mark.parametrize("field", sorted(POISONS))
def test_a_poison_passage_is_dead_lettered_and_the_rest_are_stored(
    worker_process: WorkerProcess, kafka_bootstrap: str, field: str
) -> None:
    run = uuid.uuid4().hex[:8]
    good = _passages(run, 120)
    poison = passage(unique_plate(), event_id=f"{run}-poison").model_dump(mode="json")
    poison[field] = POISONS[field]
    raw_poison = orjson.dumps(poison)
    asyncio.run(_publish(kafka_bootstrap, good[:60], [raw_poison], good[60:]))

    worker_process.start()
    _wait_caught_up(worker_process, kafka_bootstrap)
    worker_process.stop()

    assert _stored(worker_process, run) == {"n": len(good), "distinct_ids": len(good)}
    (dead,) = _dead_letters(worker_process, run)
    assert dead["raw_hex"] == raw_poison.hex().upper()
    assert field in dead["reason"]


def test_rows_clickhouse_refuses_are_dead_lettered_and_the_rest_stored(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    run = uuid.uuid4().hex[:8]
    good = _passages(run, 40)
    refused = passage(unique_plate(), event_id=f"{run}-refused")
    worker_process.env[FAULT] = f"reject:vehicle_passages:{run}-refused"
    asyncio.run(_publish(kafka_bootstrap, good[:20], [_raw(refused)], good[20:]))

    worker_process.start()
    _wait_caught_up(worker_process, kafka_bootstrap)
    worker_process.stop()

    assert _stored(worker_process, run) == {"n": len(good), "distinct_ids": len(good)}
    (dead,) = _dead_letters(worker_process, run)
    assert dead["raw_hex"] == _raw(refused).hex().upper()
    assert "ClickHouse refused the row" in dead["reason"]
    assert "Code: 53" in dead["reason"]


def test_a_transient_insert_error_is_retried_and_the_rows_stored(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    run = uuid.uuid4().hex[:8]
    good = _passages(run, 30)
    worker_process.env[FAULT] = "transient:vehicle_passages:3"
    asyncio.run(_publish(kafka_bootstrap, good))

    worker_process.start()
    _wait_caught_up(worker_process, kafka_bootstrap)
    worker_process.stop()

    assert _stored(worker_process, run) == {"n": len(good), "distinct_ids": len(good)}
    assert _dead_letters(worker_process, run) == []
    assert "insert into vehicle_passages failed, retrying" in worker_process.log_path.read_text()


def test_a_batch_whose_handling_raises_is_retried_not_committed(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    """Faust acknowledges a batch when its agent raises; before the retry, the batch with the
    marked passage was committed and its passages were neither stored nor dead-lettered."""
    worker_process.command = ["-m", "tests.integration.flaky_stage_worker"]
    run = uuid.uuid4().hex[:8]
    good = _passages(run, 30)
    good[10] = passage(unique_plate(), event_id=f"{run}{FLAKY_MARK}10")
    asyncio.run(_publish(kafka_bootstrap, good))

    worker_process.start()
    _wait_caught_up(worker_process, kafka_bootstrap)
    worker_process.stop()

    assert _stored(worker_process, run) == {"n": len(good), "distinct_ids": len(good)}
    assert _dead_letters(worker_process, run) == []
    log = worker_process.log_path.read_text()
    assert log.count(f"a batch of {VEHICLE_PASSAGES.name} failed, retrying") == FLAKY_FAILURES


def test_a_lasting_insert_error_alerts_and_turns_health_red(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    run = uuid.uuid4().hex[:8]
    worker_process.env[FAULT] = "transient:vehicle_passages:always"
    worker_process.env["PINGAN_SINK_STALL_MINUTES"] = "0.05"
    worker_process.start()
    asyncio.run(_publish(kafka_bootstrap, _passages(run, 5)))

    health = eventually(partial(_unhealthy, worker_process), timeout=60)
    assert health["status"] == "stalled"
    assert any(VEHICLE_PASSAGES.name in reason for reason in health["reasons"])
    assert any("Too many parts" in reason for reason in health["reasons"])
    alert = asyncio.run(_stall_alert(kafka_bootstrap))
    assert alert["severity"] == "high"
    assert alert["subject_kind"] == "pipeline"
    assert VEHICLE_PASSAGES.name in alert["explanation"]
    assert "Too many parts" in alert["explanation"]
    assert VEHICLE_PASSAGES.name in alert["explanation_zh"]
    assert "数据管道停滞" in alert["explanation_zh"]
    worker_process.kill()


def test_a_crash_between_the_parts_of_an_insert_loses_and_doubles_nothing(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    """Passages of two months in one batch make two parts; the fault exits the worker after
    the first. The restarted worker must write the second and not the first again."""
    run = uuid.uuid4().hex[:8]
    last_month = utc_now() - timedelta(days=40)
    passages = [
        passage(
            unique_plate(),
            event_id=f"{run}-{i}",
            **({"occurred_at": last_month} if i % 2 else {}),
        )
        for i in range(200)
    ]
    worker_process.env[FAULT] = "crash-between-parts:vehicle_passages"
    worker_process.start()
    asyncio.run(_publish(kafka_bootstrap, passages))
    assert worker_process.process is not None
    assert worker_process.process.wait(timeout=120) == CRASH_EXIT_CODE
    crashed_with = _stored(worker_process, run)["n"]
    assert 0 < crashed_with < len(passages), "the crash did not fall between two parts"

    del worker_process.env[FAULT]
    worker_process.start(timeout=CATCH_UP_AFTER_SIGKILL_S)
    _wait_caught_up(worker_process, kafka_bootstrap, CATCH_UP_AFTER_SIGKILL_S)
    worker_process.stop()

    assert _stored(worker_process, run) == {"n": len(passages), "distinct_ids": len(passages)}
    final = _query(
        worker_process,
        "SELECT count() AS n FROM vehicle_passages FINAL WHERE startsWith(event_id, {p:String})",
        {"p": f"{run}-"},
    )[0]["n"]
    assert final == len(passages)


def _passages(run: str, count: int) -> list[VehiclePassage]:
    return [passage(unique_plate(), event_id=f"{run}-{i}") for i in range(count)]


def _raw(record: VehiclePassage) -> bytes:
    return orjson.dumps(record.model_dump(mode="json"))


async def _publish(bootstrap: str, *parts: list) -> None:
    """Records and raw values, in order, on the passages topic."""
    async with Publisher(bootstrap) as publisher:
        for part in parts:
            for item in part:
                if isinstance(item, bytes):
                    await publisher.publish_raw(VEHICLE_PASSAGES, b"c07", item)
                else:
                    await publisher.publish(item)


def _wait_caught_up(worker: WorkerProcess, bootstrap: str, timeout: float = 90) -> None:
    topics = [VEHICLE_PASSAGES, DEAD_LETTERS]
    eventually(partial(group_caught_up, bootstrap, _group(worker), topics), timeout)


def _stored(worker: WorkerProcess, run: str) -> dict:
    return _query(
        worker,
        "SELECT count() AS n, uniqExact(event_id) AS distinct_ids FROM vehicle_passages "
        "WHERE startsWith(event_id, {p:String})",
        {"p": f"{run}-"},
    )[0]


def _dead_letters(worker: WorkerProcess, run: str) -> list[dict]:
    """This run's dead letters (the topics hold the module's earlier tests' too)."""
    return _query(
        worker,
        "SELECT reason, hex(raw) AS raw_hex FROM dead_letters FINAL "
        "WHERE source_topic = {t:String} AND position(raw, {run:String}) > 0",
        {"t": VEHICLE_PASSAGES.name, "run": run},
    )


def _unhealthy(worker: WorkerProcess) -> dict | None:
    response = httpx.get(f"http://127.0.0.1:{worker.api_port}/healthz", timeout=5)
    return response.json() if response.status_code == 503 else None


async def _stall_alert(bootstrap: str) -> dict:
    consumer = AIOKafkaConsumer(
        ALERTS.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for message in (m for ms in batches.values() for m in ms):
                alert = orjson.loads(message.value)
                if alert["alert_type"] == "PIPELINE_STALLED":
                    return alert
        raise AssertionError("no PIPELINE_STALLED alert on the alerts topic")
    finally:
        await consumer.stop()

"""A worker that runs rules and sink together (role `all`) raises an alert without waiting
for ClickHouse's batch, and commits an offset only once its row is stored."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from functools import partial

import httpx
import pytest

from graphql_api.access import Role
from graphql_api.tokens import mint_token
from pingan.platform.consumer_groups import committed_total
from pingan.platform.settings import Settings
from schemas.topics import VEHICLE_PASSAGES
from tests.conftest import WorkerProcess, eventually
from tests.integration.test_pipeline import (
    _subscribe_until_alert,
    _watchlisted,
    publish,
    unique_plate,
)

pytestmark = pytest.mark.integration

TABLE_BATCH_SECONDS = 20
"""Far longer than an alert takes, so that the alert is seen while its rows still wait."""


def _stored_passages(worker: WorkerProcess, plate: str) -> int:
    settings = Settings(api_token_secret=worker.env["PINGAN_API_TOKEN_SECRET"])
    token = mint_token(settings, Role.ANALYST, "test-analyst", None, timedelta(hours=1))
    response = httpx.post(
        f"http://127.0.0.1:{worker.sql_port}/",
        params={"param_plate": plate},
        content="SELECT count() FROM pingan.vehicle_passages WHERE plate = {plate:String}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    response.raise_for_status()
    return int(response.text)


def test_an_alert_is_raised_while_its_rows_wait_for_the_tables_batch(
    worker_process: WorkerProcess, kafka_bootstrap: str
) -> None:
    worker_process.env["PINGAN_SINK_BATCH_SECONDS"] = str(TABLE_BATCH_SECONDS)
    worker_process.start()
    group = worker_process.env["PINGAN_WORKER_ID"]
    committed = partial(committed_total, kafka_bootstrap, group, [VEHICLE_PASSAGES])
    plate = unique_plate()
    asyncio.run(publish(kafka_bootstrap, _watchlisted(plate, "wanted")))
    committed_before = committed()

    started = time.monotonic()
    alert = asyncio.run(_subscribe_until_alert(worker_process, kafka_bootstrap, plate))
    alerted_after = time.monotonic() - started
    stored_at_alert = _stored_passages(worker_process, plate)
    committed_at_alert = committed()

    assert alert["subject"] == plate
    assert alerted_after < TABLE_BATCH_SECONDS, "the alert waited for the table's batch"
    assert stored_at_alert == 0, "the passages were stored before their alert was raised"
    assert committed_at_alert == committed_before, "an offset was committed before its row"
    assert eventually(lambda: _stored_passages(worker_process, plate), timeout=120) > 0
    assert eventually(lambda: committed() > committed_before, timeout=30)

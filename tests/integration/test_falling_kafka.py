"""A facade video through the camera loop: throws reach a real Kafka broker as
camera-analytics events with floor, window, trajectory and snapshots, and the sink writes
them, trajectory included, into a real chDB."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from ingest.vision.falling.camera import FacadeCamera, watch_facade
from ingest.vision.falling.synthetic import Drop, Facade, Scene, SceneRenderer
from ingest.vision.falling.video import VideoError
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.warehouse import EmbeddedWarehouse, migrate
from schemas.codec import decode
from schemas.events import CameraAnalytics, CameraAnalyticsKind
from schemas.topics import CAMERA_ANALYTICS
from streams.intake import Intake
from streams.sink import Message, SinkStats, TableSink

STARTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _consume(bootstrap: str, count: int) -> list[Message]:
    consumer = AIOKafkaConsumer(
        CAMERA_ANALYTICS.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        messages: list[Message] = []
        async with asyncio.timeout(30):
            while len(messages) < count:
                for batch in (await consumer.getmany(timeout_ms=1000)).values():
                    messages += [
                        Message(m.topic, m.partition, m.offset, m.key, m.value, {}) for m in batch
                    ]
        return messages
    finally:
        await consumer.stop()


@pytest.fixture(scope="module")
def facade_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scene, Path]:
    scene = Scene(
        facade=Facade(),
        duration_s=7.0,
        seed=9,
        drops=(Drop(release_s=2.0, floor=10, column=4, size_px=3.0, shade=230),),
    )
    return scene, SceneRenderer(scene).write(tmp_path_factory.mktemp("cam") / "facade.avi")


async def test_a_throw_reaches_kafka_and_the_sink_writes_its_trajectory(
    kafka_bootstrap: str, facade_video: tuple[Scene, Path], tmp_path: Path
) -> None:
    scene, video = facade_video
    camera = FacadeCamera("c01-b03-facade", "c01", scene.facade.calibration)
    async with Publisher(kafka_bootstrap) as publisher:
        published = await watch_facade(video, camera, publisher, tmp_path, started_at=STARTED)
    assert published == 1

    (message,) = await _consume(kafka_bootstrap, 1)
    assert message.key == b"c01"
    event = decode(message.value, CameraAnalytics)
    assert event.analytics_kind is CameraAnalyticsKind.HIGH_ALTITUDE_THROW
    assert event.camera_id == "c01-b03-facade"
    assert event.floor == 10
    assert event.window_column == 4
    assert abs(event.occurred_at - (STARTED + timedelta(seconds=2.0))) < timedelta(seconds=0.2)
    assert len(event.trajectory) >= 20
    assert event.trajectory[-1].y > event.trajectory[0].y
    assert len(event.snapshot_refs) == 2
    for ref in event.snapshot_refs:
        assert ref.startswith("snapshots/falling/c01-b03-facade/")
        assert (tmp_path / ref).read_bytes()[:2] == b"\xff\xd8"

    warehouse = EmbeddedWarehouse(tmp_path / "clickhouse", "pingan")
    try:
        migrate(warehouse, Settings(data_dir=tmp_path))

        async def reject(dead_letter: object) -> None:
            raise AssertionError(f"dead-lettered: {dead_letter}")

        intake = Intake(frozenset({"c01"}), timedelta(minutes=5))
        sink = TableSink(warehouse, CAMERA_ANALYTICS, intake, reject, SinkStats())
        assert await sink.write([message]) == 1
        (row,) = warehouse.query(
            "SELECT floor, window_column, trajectory, snapshot_refs FROM camera_analytics"
        )
        assert row["floor"] == 10
        assert row["window_column"] == 4
        assert len(row["trajectory"]) == len(event.trajectory)
        first = event.trajectory[0]
        assert row["trajectory"][0] == pytest.approx([first.t_s, first.x, first.y], abs=1e-3)
    finally:
        warehouse.close()


async def test_a_garbage_stream_fails_before_publishing(kafka_bootstrap: str, tmp_path) -> None:
    garbage = tmp_path / "broken.avi"
    garbage.write_bytes(b"RIFF" + bytes(4000))
    camera = FacadeCamera("c01-b03-facade", "c01", Facade().calibration)
    async with Publisher(kafka_bootstrap) as publisher:
        with pytest.raises(VideoError, match="not a video"):
            await watch_facade(garbage, camera, publisher, tmp_path)

"""Retention follows the settings on a real chDB: a changed TTL reaches tables that exist,
dead letters of biometric topics expire with the biometric TTL, and the worker sweeps
expired crops without waiting for a new one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pingan.platform.settings import Settings
from pingan.platform.warehouse import EmbeddedWarehouse, migrate, sync_retention
from schemas.topics import FACE_CAPTURES, VEHICLE_PASSAGES
from tests.conftest import WorkerProcess, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[EmbeddedWarehouse]:
    warehouse = EmbeddedWarehouse(tmp_path / "clickhouse", "pingan")
    try:
        yield warehouse
    finally:
        warehouse.close()


def _settings(tmp_path: Path, biometric_days: int) -> Settings:
    return Settings(data_dir=tmp_path, biometric_ttl_days=biometric_days)


def _engine(warehouse: EmbeddedWarehouse, table: str) -> str:
    (row,) = warehouse.query(
        "SELECT engine_full FROM system.tables "
        "WHERE database = currentDatabase() AND name = {table:String}",
        {"table": table},
    )
    return str(row["engine_full"])


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _add_captures(warehouse: EmbeddedWarehouse, ages_in_days: dict[str, int]) -> None:
    for event_id, days in ages_in_days.items():
        warehouse.command(
            "INSERT INTO face_captures (event_id, community_id, occurred_at, received_at) "
            "SELECT {id:String}, 'c01', now64(3) - toIntervalDay({days:UInt16}), now64(3)",
            {"id": event_id, "days": days},
        )


def _add_dead_letter(warehouse: EmbeddedWarehouse, topic: str, days: int) -> str:
    letter_id = f"{topic}:0:{days}"
    warehouse.command(
        "INSERT INTO dead_letters (dead_letter_id, source_topic, reason, raw, dead_lettered_at) "
        "SELECT {id:String}, {topic:String}, 'bad', '{}', now64(3) - toIntervalDay({days:UInt16})",
        {"id": letter_id, "topic": topic, "days": days},
    )
    return letter_id


def test_a_shorter_biometric_ttl_reaches_existing_tables(
    warehouse: EmbeddedWarehouse, tmp_path: Path
) -> None:
    migrate(warehouse, _settings(tmp_path, 30))
    _add_captures(warehouse, {"three-days": 3, "ten-days": 10, "twenty-days": 20})
    assert "toIntervalDay(30)" in _engine(warehouse, "face_captures")

    migrate(warehouse, _settings(tmp_path, 7))

    for table in ("face_captures", "face_search_vectors", "biometric_searches"):
        assert "toIntervalDay(7)" in _engine(warehouse, table), table
        assert "toIntervalDay(30)" not in _engine(warehouse, table), table
    assert "toIntervalDay(180)" in _engine(warehouse, "vehicle_passages")
    warehouse.command("OPTIMIZE TABLE face_captures FINAL")
    kept = warehouse.query("SELECT event_id FROM face_captures ORDER BY event_id")
    assert [_text(row["event_id"]) for row in kept] == ["three-days"]


def test_retention_left_as_it_is_changes_nothing(
    warehouse: EmbeddedWarehouse, tmp_path: Path
) -> None:
    """Every table's TTL as ClickHouse spells it matches the migrations' text: a restart
    with the same settings must not rewrite TTLs (each change rereads the table)."""
    migrate(warehouse, _settings(tmp_path, 30))
    assert sync_retention(warehouse, _settings(tmp_path, 30)) == []
    assert sync_retention(warehouse, _settings(tmp_path, 7)) == [
        "biometric_searches",
        "dead_letters",
        "face_captures",
        "face_search_vectors",
    ]
    assert sync_retention(warehouse, _settings(tmp_path, 7)) == []


def test_dead_letters_of_biometric_topics_expire_with_the_biometric_ttl(
    warehouse: EmbeddedWarehouse, tmp_path: Path
) -> None:
    migrate(warehouse, _settings(tmp_path, 7))
    fresh_face = _add_dead_letter(warehouse, FACE_CAPTURES.name, 3)
    _add_dead_letter(warehouse, FACE_CAPTURES.name, 10)
    _add_dead_letter(warehouse, "pingan.watchlist.faces", 10)
    plate_letter = _add_dead_letter(warehouse, VEHICLE_PASSAGES.name, 10)
    _add_dead_letter(warehouse, VEHICLE_PASSAGES.name, 100)

    warehouse.command("OPTIMIZE TABLE dead_letters FINAL")

    kept = warehouse.query("SELECT dead_letter_id FROM dead_letters ORDER BY dead_letter_id")
    assert sorted(_text(row["dead_letter_id"]) for row in kept) == sorted(
        [fresh_face, plate_letter]
    )


def test_the_worker_sweeps_expired_crops_as_it_starts(worker_process: WorkerProcess) -> None:
    crops = worker_process.data_dir / "crops" / "c01"
    expired = crops / "2020-01-01" / "face-old.jpg"
    fresh = crops / "today" / "face-new.jpg"
    for crop in (expired, fresh):
        crop.parent.mkdir(parents=True)
        crop.write_bytes(b"\xff\xd8 jpeg")
    eight_days_ago = expired.stat().st_mtime - 8 * 86_400
    os.utime(expired, (eight_days_ago, eight_days_ago))
    worker_process.env["PINGAN_BIOMETRIC_TTL_DAYS"] = "7"

    worker_process.start()

    eventually(lambda: not expired.exists())
    assert fresh.exists()

"""Crops and snapshots are swept on their TTL by the sweeper alone: no new crop is saved."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pingan.platform.retention import EvidenceSweeper, evidence_retention, sweep, sweep_periodically
from pingan.platform.settings import Settings

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _file(data_dir: Path, ref: str, age: timedelta) -> Path:
    path = data_dir / ref
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8 jpeg")
    stamp = (NOW - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, biometric_ttl_days=7, movement_ttl_days=30)


def test_one_sweep_removes_what_is_past_its_ttl_and_keeps_the_rest(tmp_path: Path) -> None:
    old_crop = _file(tmp_path, "crops/c01/2026-05-20/face-a.jpg", timedelta(days=8))
    new_crop = _file(tmp_path, "crops/c01/2026-05-30/face-b.jpg", timedelta(days=6))
    old_snapshot = _file(tmp_path, "snapshots/falling/cam-1/t-0.jpg", timedelta(days=31))
    snapshot_as_old_as_a_crop = _file(
        tmp_path, "snapshots/falling/cam-1/t-1.jpg", timedelta(days=8)
    )
    outside = _file(tmp_path, "logs/run.log", timedelta(days=400))

    removed = asyncio.run(sweep(EvidenceSweeper(evidence_retention(_settings(tmp_path))), NOW))

    assert removed == 2
    assert not old_crop.exists() and not old_snapshot.exists()
    assert new_crop.exists() and snapshot_as_old_as_a_crop.exists() and outside.exists()


def test_a_sweep_goes_in_bounded_passes_and_finishes(tmp_path: Path) -> None:
    for i in range(25):
        _file(tmp_path, f"crops/c01/2026-05-01/face-{i}.jpg", timedelta(days=10))
    sweeper = EvidenceSweeper(evidence_retention(_settings(tmp_path)), files_per_pass=10)

    passes = [sweeper.sweep_pass(NOW) for _ in range(3)]

    assert [(p.examined, p.removed, p.finished) for p in passes] == [
        (10, 10, False),
        (10, 10, False),
        (5, 5, True),
    ]
    assert not any((tmp_path / "crops").rglob("*.jpg"))


def test_emptied_day_folders_go_but_the_roots_stay(tmp_path: Path) -> None:
    crop = _file(tmp_path, "crops/c01/2026-05-01/face.jpg", timedelta(days=10))
    day = crop.parent
    old = (NOW - timedelta(days=10)).timestamp()
    sweeper = EvidenceSweeper(evidence_retention(_settings(tmp_path)))

    asyncio.run(sweep(sweeper, NOW))
    os.utime(day, (old, old))
    asyncio.run(sweep(sweeper, NOW))

    assert not day.exists()
    assert (tmp_path / "crops").is_dir()


def test_a_symbolic_link_is_removed_never_its_target(tmp_path: Path) -> None:
    target = _file(tmp_path, "elsewhere/keep.jpg", timedelta(days=100))
    link = tmp_path / "crops" / "c01" / "link.jpg"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    stamp = (NOW - timedelta(days=100)).timestamp()
    os.utime(link, (stamp, stamp), follow_symlinks=False)

    asyncio.run(sweep(EvidenceSweeper(evidence_retention(_settings(tmp_path))), NOW))

    assert not link.is_symlink()
    assert target.exists()


def test_the_periodic_sweeper_sweeps_at_start(tmp_path: Path) -> None:
    """Expired crops go as the worker starts, not when the next crop is saved."""
    crop = _file(tmp_path, "crops/c01/2000-01-01/face.jpg", timedelta(days=10_000))

    async def start_and_stop() -> None:
        stop = asyncio.Event()
        sweeping = asyncio.create_task(
            sweep_periodically(EvidenceSweeper(evidence_retention(_settings(tmp_path))), stop)
        )
        while crop.exists():
            await asyncio.sleep(0.01)
        stop.set()
        await sweeping

    asyncio.run(asyncio.wait_for(start_and_stop(), 30))
    assert not crop.exists()

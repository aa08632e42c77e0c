"""Face crops and camera snapshots on local disk, deleted once past their TTL.

ClickHouse drops expired rows by itself (`pingan.platform.warehouse.sync_retention` keeps
the tables' TTLs on the settings); files under the data directory need a sweeper of their
own. The worker runs it at start and every hour, on a thread, a bounded number of files per
pass, so a large backlog never holds the event loop and a pass never runs long.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pingan.platform.settings import Settings

SWEEP_INTERVAL = timedelta(hours=1)
FILES_PER_PASS = 10_000
"""Files looked at per pass: a pass of this many stats and unlinks takes well under a second."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileRetention:
    """Every file under `folder` is deleted once its last write is `ttl` old."""

    folder: Path
    ttl: timedelta


def evidence_retention(settings: Settings) -> tuple[FileRetention, ...]:
    """Crops are biometric data; snapshots (plates, facades) show where people and cars were."""
    return (
        FileRetention(settings.data_dir / "crops", timedelta(days=settings.biometric_ttl_days)),
        FileRetention(settings.data_dir / "snapshots", timedelta(days=settings.movement_ttl_days)),
    )


@dataclass(frozen=True)
class SweepPass:
    examined: int
    removed: int
    finished: bool
    """The sweep has been through every folder: the next pass starts a new sweep."""


class EvidenceSweeper:
    """Walks the folders a pass at a time; a sweep's cut-offs are fixed when it starts."""

    def __init__(
        self, retentions: Sequence[FileRetention], files_per_pass: int = FILES_PER_PASS
    ) -> None:
        self._retentions = tuple(retentions)
        self._files_per_pass = files_per_pass
        self._sweep: Iterator[bool] | None = None

    def sweep_pass(self, now: datetime) -> SweepPass:
        """Up to `files_per_pass` files, resuming where the previous pass stopped."""
        if self._sweep is None:
            self._sweep = self._walk(now)
        try:
            outcomes = list(itertools.islice(self._sweep, self._files_per_pass))
        except OSError:
            self._sweep = None
            raise
        finished = len(outcomes) < self._files_per_pass
        if finished:
            self._sweep = None
        return SweepPass(len(outcomes), sum(outcomes), finished)

    def _walk(self, now: datetime) -> Iterator[bool]:
        """Whether each file was removed; emptied directories go too once an hour old, so a
        folder a writer has just made is never pulled from under it."""
        settled = (now - SWEEP_INTERVAL).timestamp()
        for retention in self._retentions:
            cutoff = (now - retention.ttl).timestamp()
            for directory, _, files in os.walk(retention.folder, topdown=False):
                for name in files:
                    yield _remove_if_older(os.path.join(directory, name), cutoff)
                if Path(directory) != retention.folder:
                    _remove_if_empty(directory, settled)


def _remove_if_older(path: str, cutoff: float) -> bool:
    """lstat and unlink: a symbolic link is removed itself, never what it points to."""
    try:
        if os.lstat(path).st_mtime >= cutoff:
            return False
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def _remove_if_empty(directory: str, settled: float) -> None:
    with contextlib.suppress(OSError):
        if os.stat(directory).st_mtime < settled:
            os.rmdir(directory)


async def sweep(sweeper: EvidenceSweeper, now: datetime) -> int:
    """One whole sweep, each pass on a thread; returns the files removed."""
    removed = 0
    while True:
        done = await asyncio.to_thread(sweeper.sweep_pass, now)
        removed += done.removed
        if done.finished:
            return removed


async def sweep_periodically(
    sweeper: EvidenceSweeper, stop: asyncio.Event, interval: timedelta = SWEEP_INTERVAL
) -> None:
    """A sweep now and every `interval` until `stop`; a failing sweep is logged and tried
    again next time, never stopping the worker."""
    while not stop.is_set():
        try:
            removed = await sweep(sweeper, datetime.now(UTC))
        except OSError as exc:
            log.warning("sweeping expired crops and snapshots failed: %s", exc)
        else:
            if removed:
                log.info("removed %d expired face crops and snapshots", removed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval.total_seconds())

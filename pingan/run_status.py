"""The one line `pingan run` keeps on the terminal while every log goes to a file.

An operator wants to know at a glance that events flow, alerts come and the worker keeps
up; Faust's and Kafka clients' lines would bury that, so they go to the run's log file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from aiokafka.errors import KafkaError

from pingan.platform.consumer_groups import group_lag
from pingan.platform.settings import Settings
from pingan.platform.warehouse import Warehouse, WarehouseError
from schemas.topics import EVENT_TOPICS

if TYPE_CHECKING:
    from pingan.worker import Companion, WorkerRun

log = logging.getLogger(__name__)

TERMINAL_EVERY_SECONDS = 2.0
PIPE_EVERY_SECONDS = 10.0
"""Into a file or a CI log a rewritten line would be noise: one line per interval instead."""
LAG_EVERY_SECONDS = 5.0
"""Each lag reading opens two Kafka clients; the pipeline's own figures are free."""

NEW_AND_UPDATED_ALERTS = """
SELECT countIf(raised_at >= {since:DateTime64(3, 'UTC')}) AS new,
       countIf(raised_at < {since:DateTime64(3, 'UTC')}
               AND last_seen >= {since:DateTime64(3, 'UTC')}) AS updated
FROM alerts FINAL
WHERE raised_at >= {since:DateTime64(3, 'UTC')} OR last_seen >= {since:DateTime64(3, 'UTC')}
"""
"""As the run summary counts them: opened this run, or opened earlier and a finding of this
run folded into them."""


@dataclass(frozen=True)
class RunStatus:
    events_per_second: float
    alerts_new: int
    alerts_updated: int
    lag: int | None
    """Events on the event topics the worker has not committed; None until first read."""
    console: str
    rule_failures: int = 0
    """Events a rule raised on this run (isolated and dead-lettered): shown once there are."""

    def render(self) -> str:
        lag = "…" if self.lag is None else f"{self.lag:,}"
        failures = f" · rule failures {self.rule_failures:,}" if self.rule_failures else ""
        return (
            f"events {self.events_per_second:,.0f}/s · alerts {self.alerts_new:,} new, "
            f"{self.alerts_updated:,} updated · lag {lag}{failures} · {self.console} · "
            "Ctrl-C stops"
        )


class StatusLine:
    """Rewritten in place on a terminal; a timestamped line per interval anywhere else.

    Holds the stream it was given: while Faust runs, `sys.stdout` is its logging proxy.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream: TextIO | None = stream
        self._terminal = stream.isatty()
        self._shown = False
        self.every_seconds = TERMINAL_EVERY_SECONDS if self._terminal else PIPE_EVERY_SECONDS

    def show(self, text: str) -> None:
        text = f"{datetime.now():%H:%M:%S} {text}"
        if self._terminal:
            width = shutil.get_terminal_size().columns - 1
            self._write(f"\r\x1b[K{text[:width]}")
        else:
            self._write(f"{text}\n")
        self._shown = True

    def end(self) -> None:
        """Leave the last status on screen and move below it, for what is printed next."""
        if self._terminal and self._shown:
            self._write("\n")
        self._shown = False

    def _write(self, text: str) -> None:
        """A closed terminal or pipe (`pingan run | head`, a killed `tee`) silences the status
        line; it must never stop the platform, whose logs go to the file anyway."""
        if self._stream is None:
            return
        try:
            self._stream.write(text)
            self._stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            self._stream = None


class EventRate:
    """Events written per second since the previous reading, from the sinks' counters."""

    def __init__(self, rows_written: Callable[[], int]) -> None:
        self._rows_written = rows_written
        self._rows = rows_written()
        self._at = time.monotonic()

    def per_second(self) -> float:
        rows, now = self._rows_written(), time.monotonic()
        rate = (rows - self._rows) / max(now - self._at, 1e-3)
        self._rows, self._at = rows, now
        return rate


def status_companion(
    settings: Settings, line: StatusLine, since: datetime, console: str
) -> Callable[[WorkerRun], Companion]:
    """The status line as a task of the worker's run, reading its sinks' counters."""

    def make(run: WorkerRun) -> Companion:
        async def companion(stop: asyncio.Event) -> None:
            warehouse = run.warehouse
            if warehouse is None:
                raise RuntimeError("the status line reads the alerts from the sink's warehouse")
            stats = run.pipeline.stats
            rate = EventRate(lambda: sum(stats.rows_written[t.table] for t in EVENT_TOPICS))
            lag_reading = LagReading(settings)
            alerts = (0, 0)
            try:
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), line.every_seconds)
                    alerts = await _alert_counts(warehouse, since, alerts)
                    lag = await lag_reading.latest()
                    failures = sum(stats.rule_failures.values())
                    status = RunStatus(rate.per_second(), *alerts, lag, console, failures)
                    line.show(status.render())
            finally:
                line.end()

        return companion

    return make


class LagReading:
    """The worker's lag on the event topics, read at most every `LAG_EVERY_SECONDS`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lag: int | None = None
        self._read_at = float("-inf")

    async def latest(self) -> int | None:
        if time.monotonic() - self._read_at < LAG_EVERY_SECONDS:
            return self._lag
        self._read_at = time.monotonic()
        try:
            self._lag = await asyncio.to_thread(
                group_lag, self._settings.bootstrap, self._settings.worker_id, EVENT_TOPICS
            )
        except (KafkaError, OSError) as exc:
            log.warning("consumer lag not read: %s", exc)
        return self._lag


async def _alert_counts(
    warehouse: Warehouse, since: datetime, previous: tuple[int, int]
) -> tuple[int, int]:
    """(new, updated) alerts of this run; the previous figures if ClickHouse does not answer."""
    try:
        row = (await warehouse.aread(NEW_AND_UPDATED_ALERTS, {"since": since}))[0]
    except WarehouseError as exc:
        log.warning("alert counts not read: %s", exc)
        return previous
    return int(row["new"]), int(row["updated"])

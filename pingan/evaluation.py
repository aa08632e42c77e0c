"""`pingan evaluate`: the whole pipeline on a labelled scenario, scored per alert type.

A throwaway Kafka broker and data directory keep the run apart from the operator's own
stack; the worker runs as its own process, exactly as `pingan worker`. The scenario ends
now (nothing in the future), its reference data is published first, then its events as
fast as the broker takes them; the score is read from ClickHouse once the worker has
caught up on every topic.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ingest.simulator.scenario import Scenario
from ingest.simulator.scoring import RuleScore, score
from pingan.platform.consumer_groups import group_lag
from pingan.platform.provision import create_topics
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.stack import kafka
from pingan.platform.warehouse import open_warehouse
from schemas.alerts import Alert, AlertType
from schemas.events import utc_now
from schemas.topics import ALERTS, ALERTS_BY_PLATE, EVENT_TOPICS, PASSAGES_BY_PLATE
from streams.engine import changelog_topics
from streams.rules.catalogue import all_rules

PUBLISH_CHUNK = 5000
RECALL_TARGET = 0.95
PRECISION_TARGET = 0.9
WORKER_ID = "pingan-evaluate"

Progress = Callable[[str], None]


@dataclass
class Evaluation:
    scores: dict[AlertType, RuleScore]
    events: int
    alerts: int
    labels: int
    near_misses: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def meets_targets(self) -> bool:
        return all(
            s.recall >= RECALL_TARGET and s.precision >= PRECISION_TARGET
            for s in self.scores.values()
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "rules": {
                str(t): {
                    "tp": s.tp,
                    "fp": s.fp,
                    "fn": s.fn,
                    "precision": round(s.precision, 4),
                    "recall": round(s.recall, 4),
                }
                for t, s in self.scores.items()
            },
            "events": self.events,
            "alerts": self.alerts,
            "labels": self.labels,
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            "meets_targets": self.meets_targets(),
        }

    def render(self) -> str:
        lines = [f"{'alert type':<26} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>9} {'recall':>7}"]
        for alert_type, s in self.scores.items():
            counts = f"{s.tp:>4} {s.fp:>4} {s.fn:>4}"
            lines.append(f"{alert_type:<26} {counts} {s.precision:>9.2f} {s.recall:>7.2f}")
        lines.append(
            f"{self.events} events, {self.labels} labelled incidents, {self.alerts} alerts; "
            + ", ".join(f"{k} {v:.0f} s" for k, v in self.seconds.items())
        )
        lines.append(
            "targets (recall ≥ 0.95, precision ≥ 0.9 for every type): "
            + ("met" if self.meets_targets() else "NOT met")
        )
        return "\n".join(lines)


def evaluate(
    seed: int,
    duration: timedelta,
    communities: int,
    end: datetime | None = None,
    workdir: Path | None = None,
    progress: Progress = lambda _: None,
) -> Evaluation:
    """Score every alert type on a labelled scenario ending at `end` (default now)."""
    end = end or utc_now()
    with _directory(workdir) as root:
        settings = Settings(
            data_dir=root,
            kafka_bootstrap=None,
            clickhouse_url=None,
            kafka_port=kafka.free_port(),
            kafka_controller_port=kafka.free_port(),
            worker_id=WORKER_ID,
        )
        timings: dict[str, float] = {}
        began = time.monotonic()
        bootstrap = kafka.up(settings)
        try:
            asyncio.run(create_topics(bootstrap, changelog_topics(WORKER_ID, all_rules())))
            scenario = Scenario.build(seed, duration, end=end, communities=communities)
            timings["setup"] = time.monotonic() - began
            progress(f"scenario: {len(scenario.labels)} labelled incidents; publishing events")
            mark = time.monotonic()
            events = asyncio.run(_publish(bootstrap, scenario))
            timings["publish"] = time.monotonic() - mark
            progress(f"published {events} events; the worker is processing them")
            mark = time.monotonic()
            _run_worker_until_caught_up(settings, bootstrap, progress)
            timings["process"] = time.monotonic() - mark
            alerts = _alerts(settings)
        finally:
            kafka.down(settings)
        return Evaluation(
            scores=score(scenario.labels, alerts),
            events=events,
            alerts=len(alerts),
            labels=len(scenario.labels),
            near_misses=list(scenario.near_misses),
            seconds=timings,
        )


async def _publish(bootstrap: str, scenario: Scenario) -> int:
    """Reference data first (the worker waits for it), then the events in chunks."""
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(scenario.reference)
        sent = 0
        chunk = []
        for event in scenario.events():
            chunk.append(event)
            if len(chunk) >= PUBLISH_CHUNK:
                sent += await publisher.publish_many(chunk)
                chunk = []
        if chunk:
            sent += await publisher.publish_many(chunk)
    return sent


def _run_worker_until_caught_up(settings: Settings, bootstrap: str, progress: Progress) -> None:
    log_path = settings.data_dir / "worker.log"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        "PINGAN_DATA_DIR": str(settings.data_dir),
        "PINGAN_WORKER_ID": WORKER_ID,
        "PINGAN_API_PORT": str(kafka.free_port()),
    }
    env.pop("CLICKHOUSE_URL", None)
    with log_path.open("ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "pingan.cli", "worker", "--no-api"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_caught_up(bootstrap, worker, log_path, progress)
        finally:
            worker.terminate()
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def _wait_caught_up(
    bootstrap: str, worker: subprocess.Popen[bytes], log_path: Path, progress: Progress
) -> None:
    """Caught up = nothing left on the events, the alerts and what the worker re-keys onto
    itself (passages, plate alerts), twice in a row (alerts raised by the last batch must be
    written too)."""
    topics = [*EVENT_TOPICS, PASSAGES_BY_PLATE, ALERTS, ALERTS_BY_PLATE]
    quiet = 0
    last_report = time.monotonic()
    while quiet < 2:
        if worker.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"the worker exited with {worker.returncode}:\n{tail}")
        lag = group_lag(bootstrap, WORKER_ID, topics)
        quiet = quiet + 1 if lag == 0 else 0
        if time.monotonic() - last_report > 15:
            progress(f"  {lag} messages still to process")
            last_report = time.monotonic()
        time.sleep(1.0)


def _alerts(settings: Settings) -> list[Alert]:
    warehouse = open_warehouse(settings)
    try:
        rows = warehouse.query("SELECT * FROM alerts FINAL")
    finally:
        warehouse.close()
    return [_alert(row) for row in rows]


def _alert(row: dict[str, Any]) -> Alert:
    row = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in row.items()}
    row["evidence"] = orjson.loads(row["evidence"])
    return Alert.model_validate(row)


@contextmanager
def _directory(workdir: Path | None) -> Iterator[Path]:
    """A kept directory when asked for (to inspect the alerts with `pingan sql`), else temp."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="pingan-evaluate-") as tmp:
        yield Path(tmp)

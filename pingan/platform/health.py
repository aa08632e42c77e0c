"""What /healthz reports beyond "the API answers": pipeline stalls raised by the sinks, and
rules that raised on events (isolated, so the pipeline flows, but their alerts may be missing).

Process-wide: the sinks run on the worker's event loop and the API (embedded mode) on a
thread of its own, so the registry is locked.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Stall:
    """A sink that has not advanced: ClickHouse keeps failing its inserts transiently."""

    topic: str
    table: str
    partitions: tuple[int, ...]
    since: datetime
    error: str

    @property
    def reason(self) -> str:
        partitions = ",".join(str(p) for p in self.partitions)
        return (
            f"{self.topic} partition {partitions} has not reached {self.table} since "
            f"{self.since.isoformat(timespec='seconds')}: {self.error}"
        )


@dataclass(frozen=True)
class RuleFailures:
    """A rule's failures since the worker started: how many, and the latest reason."""

    rule: str
    count: int
    last_reason: str
    last_at: datetime


class PipelineHealth:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stalls: dict[str, Stall] = {}
        self._rule_failures: dict[str, RuleFailures] = {}

    def rule_failed(self, rule: str, reason: str, at: datetime) -> None:
        with self._lock:
            before = self._rule_failures.get(rule)
            count = 1 + (before.count if before else 0)
            self._rule_failures[rule] = RuleFailures(rule, count, reason, at)

    def rule_failures(self) -> list[RuleFailures]:
        with self._lock:
            return sorted(self._rule_failures.values(), key=lambda f: f.rule)

    def stalled(self, stall: Stall) -> None:
        with self._lock:
            self._stalls[stall.topic] = stall

    def recovered(self, topic: str) -> None:
        with self._lock:
            self._stalls.pop(topic, None)

    def stalls(self) -> list[Stall]:
        with self._lock:
            return list(self._stalls.values())


PIPELINE_HEALTH = PipelineHealth()

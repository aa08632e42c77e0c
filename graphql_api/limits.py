"""Limits on what one caller can ask of the warehouse, so no query or client starves the
pipeline that shares it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

API_NICE = 10
"""OS niceness of the API's threads and its queries' threads (0 is the pipeline's)."""


@dataclass(frozen=True)
class ReadLimits:
    """ClickHouse's own limits on every API read: a runaway query is stopped by the server."""

    timeout_seconds: float = 5.0
    max_memory_mb: int = 1024
    max_threads: int = 1
    nice: int = API_NICE

    @property
    def settings_clause(self) -> str:
        """Constant text from numbers of our own settings, never from a client.

        Few threads at a lower OS priority: in embedded mode the reads share the machine's
        cores with the pipeline, which must win them."""
        return (
            f" SETTINGS max_execution_time = {self.timeout_seconds:g},"
            f" max_memory_usage = {int(self.max_memory_mb) * 1024 * 1024},"
            f" max_threads = {int(self.max_threads)}, os_thread_priority = {int(self.nice)}"
        )


@dataclass
class RateLimiter:
    """A token bucket per caller: `per_minute` requests, in bursts of up to that many."""

    per_minute: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, who: str, now: float | None = None) -> float:
        """0 if the request may go ahead, else the seconds until it may."""
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        tokens, at = self._buckets.get(who, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * rate)
        if tokens >= 1.0:
            self._buckets[who] = (tokens - 1.0, now)
            return 0.0
        self._buckets[who] = (tokens, now)
        return (1.0 - tokens) / rate

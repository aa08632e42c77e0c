"""The simulator's clock: event time runs at `speed` times wall time from `start`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class SimClock:
    start: datetime
    speed: float = 1.0

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("the simulation start must carry a timezone")
        if self.speed <= 0:
            raise ValueError(f"speed must be positive, got {self.speed}")

    @classmethod
    def plan(
        cls,
        speed: float = 1.0,
        start: datetime | None = None,
        duration: float | None = None,
        now: datetime | None = None,
    ) -> SimClock:
        """A clock whose events never run ahead of real time unless `start` says so.

        Faster than real time without a start, the run is placed so that it ends now:
        the worker dead-letters events stamped in the future.
        """
        now = now or datetime.now(UTC)
        if start is not None:
            return cls(start.astimezone(UTC), speed)
        if speed <= 1.0:
            return cls(now, speed)
        if duration is None:
            raise ValueError(
                f"speed {speed} runs event time ahead of real time: give a duration "
                "(the run then ends at now) or an explicit start"
            )
        return cls(now - timedelta(seconds=duration * speed), speed)

    def overtakes_real_time_after(self, now: datetime) -> float | None:
        """Wall seconds from `now` until event time runs ahead of real time; None if never."""
        lead = (self.start - now).total_seconds()
        if lead > 0:
            return 0.0
        if self.speed <= 1.0:
            return None
        return -lead / (self.speed - 1.0)

    @property
    def start_ts(self) -> float:
        return self.start.timestamp()

    def timestamp(self, wall_elapsed: float) -> float:
        """Event time (epoch seconds) after `wall_elapsed` seconds of real time."""
        return self.start_ts + wall_elapsed * self.speed

    def at(self, wall_elapsed: float) -> datetime:
        return datetime.fromtimestamp(self.timestamp(wall_elapsed), UTC)

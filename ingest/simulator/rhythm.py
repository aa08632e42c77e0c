"""The district's day: when residents move, which way, and how warm it is.

People (doors, faces, vehicles) follow the clock; bracelets, cameras and alarms report
around the clock. Device telemetry is not in the mix: every device reports on its own
schedule (a heartbeat drawn at random would look like an outage).
"""

from __future__ import annotations

import math
from itertools import accumulate

from schemas.events import (
    BraceletReading,
    CameraAnalytics,
    DoorAccess,
    Event,
    FaceCapture,
    PerimeterAlarm,
    VehiclePassage,
)

UTC_OFFSET_HOURS = 8

DAYTIME_MIX: dict[type[Event], float] = {
    DoorAccess: 35.0,
    FaceCapture: 20.0,
    VehiclePassage: 20.0,
    BraceletReading: 7.0,
    CameraAnalytics: 2.0,
    PerimeterAlarm: 1.0,
}
"""The mix at ordinary daytime activity (movement factor 1.0), e.g. 10:00 local time."""

PEOPLE_KINDS: frozenset[type[Event]] = frozenset({DoorAccess, FaceCapture, VehiclePassage})

MOVEMENT_BY_HOUR: tuple[float, ...] = (
    0.15, 0.08, 0.05, 0.05, 0.08, 0.25,  # 00-05: asleep
    0.6, 1.4, 1.5, 1.0, 0.9, 0.9,  # 06-11: morning rush out
    1.1, 1.0, 0.9, 0.9, 1.0, 1.4,  # 12-17: lunch, afternoon, rush back
    1.5, 1.3, 1.0, 0.8, 0.5, 0.3,  # 18-23: evening, winding down
)  # fmt: skip
"""How busy residents are in each local hour, relative to an ordinary daytime hour."""

OUTBOUND_BY_HOUR: tuple[float, ...] = (
    0.4, 0.4, 0.4, 0.45, 0.55, 0.65,
    0.7, 0.8, 0.8, 0.7, 0.55, 0.5,
    0.5, 0.5, 0.5, 0.45, 0.4, 0.25,
    0.2, 0.2, 0.3, 0.35, 0.3, 0.3,
)  # fmt: skip
"""Share of movements that leave the community: out in the morning, back in the evening."""

MIX_KINDS: tuple[type[Event], ...] = tuple(DAYTIME_MIX)


def _hourly_cumulative_weights() -> tuple[tuple[float, ...], ...]:
    return tuple(
        tuple(
            accumulate(
                weight * (MOVEMENT_BY_HOUR[hour] if kind in PEOPLE_KINDS else 1.0)
                for kind, weight in DAYTIME_MIX.items()
            )
        )
        for hour in range(24)
    )


CUMULATIVE_MIX_BY_HOUR = _hourly_cumulative_weights()
"""Per local hour, cumulative weights over MIX_KINDS for a bisect draw."""


def local_hour(timestamp: float) -> int:
    """The district's local hour of an epoch timestamp, without building a datetime."""
    return int((timestamp / 3600.0 + UTC_OFFSET_HOURS) % 24)


def ambient_celsius(hour: float) -> float:
    """Outdoor temperature, warmest mid-afternoon: the baseline of charging-slot readings."""
    return 20.0 + 5.0 * math.cos((hour - 15) / 24 * 2 * math.pi)

"""The district's day: when residents move, which way, how warm it is, and how often the
things officers act on happen.

People (doors, faces, vehicles) follow the clock and bracelets report around the clock:
their share of the simulator's rate is the mix. Device telemetry is not in the mix: every
device reports on its own schedule (a heartbeat drawn at random would look like an
outage). Neither are fence alarms, camera analytics and SOS presses: each happens a few
times per community per day of event time, whatever the rate (at one a second they would
flood the console), so a simulation faster than real time sees them that much more often
per wall second.
"""

from __future__ import annotations

import math
from enum import StrEnum
from itertools import accumulate

from schemas.events import (
    BraceletReading,
    DoorAccess,
    Event,
    FaceCapture,
    VehiclePassage,
)

UTC_OFFSET_HOURS = 8

DAYTIME_MIX: dict[type[Event], float] = {
    DoorAccess: 35.0,
    FaceCapture: 20.0,
    VehiclePassage: 20.0,
    BraceletReading: 7.0,
}
"""The mix at ordinary daytime activity (movement factor 1.0), e.g. 10:00 local time."""


class Occasion(StrEnum):
    """What happens a few times per community per day: each one reaches an officer."""

    FENCE_ALARM = "fence_alarm"
    EBIKE_IN_ELEVATOR = "ebike_in_elevator"
    HIGH_ALTITUDE_THROW = "high_altitude_throw"
    STRAY_DOG = "stray_dog"
    BLOCKED_FIRE_PASSAGE = "blocked_fire_passage"
    SOS_PRESS = "sos_press"


FENCE_ALARMS_PER_DAY = 3.0
"""A pulse fence of 4-8 zones round an estate alarms a few times a day, mostly for branches
in the wind, cats and brief power dips; the seed's officers answer each one on their
警务通, which only works at this rate. Alarms keep their mix of cross, tamper, power loss."""
EBIKES_IN_ELEVATORS_PER_DAY = 3.0
"""Residents still wheel an e-bike into a lift a few times a day although the sheds charge
for free; the elevator cameras of about ten buildings catch them."""
HIGH_ALTITUDE_THROWS_PER_DAY = 1.0
"""The facade cameras catch "even a cigarette end" (the seed): about one a day."""
STRAY_DOG_SIGHTINGS_PER_DAY = 1.0
"""The seed reports stray dogs all but gone: one sighting a day, and the rule alerts only
on three within a day."""
BLOCKED_FIRE_PASSAGE_FLAGS_PER_DAY = 2.0
"""A parcel trolley or a car flagged for a moment; the rule alerts only on a blockage
reported for more than ten minutes, which everyday life never holds."""
SOS_PRESSES_PER_DAY = 1.0
"""A dozen care bracelets per community, pressed by mistake or for help about once a day."""

PER_COMMUNITY_DAY: dict[Occasion, float] = {
    Occasion.FENCE_ALARM: FENCE_ALARMS_PER_DAY,
    Occasion.EBIKE_IN_ELEVATOR: EBIKES_IN_ELEVATORS_PER_DAY,
    Occasion.HIGH_ALTITUDE_THROW: HIGH_ALTITUDE_THROWS_PER_DAY,
    Occasion.STRAY_DOG: STRAY_DOG_SIGHTINGS_PER_DAY,
    Occasion.BLOCKED_FIRE_PASSAGE: BLOCKED_FIRE_PASSAGE_FLAGS_PER_DAY,
    Occasion.SOS_PRESS: SOS_PRESSES_PER_DAY,
}
"""How often each occasion happens per community per day of event time. These are our
estimates for an estate of a few thousand residents, not measured rates: the seed report
gives none, only that officers act on every one, which bounds them to a handful a day."""

FOLLOWS_RESIDENTS: frozenset[Occasion] = frozenset(
    {Occasion.EBIKE_IN_ELEVATOR, Occasion.HIGH_ALTITUDE_THROW}
)
"""Occasions people cause, so they follow MOVEMENT_BY_HOUR (few at 03:00); the others come
around the clock."""

PEOPLE_KINDS: frozenset[type[Event]] = frozenset({DoorAccess, FaceCapture, VehiclePassage})

MOVEMENT_BY_HOUR: tuple[float, ...] = (
    0.15, 0.08, 0.05, 0.05, 0.08, 0.25,  # 00-05: asleep
    0.6, 1.4, 1.5, 1.0, 0.9, 0.9,  # 06-11: morning rush out
    1.1, 1.0, 0.9, 0.9, 1.0, 1.4,  # 12-17: lunch, afternoon, rush back
    1.5, 1.3, 1.0, 0.8, 0.5, 0.3,  # 18-23: evening, winding down
)  # fmt: skip
"""How busy residents are in each local hour, relative to an ordinary daytime hour."""
MOVEMENT_PEAK = max(MOVEMENT_BY_HOUR)
MOVEMENT_MEAN = sum(MOVEMENT_BY_HOUR) / 24

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

"""Where a camera looks, in the district's naming of places: shared by the rules that key on
unit doors and by the face pipeline that files captures under them."""

from __future__ import annotations

import re
from typing import Protocol

from schemas.reference import Device

UNIT_DOOR = re.compile(r"-b\d+-u\d+$")
"""Unit doors are named `<community>-b<building>-u<unit>`, e.g. c01-b03-u2."""


class Devices(Protocol):
    def device(self, device_id: str) -> Device | None: ...


def camera_place(camera_id: str, devices: Devices) -> str:
    """The door (or other place) a camera watches: its device's `place`, else its id without
    the `-cam` suffix (the district's naming, for cameras not yet in reference data)."""
    device = devices.device(camera_id)
    if device is not None and device.place:
        return device.place
    return camera_id.removesuffix("-cam")


def unit_door_of(camera_id: str, devices: Devices) -> str | None:
    """The unit door a camera watches; None for gates, elevators and public areas."""
    place = camera_place(camera_id, devices)
    return place if UNIT_DOOR.search(place) else None

"""Commands Pingan sends to field devices, recorded for audit.

A command is written down after it ran, with its outcome: who asked (the alert that
justified it), what was done to which device, and whether the device confirmed it. Its id
derives from the action and the alert, so a replayed alert yields the same record again
(a `ReplacingMergeTree` keeps one) instead of a second command in the books.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.bounds import Note, UInt16
from schemas.events import NonEmpty, Record, Timestamp

COMMAND_SCHEMA_VERSION = 1


class CommandAction(StrEnum):
    STOP_CHARGING = "stop_charging"
    """Open a charging-shed slot's relay (its charging-enabled coil)."""


class CommandOutcome(StrEnum):
    OK = "ok"
    """Written and read back as requested."""
    FAILED = "failed"
    """Not confirmed: unreachable device, exception response, or a read-back that differs."""


class DeviceCommand(Record):
    schema_version: UInt16 = COMMAND_SCHEMA_VERSION
    command_id: NonEmpty
    community_id: NonEmpty
    device_id: NonEmpty
    """The controller the command was written to (e.g. the shed controller c01-shed1)."""
    target_id: NonEmpty
    """What the command is about: the slot device of the alert (c01-shed1-s03)."""
    slot: Annotated[UInt16, Field(ge=1, le=1000)]
    action: CommandAction
    reason_alert_id: NonEmpty
    requested_at: Timestamp
    """When the alert that asked for it was raised: stable across replays, like the id."""
    outcome: CommandOutcome
    error: Note | None = None
    executed_at: Timestamp

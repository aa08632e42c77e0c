"""How old an event may be when it arrives: no older than its table keeps rows.

An event dated before its table's TTL is deleted at the next merge, so storing it would
lose it silently. A device whose clock reset to 1970 is the usual cause; the event is
refused at the webhook (400) and dead-lettered in the stream, with a reason that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.events import Event


@dataclass(frozen=True)
class Retention:
    """How long each event record's table keeps a row, counted from `occurred_at`."""

    kept_for: Mapping[type[Event], timedelta] = field(default_factory=dict)

    def too_old(self, event: Event, now: datetime) -> str | None:
        """Why `event` would be deleted on arrival, or None when it is kept."""
        kept_for = self.kept_for.get(type(event))
        if kept_for is None:
            return None
        age = now - event.occurred_at
        if age <= kept_for:
            return None
        return (
            f"{age.days} days old, past the {kept_for.days} days its table keeps: it would be "
            "deleted on arrival (is the device's clock right?)"
        )

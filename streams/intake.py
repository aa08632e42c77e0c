"""Intake: raw Kafka messages become records, or a reason a person can act on."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from schemas.alerts import OPERATIONAL_ALERT_TYPES, PLATFORM_COMMUNITY, Alert
from schemas.codec import DecodeError, decode
from schemas.event_time import Retention
from schemas.events import Event, Record, utc_now

R = TypeVar("R", bound=Record)


class Intake:
    """Checks beyond the schema: the community must be ours, the clock must be sane."""

    def __init__(
        self,
        communities: frozenset[str],
        max_clock_skew: timedelta,
        retention: Retention | None = None,
    ) -> None:
        self._communities = communities
        self._max_clock_skew = max_clock_skew
        self._retention = retention or Retention()

    def accepted(self, raw: bytes | None, record_type: type[R]) -> R | DecodeError:
        """The record, or why it cannot be one: decoded once per batch for every stage, and
        the reason kept for whoever dead-letters it."""
        try:
            return self.accept(raw, record_type)
        except DecodeError as exc:
            return exc

    def accept(self, raw: bytes | None, record_type: type[R]) -> R:
        record = decode(raw, record_type)
        community = getattr(record, "community_id", None)
        known = community is None or community in self._communities
        if not known and not _operational(record):
            raise DecodeError(f"unknown community_id {community!r}")
        if isinstance(record, Event):
            now = utc_now()
            too_old = self._retention.too_old(record, now)
            if too_old:
                raise DecodeError(f"occurred_at {record.occurred_at.isoformat()} is {too_old}")
            ahead = record.occurred_at - now
            if ahead > self._max_clock_skew:
                raise DecodeError(
                    f"occurred_at {record.occurred_at.isoformat()} is {ahead} in the future "
                    f"(more than the allowed clock skew of {self._max_clock_skew})"
                )
        return record


def _operational(record: Record) -> bool:
    """A platform alert (a stalled sink) belongs to the district, not a community."""
    return (
        isinstance(record, Alert)
        and record.alert_type in OPERATIONAL_ALERT_TYPES
        and record.community_id == PLATFORM_COMMUNITY
    )

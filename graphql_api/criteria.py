"""Validated search criteria, shared by the ClickHouse queries and the live alert feed.

Validation happens once, here, so that every resolver rejects the same mistakes with the
same message before any query runs or any subscription starts. The caller's communities and
visible alert types are folded in here too, so they become part of every query's SQL.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from graphql_api.access import Caller
from graphql_api.errors import InvalidArgument
from schemas.alerts import Alert, AlertStatus, AlertType, Severity, SubjectKind
from schemas.events import normalise_plate

T = TypeVar("T")

PLATE_MAX_LENGTH = 16


@dataclass(frozen=True)
class TimeWindow:
    """The half-open interval [since, until); either end may be open."""

    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def checked(cls, since: datetime | None, until: datetime | None) -> TimeWindow:
        for name, value in (("since", since), ("until", until)):
            if value is not None and value.tzinfo is None:
                raise InvalidArgument(
                    f"{name} must carry a timezone, e.g. 2026-11-24T08:00:00+08:00"
                )
        if since is not None and until is not None and since > until:
            raise InvalidArgument(
                f"since ({since.isoformat()}) is after until ({until.isoformat()})"
            )
        return cls(since=since, until=until)

    @classmethod
    def bounded(
        cls,
        since: datetime | None,
        until: datetime | None,
        now: datetime,
        *,
        default: timedelta,
        longest: timedelta,
        lookup: str,
    ) -> TimeWindow:
        """A closed window for lookups of one person's movements or face: `default` back
        from `until` (or now) when open, never longer than `longest`, so a lookup is a look
        at a case's hours or days, not a dossier of someone's life."""
        cls.checked(since, until)
        end = until or now
        start = since or end - default
        if start >= end:
            raise InvalidArgument(
                f"since ({start.isoformat()}) must be before until ({end.isoformat()})"
            )
        if end - start > longest:
            days = (end - start) / timedelta(days=1)
            raise InvalidArgument(
                f"{lookup} covers at most {longest.days} days, and since..until spans "
                f"{days:.1f} days: narrow the window"
            )
        return cls(since=start, until=end)

    def contains(self, moment: datetime) -> bool:
        return (self.since is None or moment >= self.since) and (
            self.until is None or moment < self.until
        )


def checked_plate(plate: str) -> str:
    """The plate as gate cameras and the watchlist store it (see normalise_plate)."""
    normalised = normalise_plate(plate)
    if not normalised:
        raise InvalidArgument("plate is empty: give the letters and digits of a number plate")
    if len(normalised) > PLATE_MAX_LENGTH:
        raise InvalidArgument(f"plate {normalised!r} is longer than {PLATE_MAX_LENGTH} characters")
    return normalised


def _checked_choice(name: str, values: Iterable[T] | None) -> frozenset[T] | None:
    if values is None:
        return None
    chosen = frozenset(values)
    if not chosen:
        raise InvalidArgument(f"{name} is empty: omit it to include every value")
    return chosen


@dataclass(frozen=True)
class AlertCriteria:
    """Which alerts a listing or subscription wants; None in a field means any."""

    community_ids: frozenset[str] | None = None
    types: frozenset[AlertType] | None = None
    severities: frozenset[Severity] | None = None
    statuses: frozenset[AlertStatus] | None = None
    subject_kinds: frozenset[SubjectKind] | None = None
    first_seen: TimeWindow = TimeWindow()

    @classmethod
    def checked(
        cls,
        caller: Caller,
        known_communities: Collection[str],
        *,
        community_ids: Iterable[str] | None = None,
        types: Iterable[AlertType] | None = None,
        severities: Iterable[Severity] | None = None,
        statuses: Iterable[AlertStatus] | None = None,
        subject_kinds: Iterable[SubjectKind] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AlertCriteria:
        return cls(
            community_ids=caller.scope(community_ids, known_communities),
            types=caller.visible_types(_checked_choice("types", types)),
            severities=_checked_choice("severities", severities),
            statuses=_checked_choice("statuses", statuses),
            subject_kinds=_checked_choice("subjectKinds", subject_kinds),
            first_seen=TimeWindow.checked(since, until),
        )

    def matches(self, alert: Alert) -> bool:
        """The same test the alerts query applies in SQL, for alerts arriving live."""
        return (
            _allows(self.community_ids, alert.community_id)
            and _allows(self.types, alert.alert_type)
            and _allows(self.severities, alert.severity)
            and _allows(self.statuses, alert.status)
            and _allows(self.subject_kinds, alert.subject_kind)
            and self.first_seen.contains(alert.first_seen)
        )


@dataclass(frozen=True)
class PassageCriteria:
    """Which vehicle passages a listing wants; None in a field means any."""

    plate: str | None = None
    community_ids: frozenset[str] | None = None
    occurred: TimeWindow = TimeWindow()

    @classmethod
    def checked(
        cls,
        caller: Caller,
        known_communities: Collection[str],
        *,
        plate: str | None = None,
        community_ids: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> PassageCriteria:
        return cls(
            plate=None if plate is None else checked_plate(plate),
            community_ids=caller.scope(community_ids, known_communities),
            occurred=TimeWindow.checked(since, until),
        )


def _allows(chosen: frozenset[Any] | None, value: object) -> bool:
    return chosen is None or value in chosen

"""ROAMING_VEHICLE: a stranger's car that keeps turning up, casing communities.

Only plates registered to no resident count, and only entries. Two patterns:

- Many communities: entries into at least `min_communities` different communities whose
  times all fit in `window_hours` (the first and last entry at most that far apart).
- Night visits: entries into one community during the night (local hours from
  `night_start_hour` up to, not including, `night_end_hour`; the night wraps past
  midnight when start > end) on at least `min_nights` different nights that all fit in
  `nights_window_days` consecutive nights. A night is named by the date it ends on.

Each entry that completes or extends a pattern is a finding in the entered community, so
the community the car is in now hears about it. The state keeps the entries of the last
`window_hours` and the first entry of each (community, night) of the last
`nights_window_days`, by event time, so late entries still count; once all have aged out
the plate's key is dropped.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field

from schemas.alerts import AlertType, Evidence, Severity, SubjectKind
from schemas.events import Direction, VehiclePassage
from streams.rules.rule import (
    Explanation,
    Finding,
    Keying,
    Outcome,
    Reference,
    Rule,
    RuleConfig,
    RuleState,
    dropped_note,
    hhmm,
    local_time,
)

MAX_ENTRIES = 500
"""Entries kept per list: a shuttle bus through twenty gates an hour must not grow its plate's
state without bound. Past this the oldest go, and are counted."""


class RoamingVehicleConfig(RuleConfig):
    min_communities: Annotated[int, Field(ge=2, le=50)] = 3
    window_hours: Annotated[float, Field(ge=0.25, le=24)] = 2.0
    night_start_hour: Annotated[int, Field(ge=0, le=23)] = 0
    night_end_hour: Annotated[int, Field(ge=0, le=24)] = 5
    min_nights: Annotated[int, Field(ge=2, le=31)] = 3
    nights_window_days: Annotated[int, Field(ge=1, le=31)] = 7


class Entry(BaseModel):
    event_id: str
    community_id: str
    gate_id: str
    at: datetime


class RoamingState(RuleState):
    entries: list[Entry] = Field(default_factory=list)
    """Entries of the last `window_hours`, oldest first."""
    night_entries: list[Entry] = Field(default_factory=list)
    """The first entry of each (community, night) of the last `nights_window_days`."""
    dropped: int = 0
    """Entries dropped by the caps (`MAX_ENTRIES`, the state's size), oldest first."""


class RoamingVehicleRule(Rule[VehiclePassage, RoamingState, RoamingVehicleConfig]):
    name = "roaming_vehicle"
    alert_types = (AlertType.ROAMING_VEHICLE,)
    keying = Keying.PLATE
    Config = RoamingVehicleConfig
    State = RoamingState

    def key(self, event: VehiclePassage, reference: Reference) -> str | None:
        if event.direction is not Direction.IN or reference.resident_vehicle(event.plate):
            return None
        return event.plate

    def apply(
        self,
        state: RoamingState | None,
        event: VehiclePassage,
        config: RoamingVehicleConfig,
        reference: Reference,
    ) -> Outcome[RoamingState]:
        state = state or RoamingState()
        known = [*state.entries, *state.night_entries]
        if any(e.event_id == event.event_id for e in known):
            return Outcome(state)
        new = Entry(
            event_id=event.event_id,
            community_id=event.community_id,
            gate_id=event.gate_id,
            at=event.occurred_at,
        )
        latest = max([new.at, *(e.at for e in known)])
        window = timedelta(hours=config.window_hours)
        entries = sorted(
            [e for e in [*state.entries, new] if e.at >= latest - window], key=lambda e: e.at
        )
        nights = [e for e in state.night_entries if e.at >= latest - nights_kept(config)]
        night = night_of(new.at, config)
        first_that_night = night is not None and not any(
            e.community_id == new.community_id and night_of(e.at, config) == night for e in nights
        )
        if first_that_night:
            nights = sorted([*nights, new], key=lambda e: e.at)
        over = max(len(entries) - MAX_ENTRIES, 0) + max(len(nights) - MAX_ENTRIES, 0)
        kept = state.model_copy(
            update={
                "entries": entries[-MAX_ENTRIES:],
                "night_entries": nights[-MAX_ENTRIES:],
                "dropped": state.dropped + over,
            }
        )
        entries, nights = kept.entries, kept.night_entries

        en: list[str] = []
        zh: list[str] = []
        shown: list[Entry] = []
        tour = communities_toured(new, entries, config)
        if tour:
            tour_en, tour_zh = tour_text(tour)
            en.append(tour_en)
            zh.append(tour_zh)
            shown += tour
        visits = night_visits(new, nights, config) if night is not None else []
        if visits:
            visits_en, visits_zh = visits_text(visits, config)
            en.append(visits_en)
            zh.append(visits_zh)
            shown += [v for v in visits if v not in shown]
        if not shown:
            return Outcome(kept)
        latest_entry = max(shown, key=lambda e: e.at)
        dropped = dropped_note(kept.dropped, "entries", "驶入记录")
        finding = Finding(
            alert_type=AlertType.ROAMING_VEHICLE,
            severity=Severity.MEDIUM,
            community_id=latest_entry.community_id,
            subject_kind=SubjectKind.PLATE,
            subject=event.plate,
            occurred_at=latest_entry.at,
            explanation=Explanation(
                en=f"Plate {event.plate}, registered to no resident, "
                + " It also ".join(en)
                + dropped.en,
                zh=f"非登记车辆 {event.plate} " + "；另 ".join(zh) + dropped.zh,
            ),
            evidence=[evidence(event.plate, e) for e in sorted(shown, key=lambda e: e.at)],
        )
        return Outcome(kept, findings=[finding])

    def wake_at(self, state: RoamingState, config: RoamingVehicleConfig) -> datetime | None:
        """When every kept entry has aged out of its pattern's window: then the key is dropped."""
        ends = [e.at + timedelta(hours=config.window_hours) for e in state.entries[-1:]]
        ends += [e.at + nights_kept(config) for e in state.night_entries[-1:]]
        return max(ends, default=None)

    def advance(
        self,
        state: RoamingState,
        key: str,
        watermark: datetime,
        config: RoamingVehicleConfig,
        reference: Reference,
    ) -> Outcome[RoamingState]:
        return Outcome(None)

    def shrink(self, state: RoamingState) -> RoamingState | None:
        """The older half of the longer list goes."""
        longer = max(("entries", "night_entries"), key=lambda name: len(getattr(state, name)))
        entries: list[Entry] = getattr(state, longer)
        if len(entries) <= 1:
            return None
        cut = len(entries) // 2
        return state.model_copy(update={longer: entries[cut:], "dropped": state.dropped + cut})


def nights_kept(config: RoamingVehicleConfig) -> timedelta:
    """Night entries are kept a day beyond the nights window: a night wrapping midnight
    starts on the evening before the date it is named by."""
    return timedelta(days=config.nights_window_days + 1)


def night_of(at: datetime, config: RoamingVehicleConfig) -> date | None:
    """The night an event time falls in, named by the date it ends on; None by day."""
    local = local_time(at)
    start, end = config.night_start_hour, config.night_end_hour
    if start < end:
        return local.date() if start <= local.hour < end else None
    if start > end:
        if local.hour >= start:
            return local.date() + timedelta(days=1)
        return local.date() if local.hour < end else None
    return None


def communities_toured(
    new: Entry, entries: list[Entry], config: RoamingVehicleConfig
) -> list[Entry]:
    """The first entry into each community of a window holding the new entry and at least
    `min_communities` communities; empty when there is none."""
    window = timedelta(hours=config.window_hours)
    for start in entries:
        if not new.at - window <= start.at <= new.at:
            continue
        firsts: dict[str, Entry] = {}
        for entry in entries:
            if start.at <= entry.at <= start.at + window:
                firsts.setdefault(entry.community_id, entry)
        if len(firsts) >= config.min_communities:
            return list(firsts.values())
    return []


def night_visits(new: Entry, nights: list[Entry], config: RoamingVehicleConfig) -> list[Entry]:
    """The night entries into the new entry's community over `nights_window_days`
    consecutive nights holding the new entry's night, when they are at least `min_nights`."""
    span = timedelta(days=config.nights_window_days - 1)
    new_night = night_of(new.at, config)
    assert new_night is not None
    dated: list[tuple[date, Entry]] = []
    for entry in nights:
        night = night_of(entry.at, config)
        if entry.community_id == new.community_id and night is not None:
            dated.append((night, entry))
    for first, _ in dated:
        if not new_night - span <= first <= new_night:
            continue
        visits = {night: entry for night, entry in dated if first <= night <= first + span}
        if len(visits) >= config.min_nights:
            return list(visits.values())
    return []


def tour_text(tour: list[Entry]) -> tuple[str, str]:
    minutes = int((tour[-1].at - tour[0].at).total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    span_en = f"{hours} h {rest} min" if hours else f"{minutes} min"
    span_zh = f"{hours} 小时 {rest} 分钟" if hours else f"{minutes} 分钟"
    stops_en = ", ".join(f"{e.community_id} at {hhmm(e.at)} (gate {e.gate_id})" for e in tour)
    stops_zh = "、".join(f"{e.community_id}（{hhmm(e.at)}，{e.gate_id}）" for e in tour)
    return (
        f"entered {len(tour)} communities within {span_en}: {stops_en}.",
        f"在 {span_zh} 内先后驶入 {len(tour)} 个小区：{stops_zh}",
    )


def visits_text(visits: list[Entry], config: RoamingVehicleConfig) -> tuple[str, str]:
    community = visits[0].community_id
    hours = f"{config.night_start_hour:02d}:00–{config.night_end_hour:02d}:00"
    days = config.nights_window_days
    stops_en = ", ".join(local_time(e.at).strftime("%m-%d %H:%M") for e in visits)
    stops_zh = "、".join(local_time(e.at).strftime("%m月%d日 %H:%M") for e in visits)
    return (
        f"entered community {community} at night ({hours}) on {len(visits)} nights "
        f"within {days} days: {stops_en}.",
        f"{days} 天内有 {len(visits)} 个夜间（{hours}）驶入 {community} 小区：{stops_zh}",
    )


def evidence(plate: str, entry: Entry) -> Evidence:
    return Evidence(
        event_id=entry.event_id,
        event_kind=VehiclePassage.kind,
        occurred_at=entry.at,
        summary=(
            f"{plate} entered community {entry.community_id} at gate {entry.gate_id} "
            f"at {local_time(entry.at).strftime('%m-%d %H:%M')}"
        ),
    )

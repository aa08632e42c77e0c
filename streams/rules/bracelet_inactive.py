"""BRACELET_INACTIVE: an elderly wearer has not moved for hours during the day.

A still period lasts while every reading stays within `still_metres` of where it began
(indoor GPS jitter stays well inside that); a reading farther away ends it. Only the
daytime part of a still period counts (`day_start_hour`–`day_end_hour` local), as sleeping
is not inactivity: a wearer still from 18:00 reaches 4 h at 10:00 next morning (2 h that
evening, 2 h that morning). The alert fires at the reading that completes `inactive_hours`
of daytime stillness (at least, not more than), or, when readings stopped (a bracelet left
on a table, a flat battery), once the watermark passes that moment. Moving again resolves
it. Readings without a position, or older than the last one, are ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from schemas.alerts import AlertType, Evidence, Severity, SubjectKind
from schemas.events import BraceletReading, Wearer
from schemas.reference import DISTRICT_TZ, BraceletWearer, distance_km
from streams.rules.rule import (
    Clearance,
    Explanation,
    Finding,
    Outcome,
    Reference,
    Rule,
    RuleConfig,
    RuleState,
    evidence_of,
    hhmm,
    local_time,
)

WEARER_EN = {Wearer.ELDERLY: "Elderly wearer", Wearer.CHILD: "Child", Wearer.PET: "Pet"}
WEARER_ZH = {Wearer.ELDERLY: "老人", Wearer.CHILD: "儿童", Wearer.PET: "宠物"}


class BraceletInactiveConfig(RuleConfig):
    wearers: Annotated[tuple[Wearer, ...], Field(max_length=len(Wearer))] = (Wearer.ELDERLY,)
    still_metres: Annotated[float, Field(ge=5, le=500)] = 30.0
    inactive_hours: Annotated[float, Field(ge=0.5, le=24)] = 4.0
    day_start_hour: Annotated[int, Field(ge=0, le=23)] = 8
    day_end_hour: Annotated[int, Field(ge=1, le=24)] = 20

    @model_validator(mode="after")
    def _daytime_is_a_span(self) -> Self:
        if self.day_start_hour >= self.day_end_hour:
            raise ValueError("day_start_hour must come before day_end_hour")
        return self


class StillState(RuleState):
    lat: float
    lon: float
    """Where the still period began: stillness is measured from here, so slow drift adds up."""
    since: datetime
    since_event: str
    last_seen: datetime
    alerted: bool = False


class BraceletInactiveRule(Rule[BraceletReading, StillState, BraceletInactiveConfig]):
    name = "bracelet_inactive"
    alert_types = (AlertType.BRACELET_INACTIVE,)
    Config = BraceletInactiveConfig
    State = StillState

    def key(self, event: BraceletReading, reference: Reference) -> str | None:
        return None if event.lat is None or event.lon is None else event.bracelet_id

    def apply(
        self,
        state: StillState | None,
        event: BraceletReading,
        config: BraceletInactiveConfig,
        reference: Reference,
    ) -> Outcome[StillState]:
        if event.wearer not in config.wearers:
            return Outcome(None)
        lat, lon = event.lat, event.lon
        if lat is None or lon is None:
            return Outcome(state)
        if state is None:
            return Outcome(still_from(event, lat, lon, None))
        if event.occurred_at < state.last_seen:
            return Outcome(state)
        moved_m = distance_km(state.lat, state.lon, lat, lon) * 1000.0
        if moved_m > config.still_metres:
            back = [moving_again(event, state, moved_m)] if state.alerted else []
            return Outcome(still_from(event, lat, lon, state), clearances=back)
        state = state.model_copy(update={"last_seen": event.occurred_at})
        if state.alerted or event.occurred_at < still_until(state.since, config):
            return Outcome(state)
        wearer = reference.bracelet(event.bracelet_id)
        finding = inactive_finding(event.bracelet_id, state, config, wearer, event)
        return Outcome(state.model_copy(update={"alerted": True}), findings=[finding])

    def wake_at(self, state: StillState, config: BraceletInactiveConfig) -> datetime | None:
        return None if state.alerted else still_until(state.since, config)

    def advance(
        self,
        state: StillState,
        key: str,
        watermark: datetime,
        config: BraceletInactiveConfig,
        reference: Reference,
    ) -> Outcome[StillState]:
        finding = inactive_finding(key, state, config, reference.bracelet(key), None)
        return Outcome(state.model_copy(update={"alerted": True}), findings=[finding])


def still_until(since: datetime, config: BraceletInactiveConfig) -> datetime:
    """When a still period that began at `since` holds `inactive_hours` of daytime."""
    remaining = timedelta(hours=config.inactive_hours)
    start = local_time(since)
    midnight = datetime.combine(start.date(), time(), tzinfo=DISTRICT_TZ)
    while True:
        begin = max(start, midnight + timedelta(hours=config.day_start_hour))
        end = midnight + timedelta(hours=config.day_end_hour)
        if begin + remaining <= end:
            return (begin + remaining).astimezone(UTC)
        remaining -= max(end - begin, timedelta())
        midnight += timedelta(days=1)


def still_from(
    reading: BraceletReading, lat: float, lon: float, previous: StillState | None
) -> StillState:
    """A new still period beginning at this reading."""
    fields: dict[str, Any] = {
        "lat": lat,
        "lon": lon,
        "since": reading.occurred_at,
        "since_event": reading.event_id,
        "last_seen": reading.occurred_at,
        "alerted": False,
    }
    if previous is None:
        return StillState(community_id=reading.community_id, **fields)
    return previous.model_copy(update=fields)


def inactive_finding(
    bracelet_id: str,
    state: StillState,
    config: BraceletInactiveConfig,
    wearer: BraceletWearer | None,
    reading: BraceletReading | None,
) -> Finding:
    """Raised by the reading that completes the still period, or by the watermark passing
    it when readings stopped; both open the same alert (its first evidence is the reading
    the still period began with)."""
    due = still_until(state.since, config)
    at = reading.occurred_at if reading else due
    who_en = f"{WEARER_EN[wearer.wearer]} {wearer.name}".rstrip() if wearer else "Wearer"
    who_zh = f"{WEARER_ZH[wearer.wearer]}{wearer.name}" if wearer else "佩戴者"
    spot = f"{state.lat:.6f}, {state.lon:.6f}"
    since, last = moment(state.since, at), moment(state.last_seen, at)
    day = f"{config.day_start_hour:02d}:00–{config.day_end_hour:02d}:00"
    hours, metres = f"{config.inactive_hours:g}", f"{config.still_metres:g}"
    began = Evidence(
        event_id=state.since_event,
        event_kind=BraceletReading.kind,
        occurred_at=state.since,
        summary=f"still period began at {spot}",
    )
    latest = [evidence_of(reading, f"still within {metres} m of {spot}")] if reading else []
    return Finding(
        alert_type=AlertType.BRACELET_INACTIVE,
        severity=Severity.MEDIUM,
        community_id=state.community_id,
        subject_kind=SubjectKind.BRACELET,
        subject=bracelet_id,
        occurred_at=at,
        explanation=Explanation(
            en=(
                f"{who_en} (bracelet {bracelet_id}) has not moved more than "
                f"{metres} m from {spot} since {since}: {hours} h of daytime ({day}) without "
                f"moving by {hhmm(due)}; last reading {last}."
            ),
            zh=(
                f"{who_zh}（手环 {bracelet_id}）自 {since} 起未离开 {spot} "
                f"{metres} 米范围，至 {hhmm(due)} 白天（{day}）静止已满 {hours} 小时，"
                f"最近一次定位 {last}"
            ),
        ),
        evidence=[began, *latest],
    )


def moving_again(reading: BraceletReading, state: StillState, moved_m: float) -> Clearance:
    now, since = hhmm(reading.occurred_at), moment(state.since, reading.occurred_at)
    return Clearance(
        alert_type=AlertType.BRACELET_INACTIVE,
        community_id=reading.community_id,
        subject=reading.bracelet_id,
        occurred_at=reading.occurred_at,
        explanation=Explanation(
            en=f"moved {moved_m:.0f} m at {now} after being still since {since}.",
            zh=f"{now} 已移动 {moved_m:.0f} 米（自 {since} 起静止）",
        ),
    )


def moment(at: datetime, now: datetime) -> str:
    """Local time, with the date when it is not the same local day as `now`."""
    if local_time(at).date() == local_time(now).date():
        return hhmm(at)
    return f"{local_time(at):%m-%d} {hhmm(at)}"

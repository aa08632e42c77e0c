"""MLM_GATHERING: the same crowd of strangers comes to one unit day after day, all at once.

Pyramid schemes (传销) hold daily "classes" in a flat: many strangers arrive at its unit door
together, on several days, and many of them come back. Only unknown faces (no resident match)
at unit-door cameras count; each becomes a pseudonymous visitor of that unit (visitor_gallery).

A local day qualifies when ≥ `min_visitors` distinct visitors were captured at the unit that
day and ≥ `arrival_share` of them arrived (first capture of the day) within one
`arrival_window_hours` window, the day's busiest. "≥ 15 distinct visitors" is read per
qualifying day, not over the whole window. The unit alerts when the current day qualifies, ≥
`min_days` of the last `days_window` local days qualify, and ≥ `min_repeat_visitors` visitors
came on two or more of those days. At most one finding per local day: the next days' fold
into the open alert. Near misses that stay quiet: a delivery rider (one visitor per unit), a
Spring Festival family gathering (15+ relatives on one or two days), a few visitors a day.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from pydantic import BaseModel, Field

from schemas.alerts import AlertType, Evidence, Severity, SubjectKind
from schemas.events import FaceCapture
from schemas.places import unit_door_of
from streams.rules.rule import (
    Explanation,
    Finding,
    Fraction,
    Outcome,
    Reference,
    Rule,
    RuleState,
    dropped_note,
    evidence_of,
    hhmm,
    local_time,
)
from streams.rules.visitor_gallery import FaceMatchConfig, VisitorGallery, listed


class MlmGatheringConfig(FaceMatchConfig):
    min_visitors: Annotated[int, Field(ge=2, le=200)] = 15
    min_days: Annotated[int, Field(ge=1, le=31)] = 3
    days_window: Annotated[int, Field(ge=1, le=31)] = 5
    arrival_share: Fraction = 0.6
    arrival_window_hours: Annotated[float, Field(ge=0.25, le=24)] = 2.0
    min_repeat_visitors: Annotated[int, Field(ge=0, le=200)] = 5


class VisitDay(BaseModel):
    arrivals: dict[str, int] = {}
    """Visitor id → minute of the local day of their first capture that day."""
    first: Evidence | None = None
    """The day's earliest capture, the alert's evidence for that day (summary filled then)."""


class MlmState(RuleState):
    gallery: VisitorGallery = Field(default_factory=VisitorGallery)
    days: dict[date, VisitDay] = Field(default_factory=dict)
    """Local days within the window that had unknown visitors."""
    reported: date | None = None
    """The last local day with a finding: one per day at most."""
    dropped: int = 0
    """Arrivals dropped to keep the state under its size cap, oldest first."""

    def dropped_records(self) -> int:
        return self.gallery.dropped + self.dropped


@dataclass(frozen=True)
class DayTally:
    day: date
    visitors: list[str]
    """In order of arrival."""
    peak_start: int
    """Minute of the day the busiest arrival window opens."""
    peak: int
    """Visitors arriving within that window."""

    def qualifies(self, config: MlmGatheringConfig) -> bool:
        count = len(self.visitors)
        return count >= config.min_visitors and self.peak >= config.arrival_share * count


class MlmGatheringRule(Rule[FaceCapture, MlmState, MlmGatheringConfig]):
    name = "mlm_gathering"
    alert_types = (AlertType.MLM_GATHERING,)
    Config = MlmGatheringConfig
    State = MlmState

    def key(self, event: FaceCapture, reference: Reference) -> str | None:
        if event.matched_person_id is not None:
            return None
        return unit_door_of(event.camera_id, reference)

    def apply(
        self,
        state: MlmState | None,
        event: FaceCapture,
        config: MlmGatheringConfig,
        reference: Reference,
    ) -> Outcome[MlmState]:
        at = local_time(event.occurred_at)
        day = at.date()
        latest = max([day, *state.days]) if state is not None else day
        oldest = latest - timedelta(days=config.days_window - 1)
        if state is not None and day < oldest:
            return Outcome(state)
        if state is None:
            state = MlmState(community_id=event.community_id)
        gallery, visitor = state.gallery.identified(
            event.embedding, event.event_id, config.similarity_threshold
        )
        before = state.days.get(day) or VisitDay()
        minute = at.hour * 60 + at.minute
        arrivals = {**before.arrivals, visitor: min(before.arrivals.get(visitor, minute), minute)}
        first = before.first
        if first is None or event.occurred_at < first.occurred_at:
            first = evidence_of(event, "")
        visits = before.model_copy(update={"arrivals": arrivals, "first": first})
        days = {**state.days, day: visits}
        if min(days) < oldest:
            days = {d: v for d, v in days.items() if d >= oldest}
            gallery = gallery.retained({v for d in days.values() for v in d.arrivals})
        state = state.model_copy(update={"days": days, "gallery": gallery})
        if day != latest or state.reported == day or len(visits.arrivals) < config.min_visitors:
            return Outcome(state)
        tallies = [tally(d, v, config) for d, v in sorted(state.days.items())]
        qualifying = [t for t in tallies if t.qualifies(config)]
        days_seen = Counter(v for t in tallies for v in t.visitors)
        repeaters = [v for v, count in days_seen.items() if count >= 2]
        if (
            not tallies[-1].qualifies(config)
            or len(qualifying) < config.min_days
            or len(repeaters) < config.min_repeat_visitors
        ):
            return Outcome(state)
        state = state.model_copy(update={"reported": day})
        unit = unit_door_of(event.camera_id, reference) or event.camera_id
        finding = gathering_finding(event, unit, visitor, qualifying, repeaters, state, config)
        return Outcome(state, findings=[finding])

    def shrink(self, state: MlmState) -> MlmState | None:
        """Oldest first: half the gallery's visitors, then whole days, then the earliest
        arrivals of the one day left."""
        if len(state.gallery.visitors) > 1:
            gallery = state.gallery.without_oldest(len(state.gallery.visitors) // 2)
            return state.model_copy(update={"gallery": gallery})
        oldest = min(state.days, default=None)
        if oldest is None:
            return None
        arrivals = state.days[oldest].arrivals
        if len(state.days) > 1:
            days = {d: v for d, v in state.days.items() if d != oldest}
            return state.model_copy(update={"days": days, "dropped": state.dropped + len(arrivals)})
        if len(arrivals) <= 1:
            return None
        by_arrival = sorted(arrivals.items(), key=lambda item: (item[1], item[0]))
        cut = len(by_arrival) // 2
        visits = state.days[oldest].model_copy(update={"arrivals": dict(by_arrival[cut:])})
        return state.model_copy(update={"days": {oldest: visits}, "dropped": state.dropped + cut})


def tally(day: date, visits: VisitDay, config: MlmGatheringConfig) -> DayTally:
    arrivals = sorted(visits.arrivals.items(), key=lambda item: (item[1], item[0]))
    start, peak = busiest_window([m for _, m in arrivals], window_minutes(config))
    return DayTally(day, [v for v, _ in arrivals], start, peak)


def busiest_window(minutes: list[int], width: int) -> tuple[int, int]:
    """The start and arrival count of the `width`-minute window holding most of the sorted
    arrival minutes; windows open at an arrival."""
    best_start, best, end = 0, 0, 0
    for first, start in enumerate(minutes):
        while end < len(minutes) and minutes[end] < start + width:
            end += 1
        if end - first > best:
            best_start, best = start, end - first
    return best_start, best


def window_minutes(config: MlmGatheringConfig) -> int:
    return round(config.arrival_window_hours * 60)


def clock(minute: int) -> str:
    minute %= 24 * 60
    return f"{minute // 60:02d}:{minute % 60:02d}"


def gathering_finding(
    event: FaceCapture,
    unit: str,
    visitor: str,
    qualifying: list[DayTally],
    repeaters: list[str],
    state: MlmState,
    config: MlmGatheringConfig,
) -> Finding:
    days = state.days
    dropped = dropped_note(state.dropped_records(), "visitor records", "访客记录")
    width = window_minutes(config)
    trigger = evidence_of(
        event, f"visitor {visitor} at {event.camera_id} {hhmm(event.occurred_at)}"
    )

    def span(t: DayTally) -> str:
        return f"{clock(t.peak_start)}–{clock(t.peak_start + width)}"

    per_day_en = "; ".join(
        f"{t.day:%m-%d} {len(t.visitors)} visitors, {t.peak} arriving {span(t)}" for t in qualifying
    )
    per_day_zh = "；".join(
        f"{t.day:%m-%d} {len(t.visitors)} 人，其中 {t.peak} 人于 {span(t)} 到达" for t in qualifying
    )
    evidence = [
        first.model_copy(
            update={
                "summary": (
                    f"{t.day:%m-%d}: {len(t.visitors)} unknown visitors at {unit}, {t.peak} "
                    f"arriving {span(t)}: {listed(t.visitors)}"
                )
            }
        )
        for t in qualifying
        if (first := days[t.day].first) is not None and first.event_id != trigger.event_id
    ]
    return Finding(
        alert_type=AlertType.MLM_GATHERING,
        severity=Severity.HIGH,
        community_id=event.community_id,
        subject_kind=SubjectKind.UNIT,
        subject=unit,
        occurred_at=event.occurred_at,
        explanation=Explanation(
            en=(
                f"Unit {unit}: on {len(qualifying)} of the last {config.days_window} days, "
                f"{config.min_visitors}+ unknown visitors came, most of them within "
                f"{config.arrival_window_hours:g} h ({per_day_en}); {len(repeaters)} came on "
                f"2+ days ({listed(repeaters)}). Possible pyramid-scheme (MLM) gathering."
                f"{dropped.en}"
            ),
            zh=(
                f"单元 {unit} 近 {config.days_window} 天中有 {len(qualifying)} 天各有 "
                f"{config.min_visitors} 名以上陌生访客集中到访（{per_day_zh}），"
                f"{len(repeaters)} 人多日重复出现（{listed(repeaters)}），疑似传销聚集"
                f"{dropped.zh}"
            ),
        ),
        evidence=[*evidence, trigger],
    )

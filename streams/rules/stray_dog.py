"""STRAY_DOG: stray dogs keep turning up in a community (a bite risk for children and the
elderly, and a task for the animal-control partner).

A sighting is one dog at one camera: stray-dog reports from the same camera with no gap
longer than `same_dog_minutes` (exactly 5:00 still chains) are one sighting, however long
the dog lingers. Once `min_sightings` sightings (exactly 3 counts) fall within
`window_hours` (a sighting counts while its latest report is at most that old), each new
sighting is a finding; the book folds them into the community's open alert, so it shows
where dogs were seen last. State holds the window's sightings.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field

from schemas.alerts import AlertType, Evidence, Severity, SubjectKind
from schemas.events import CameraAnalytics, CameraAnalyticsKind
from streams.rules.rule import (
    Explanation,
    Finding,
    Outcome,
    Reference,
    Rule,
    RuleConfig,
    RuleState,
    hhmm,
)

LISTED = 6
"""Sightings named in an explanation and its evidence: the latest ones."""
MAX_KEPT = 48
"""Sightings kept: enough for any threshold, while a community overrun with dogs (already
alerted) keeps a small state; explanations then say "48+"."""


class StrayDogConfig(RuleConfig):
    min_sightings: Annotated[int, Field(ge=1, le=MAX_KEPT)] = 3
    window_hours: Annotated[float, Field(ge=1, le=168)] = 24.0
    same_dog_minutes: Annotated[float, Field(ge=0, le=60)] = 5.0


class Sighting(BaseModel):
    camera_id: str
    first_at: datetime
    last_at: datetime
    event_id: str
    """The first report: the sighting's evidence."""


class Sightings(RuleState):
    sightings: list[Sighting] = Field(default_factory=list)
    """Oldest first."""


class StrayDogRule(Rule[CameraAnalytics, Sightings, StrayDogConfig]):
    name = "stray_dog"
    alert_types = (AlertType.STRAY_DOG,)
    Config = StrayDogConfig
    State = Sightings

    def key(self, event: CameraAnalytics, reference: Reference) -> str | None:
        kind = event.analytics_kind
        return event.community_id if kind is CameraAnalyticsKind.STRAY_DOG else None

    def apply(
        self,
        state: Sightings | None,
        event: CameraAnalytics,
        config: StrayDogConfig,
        reference: Reference,
    ) -> Outcome[Sightings]:
        state = state or Sightings(community_id=event.community_id)
        at = event.occurred_at
        same_dog = timedelta(minutes=config.same_dog_minutes)
        sightings = list(state.sightings)
        for i, seen in enumerate(sightings):
            if (
                seen.camera_id == event.camera_id
                and seen.first_at - same_dog <= at <= seen.last_at + same_dog
            ):
                sightings[i] = seen.model_copy(
                    update={"first_at": min(seen.first_at, at), "last_at": max(seen.last_at, at)}
                )
                return Outcome(state.model_copy(update={"sightings": sightings}))
        new = Sighting(camera_id=event.camera_id, first_at=at, last_at=at, event_id=event.event_id)
        horizon = max([at, *(s.last_at for s in sightings)]) - timedelta(hours=config.window_hours)
        if at < horizon:
            return Outcome(state)
        recent = sorted(
            (s for s in [*sightings, new] if s.last_at >= horizon), key=lambda s: s.first_at
        )[-MAX_KEPT:]
        state = state.model_copy(update={"sightings": recent})
        if len(recent) < config.min_sightings:
            return Outcome(state)
        return Outcome(state, findings=[stray_finding(event, recent, config)])


def stray_finding(
    event: CameraAnalytics, sightings: list[Sighting], config: StrayDogConfig
) -> Finding:
    latest = sightings[-LISTED:][::-1]
    listed = [f"{s.camera_id} {hhmm(s.first_at)}" for s in latest]
    more = len(sightings) - len(listed)
    rest_en, rest_zh = (f" and {more} earlier", "等") if more else ("", "")
    count = f"{len(sightings)}+" if len(sightings) >= MAX_KEPT else str(len(sightings))
    window = f"{config.window_hours:g}"
    return Finding(
        alert_type=AlertType.STRAY_DOG,
        severity=Severity.LOW,
        community_id=event.community_id,
        subject_kind=SubjectKind.COMMUNITY,
        subject=event.community_id,
        occurred_at=event.occurred_at,
        explanation=Explanation(
            en=(
                f"{count} stray-dog sightings in community {event.community_id} "
                f"within {window} h (limit {config.min_sightings}), latest first: "
                f"{', '.join(listed)}{rest_en}."
            ),
            zh=(
                f"{event.community_id} 小区 {window} 小时内 {count} 次发现流浪犬"
                f"（阈值 {config.min_sightings} 次），最近：{'、'.join(listed)}{rest_zh}，"
                "请联系犬只收容"
            ),
        ),
        evidence=[
            Evidence(
                event_id=s.event_id,
                event_kind=CameraAnalytics.kind,
                occurred_at=s.first_at,
                summary=f"stray dog at {s.camera_id} from {hhmm(s.first_at)} to {hhmm(s.last_at)}",
            )
            for s in latest
        ],
    )

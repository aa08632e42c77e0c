"""BLOCKED_FIRE_PASSAGE: a camera keeps seeing its fire passage blocked.

Analytics flag a passage for a parcel trolley parked for a minute, so only a blockage the
same camera reports continuously for more than `min_duration_minutes` counts (first to
latest report; exactly 10:00 does not). A silence longer than `max_gap_minutes` ends the
run, and the next report starts a new one. One finding per run; once the reports have
stopped for longer than the gap, the alert resolves (`advance` on the watermark, or the
first report of the next run when it comes before the watermark). State exists only
during a run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field

from schemas.alerts import AlertType, Evidence, Severity, SubjectKind
from schemas.events import CameraAnalytics, CameraAnalyticsKind
from schemas.rule_config import SuppressMinutes
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
)

TICK = timedelta(milliseconds=1)
"""Event times carry millisecond precision: the first instant a gap exceeds the limit."""


class BlockedFirePassageConfig(RuleConfig):
    min_duration_minutes: Annotated[float, Field(ge=1, le=240)] = 10.0
    max_gap_minutes: Annotated[float, Field(ge=0.5, le=60)] = 3.0
    suppress_minutes: SuppressMinutes = 0.0
    """One finding per run already; a passage blocked again after clearing must re-alert."""


class BlockedRun(RuleState):
    first_at: datetime
    first_event: str
    """Event id of the run's first report: the evidence of how long it has been blocked."""
    last_at: datetime
    reports: int = 1
    alerted: bool = False


class BlockedFirePassageRule(Rule[CameraAnalytics, BlockedRun, BlockedFirePassageConfig]):
    name = "blocked_fire_passage"
    alert_types = (AlertType.BLOCKED_FIRE_PASSAGE,)
    Config = BlockedFirePassageConfig
    State = BlockedRun

    def key(self, event: CameraAnalytics, reference: Reference) -> str | None:
        kind = event.analytics_kind
        return event.camera_id if kind is CameraAnalyticsKind.BLOCKED_FIRE_PASSAGE else None

    def apply(
        self,
        state: BlockedRun | None,
        event: CameraAnalytics,
        config: BlockedFirePassageConfig,
        reference: Reference,
    ) -> Outcome[BlockedRun]:
        at = event.occurred_at
        if state is not None and at <= state.last_at:
            return Outcome(state)
        clearances: list[Clearance] = []
        if state is not None and at >= run_end(state, config):
            if state.alerted:
                clearances.append(cleared(event.camera_id, state, config))
            state = None
        if state is None:
            state = BlockedRun(
                community_id=event.community_id,
                first_at=at,
                first_event=event.event_id,
                last_at=at,
            )
        else:
            state = state.model_copy(update={"last_at": at, "reports": state.reports + 1})
        findings: list[Finding] = []
        if not state.alerted and at - state.first_at > timedelta(
            minutes=config.min_duration_minutes
        ):
            findings.append(blocked_finding(event, state))
            state = state.model_copy(update={"alerted": True})
        return Outcome(state, findings=findings, clearances=clearances)

    def wake_at(self, state: BlockedRun, config: BlockedFirePassageConfig) -> datetime | None:
        return run_end(state, config)

    def advance(
        self,
        state: BlockedRun,
        key: str,
        watermark: datetime,
        config: BlockedFirePassageConfig,
        reference: Reference,
    ) -> Outcome[BlockedRun]:
        clearances = [cleared(key, state, config)] if state.alerted else []
        return Outcome(None, clearances=clearances)


def run_end(state: BlockedRun, config: BlockedFirePassageConfig) -> datetime:
    """The first instant the silence since the last report exceeds the allowed gap."""
    return state.last_at + timedelta(minutes=config.max_gap_minutes) + TICK


def blocked_finding(event: CameraAnalytics, run: BlockedRun) -> Finding:
    minutes = int((event.occurred_at - run.first_at).total_seconds() // 60)
    since, now = hhmm(run.first_at), hhmm(event.occurred_at)
    snapshots = ", ".join(event.snapshot_refs) or "none"
    return Finding(
        alert_type=AlertType.BLOCKED_FIRE_PASSAGE,
        severity=Severity.MEDIUM,
        community_id=event.community_id,
        subject_kind=SubjectKind.CAMERA,
        subject=event.camera_id,
        occurred_at=event.occurred_at,
        explanation=Explanation(
            en=(
                f"Camera {event.camera_id} has seen its fire passage blocked since {since} "
                f"({run.reports} reports, {minutes} min by {now}; snapshots: {snapshots}). "
                "Clear the passage."
            ),
            zh=(
                f"摄像机 {event.camera_id} 监测到消防通道自 {since} 起持续被堵塞"
                f"（至 {now} 已 {minutes} 分钟，共 {run.reports} 次报告，抓拍：{snapshots}），"
                "请尽快清理"
            ),
        ),
        evidence=[
            Evidence(
                event_id=run.first_event,
                event_kind=CameraAnalytics.kind,
                occurred_at=run.first_at,
                summary=f"{event.camera_id} first reported the passage blocked at {since}",
            ),
            evidence_of(event, f"{event.camera_id} still reports it blocked at {now}"),
        ],
    )


def cleared(camera_id: str, run: BlockedRun, config: BlockedFirePassageConfig) -> Clearance:
    gap = f"{config.max_gap_minutes:g}"
    last = hhmm(run.last_at)
    return Clearance(
        alert_type=AlertType.BLOCKED_FIRE_PASSAGE,
        community_id=run.community_id,
        subject=camera_id,
        occurred_at=run_end(run, config),
        explanation=Explanation(
            en=f"{camera_id} last reported the passage blocked at {last}, then none for {gap} min.",
            zh=f"{camera_id} 最后一次报告通道堵塞为 {last}，此后 {gap} 分钟未再报告",
        ),
    )

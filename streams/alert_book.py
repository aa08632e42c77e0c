"""The alert book: one live alert per (type, community, subject), so officers get updates,
not floods.

A finding for a subject whose alert is open (or acknowledged) updates that alert: count,
last_seen, evidence. After a resolve the subject stays quiet for the rule's suppression
window; a finding after that opens a new alert. Alert ids derive from the evidence that
opened them, so a replay after a crash rewrites the same alert instead of adding one.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import datetime, timedelta

from schemas.alerts import Alert, AlertStatus, Evidence
from streams.rules.rule import Attachment, Clearance, Finding

MAX_EVIDENCE = 20
"""Evidence kept on an alert: the first item (what opened it) and the latest ones."""
ONE_MS = timedelta(milliseconds=1)


def book_key(alert_type: str, community_id: str, subject: str) -> str:
    return f"{alert_type}|{community_id}|{subject}"


class AlertBook:
    """Decides what each finding does to the alerts; `entries` is the durable store.

    A district-wide book (rules keyed by plate) keeps one alert per subject whichever
    community the latest sighting was in: a cloned plate is one case, not one per community.
    """

    def __init__(self, entries: MutableMapping[str, Alert], district_wide: bool = False) -> None:
        self.entries = entries
        self.district_wide = district_wide

    def key(self, alert_type: str, community_id: str, subject: str) -> str:
        return book_key(alert_type, "*" if self.district_wide else community_id, subject)

    def record(
        self, finding: Finding, received_at: datetime, now: datetime, suppress: timedelta
    ) -> Alert | None:
        """The alert to publish for a finding, or None while suppressed after a resolve."""
        key = self.key(finding.alert_type, finding.community_id, finding.subject)
        current = self.entries.get(key)
        if current is not None and current.status is not AlertStatus.RESOLVED:
            alert = _updated(current, finding, received_at)
        elif (
            current is not None
            and current.resolved_at is not None
            and finding.occurred_at < current.resolved_at + suppress
        ):
            return None
        else:
            alert = _opened(finding, received_at, now)
        self.entries[key] = alert
        return alert

    def attach(self, attachment: Attachment, received_at: datetime) -> Alert | None:
        key = self.key(attachment.alert_type, attachment.community_id, attachment.subject)
        current = self.entries.get(key)
        if current is None or current.status is AlertStatus.RESOLVED:
            return None
        known = {e.event_id for e in current.evidence}
        fresh = [e for e in attachment.evidence if e.event_id not in known]
        if not fresh:
            return None
        alert = current.model_copy(
            update={
                "evidence": _kept([*current.evidence, *fresh]),
                "updated_at": _later(current.updated_at, received_at),
            }
        )
        self.entries[key] = alert
        return alert

    def clear(self, clearance: Clearance, received_at: datetime) -> Alert | None:
        """Resolved no earlier than it began: a clearance read late (a device's buffered
        upload) can be stamped before the outage it ends was declared."""
        key = self.key(clearance.alert_type, clearance.community_id, clearance.subject)
        current = self.entries.get(key)
        if current is None or current.status is AlertStatus.RESOLVED:
            return None
        alert = current.model_copy(
            update={
                "status": AlertStatus.RESOLVED,
                "resolved_at": max(clearance.occurred_at, current.first_seen),
                "explanation": f"{current.explanation} Resolved: {clearance.explanation.en}",
                "explanation_zh": f"{current.explanation_zh}（已恢复：{clearance.explanation.zh}）",
                "updated_at": _later(current.updated_at, received_at),
            }
        )
        self.entries[key] = alert
        return alert

    def officer_update(self, alert: Alert) -> None:
        """An officer acknowledged, resolved or (re)assigned an alert: later updates keep its
        status, note and assignee, and a resolve starts the suppression window.

        Any version of an alert may be offered: only one newer than the book's that changes
        the status or the assignee is an officer's. Our own echoes are never newer, and the
        officer's fields are copied onto the book's version, so what the rule has counted
        since the officer looked (count, evidence) is not lost.
        """
        key = self.key(alert.alert_type, alert.community_id, alert.subject)
        current = self.entries.get(key)
        if (
            current is None
            or current.alert_id != alert.alert_id
            or alert.updated_at <= current.updated_at
            or (alert.status is current.status and alert.assigned_to == current.assigned_to)
        ):
            return
        self.entries[key] = current.model_copy(
            update={
                "status": alert.status,
                "note": alert.note,
                "assigned_to": alert.assigned_to,
                "resolved_at": alert.resolved_at,
                "updated_at": alert.updated_at,
            }
        )


def _opened(finding: Finding, received_at: datetime, now: datetime) -> Alert:
    opener = finding.evidence[0].event_id if finding.evidence else finding.occurred_at.isoformat()
    return Alert(
        alert_id=f"{finding.alert_type}:{finding.subject}:{opener}",
        alert_type=finding.alert_type,
        severity=finding.severity,
        community_id=finding.community_id,
        subject_kind=finding.subject_kind,
        subject=finding.subject,
        first_seen=finding.occurred_at,
        last_seen=finding.occurred_at,
        count=1,
        explanation=finding.explanation.en,
        explanation_zh=finding.explanation.zh,
        evidence=_kept(list(finding.evidence)),
        raised_at=now,
        updated_at=received_at,
        source_received_at=received_at,
    )


def _updated(current: Alert, finding: Finding, received_at: datetime) -> Alert:
    """community_id and first_seen stay as opened: with alert_id they are the row's key in
    ClickHouse, so every version must carry the same ones to replace the last."""
    known = {e.event_id for e in current.evidence}
    fresh = [e for e in finding.evidence if e.event_id not in known]
    severity = max(current.severity, finding.severity, key=lambda s: s.rank)
    return current.model_copy(
        update={
            "severity": severity,
            "last_seen": max(current.last_seen, finding.occurred_at),
            "count": current.count + 1,
            "explanation": finding.explanation.en,
            "explanation_zh": finding.explanation.zh,
            "evidence": _kept([*current.evidence, *fresh]),
            "updated_at": _later(current.updated_at, received_at),
        }
    )


def _kept(evidence: list[Evidence]) -> list[Evidence]:
    if len(evidence) <= MAX_EVIDENCE:
        return evidence
    return [evidence[0], *evidence[-(MAX_EVIDENCE - 1) :]]


def _later(previous: datetime, candidate: datetime) -> datetime:
    """Each version must sort after the last one, or ReplacingMergeTree keeps the older."""
    return max(candidate, previous + ONE_MS)

"""Scoring alerts against a scenario's labels: precision and recall per alert type.

A label says which alert should appear (type and subject) and when it may first fire. An
alert matches a label of its type and subject when its `first_seen` falls inside the
label's window widened by TOLERANCE on both sides (event times carry device-clock jitter,
and rules may fire on the reading before or after the exact threshold). Matching is
one-to-one: a second alert for the same label is a false positive, as it would be a
duplicate on an officer's screen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.alerts import OPERATIONAL_ALERT_TYPES, RULE_ALERT_TYPES, Alert, AlertType

TOLERANCE = timedelta(minutes=2)


@dataclass(frozen=True)
class Label:
    """An alert the rules should raise: `start`..`end` bounds its first_seen."""

    alert_type: AlertType
    community_id: str
    subject: str
    start: datetime
    end: datetime
    note: str

    def admits(self, alert: Alert) -> bool:
        return (
            alert.alert_type is self.alert_type
            and alert.subject == self.subject
            and self.start - TOLERANCE <= alert.first_seen <= self.end + TOLERANCE
        )


@dataclass
class RuleScore:
    """One alert type's outcome; `missed` and `unexpected` are there to debug a rule."""

    alert_type: AlertType
    tp: int = 0
    fp: int = 0
    fn: int = 0
    missed: list[Label] = field(default_factory=list)
    unexpected: list[Alert] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return 1.0 if self.tp + self.fp == 0 else self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float:
        return 1.0 if self.tp + self.fn == 0 else self.tp / (self.tp + self.fn)


def score(labels: Sequence[Label], alerts: Sequence[Alert]) -> dict[AlertType, RuleScore]:
    """Every alert type, matched or not; `alerts` are the latest version of each alert id
    (older versions, if passed, are dropped)."""
    labels_by: dict[tuple[AlertType, str], list[Label]] = defaultdict(list)
    for label in labels:
        labels_by[label.alert_type, label.subject].append(label)
    alerts_by: dict[tuple[AlertType, str], list[Alert]] = defaultdict(list)
    for alert in latest(alerts):
        if alert.alert_type in OPERATIONAL_ALERT_TYPES:
            continue
        alerts_by[alert.alert_type, alert.subject].append(alert)
    scores = {alert_type: RuleScore(alert_type) for alert_type in RULE_ALERT_TYPES}
    for key in labels_by.keys() | alerts_by.keys():
        result = scores[key[0]]
        missed, unexpected = _match(labels_by.get(key, []), alerts_by.get(key, []))
        result.tp += len(labels_by.get(key, [])) - len(missed)
        result.fn += len(missed)
        result.fp += len(unexpected)
        result.missed += missed
        result.unexpected += unexpected
    for result in scores.values():
        result.missed.sort(key=lambda label: label.start)
        result.unexpected.sort(key=lambda alert: alert.first_seen)
    return scores


def latest(alerts: Sequence[Alert]) -> list[Alert]:
    """One alert per alert id: the last updated."""
    newest: dict[str, Alert] = {}
    for alert in alerts:
        current = newest.get(alert.alert_id)
        if current is None or alert.updated_at >= current.updated_at:
            newest[alert.alert_id] = alert
    return list(newest.values())


def _match(labels: list[Label], alerts: list[Alert]) -> tuple[list[Label], list[Alert]]:
    """Labels and alerts of one type and subject left unmatched.

    Alerts in first_seen order each take the open label (window containing it) that
    closes first: for points and intervals this greedy gives a maximum matching.
    """
    open_labels = sorted(labels, key=lambda label: label.end)
    unexpected: list[Alert] = []
    for alert in sorted(alerts, key=lambda alert: alert.first_seen):
        match = next((label for label in open_labels if label.admits(alert)), None)
        if match is None:
            unexpected.append(alert)
        else:
            open_labels.remove(match)
    return open_labels, unexpected

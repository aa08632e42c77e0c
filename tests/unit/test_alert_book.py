"""The alert book on its own: one live alert per subject, suppression, attach, resolve."""

from datetime import UTC, datetime, timedelta

from schemas.alerts import Alert, AlertStatus, AlertType, Evidence, Severity, SubjectKind
from streams.alert_book import MAX_EVIDENCE, AlertBook
from streams.rules.rule import Attachment, Clearance, Explanation, Finding

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
NO_SUPPRESSION = timedelta(0)


def evidence(n: int, at: datetime) -> Evidence:
    return Evidence(event_id=f"e{n}", event_kind="perimeter_alarm", occurred_at=at, summary="x")


def finding(n: int, at: datetime, severity: Severity = Severity.HIGH) -> Finding:
    return Finding(
        alert_type=AlertType.PERIMETER_INTRUSION,
        severity=severity,
        community_id="c01",
        subject_kind=SubjectKind.FENCE_ZONE,
        subject="c01-fz1",
        occurred_at=at,
        explanation=Explanation(en=f"alarm {n}", zh=f"报警 {n}"),
        evidence=[evidence(n, at)],
    )


def clearance(at: datetime) -> Clearance:
    return Clearance(
        alert_type=AlertType.PERIMETER_INTRUSION,
        community_id="c01",
        subject="c01-fz1",
        occurred_at=at,
        explanation=Explanation(en="quiet", zh="恢复"),
    )


def test_repeat_finding_updates_the_open_alert() -> None:
    book = AlertBook({})
    first = book.record(finding(1, T0), T0, T0, NO_SUPPRESSION)
    second = book.record(
        finding(2, T0 + timedelta(minutes=1), Severity.CRITICAL), T0, T0, NO_SUPPRESSION
    )
    assert first is not None and second is not None
    assert second.alert_id == first.alert_id
    assert second.count == 2
    assert second.severity is Severity.CRITICAL
    assert second.last_seen == T0 + timedelta(minutes=1)
    assert second.updated_at > first.updated_at
    assert [e.event_id for e in second.evidence] == ["e1", "e2"]


def test_resolved_subject_is_quiet_for_the_suppression_window_then_opens_a_new_alert() -> None:
    book = AlertBook({})
    first = book.record(finding(1, T0), T0, T0, timedelta(minutes=30))
    resolved = book.clear(clearance(T0 + timedelta(minutes=5)), T0)
    assert resolved is not None and resolved.status is AlertStatus.RESOLVED
    suppress = timedelta(minutes=30)
    assert book.record(finding(2, T0 + timedelta(minutes=20)), T0, T0, suppress) is None
    reopened = book.record(finding(3, T0 + timedelta(minutes=40)), T0, T0, suppress)
    assert reopened is not None and first is not None
    assert reopened.alert_id != first.alert_id
    assert reopened.status is AlertStatus.OPEN and reopened.count == 1


def test_attachment_adds_evidence_without_counting_and_only_to_open_alerts() -> None:
    book = AlertBook({})
    assert book.attach(_attachment(9), T0) is None
    book.record(finding(1, T0), T0, T0, NO_SUPPRESSION)
    attached = book.attach(_attachment(9), T0)
    assert attached is not None and attached.count == 1
    assert [e.event_id for e in attached.evidence] == ["e1", "e9"]
    assert book.attach(_attachment(9), T0) is None


def test_evidence_keeps_the_opener_and_the_latest() -> None:
    book = AlertBook({})
    for n in range(MAX_EVIDENCE + 5):
        alert = book.record(finding(n, T0 + timedelta(seconds=n)), T0, T0, NO_SUPPRESSION)
    assert alert is not None
    ids = [e.event_id for e in alert.evidence]
    assert len(ids) == MAX_EVIDENCE
    assert ids[0] == "e0" and ids[-1] == f"e{MAX_EVIDENCE + 4}"


def test_officer_acknowledgement_survives_later_updates() -> None:
    book = AlertBook({})
    opened = book.record(finding(1, T0), T0, T0, NO_SUPPRESSION)
    assert opened is not None
    acked = opened.model_copy(
        update={"status": AlertStatus.ACKNOWLEDGED, "updated_at": T0 + timedelta(seconds=5)}
    )
    book.officer_update(acked)
    book.officer_update(opened)  # our own older echo changes nothing
    later = book.record(finding(2, T0 + timedelta(minutes=1)), T0, T0, NO_SUPPRESSION)
    assert later is not None
    assert later.status is AlertStatus.ACKNOWLEDGED and later.count == 2
    assert later.updated_at > acked.updated_at


def _attachment(n: int) -> Attachment:
    return Attachment(
        alert_type=AlertType.PERIMETER_INTRUSION,
        community_id="c01",
        subject="c01-fz1",
        occurred_at=T0,
        evidence=[evidence(n, T0)],
    )


def test_officer_assignment_is_an_officer_update_kept_by_later_updates() -> None:
    book = AlertBook({})
    opened = book.record(finding(1, T0), T0, T0, NO_SUPPRESSION)
    assert opened is not None
    assigned = Alert.model_validate(
        opened.model_dump() | {"assigned_to": "officer-7", "updated_at": T0 + timedelta(seconds=5)}
    )
    book.officer_update(assigned)  # same status, new assignee, newer: the officer's step
    book.officer_update(opened)  # our own older echo changes nothing
    later = book.record(finding(2, T0 + timedelta(minutes=1)), T0, T0, NO_SUPPRESSION)
    assert later is not None
    assert later.status is AlertStatus.OPEN and later.count == 2
    assert later.assigned_to == "officer-7"
    assert later.updated_at > assigned.updated_at


def test_officer_acknowledgement_carries_its_note_and_assignee() -> None:
    book = AlertBook({})
    opened = book.record(finding(1, T0), T0, T0, NO_SUPPRESSION)
    assert opened is not None
    acked = Alert.model_validate(
        opened.model_dump()
        | {
            "status": AlertStatus.ACKNOWLEDGED,
            "note": "patrol sent",
            "assigned_to": "officer-7",
            "updated_at": T0 + timedelta(seconds=5),
        }
    )
    book.officer_update(acked)
    unassigned = Alert.model_validate(
        acked.model_dump() | {"assigned_to": None, "updated_at": T0 + timedelta(seconds=3)}
    )
    book.officer_update(unassigned)  # older than what the book holds: ignored
    later = book.record(finding(2, T0 + timedelta(minutes=1)), T0, T0, NO_SUPPRESSION)
    assert later is not None
    assert (later.status, later.note, later.assigned_to) == (
        AlertStatus.ACKNOWLEDGED,
        "patrol sent",
        "officer-7",
    )

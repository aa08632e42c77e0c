from datetime import timedelta

from schemas.alerts import AlertType, Severity, SubjectKind
from schemas.events import CameraAnalyticsKind, DeviceKind, PerimeterAlarmKind
from schemas.reference import Device
from streams.rules.perimeter_intrusion import PerimeterIntrusionRule
from tests.unit.rules.harness import (
    T0,
    RuleHarness,
    StaticReference,
    analytics,
    face,
    fence_alarm,
)

ZONE = "c01-fz2"
NEAR = "c01-pub3"
ELSEWHERE = "c01-pub1"
EMBEDDING = [0.1] * 128


def camera(camera_id: str, place: str) -> Device:
    return Device(
        device_id=camera_id, community_id="c01", device_kind=DeviceKind.CAMERA, place=place
    )


REFERENCE = StaticReference(
    devices=[
        camera(NEAR, ZONE),
        camera(ELSEWHERE, "c01-fz5"),
        Device(
            device_id="c01-fz2-ctl",
            community_id="c01",
            device_kind=DeviceKind.FENCE_CONTROLLER,
            place=ZONE,
        ),
    ]
)


def harness(**overrides: float) -> RuleHarness:
    return RuleHarness(PerimeterIntrusionRule(), REFERENCE, **overrides)


def after(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_crossing_alarm_is_a_critical_finding_at_once() -> None:
    alarm = fence_alarm(ZONE, T0)
    h = harness()
    run = h.feed([alarm])
    (alert,) = run.alerts
    assert alert.alert_type is AlertType.PERIMETER_INTRUSION
    assert alert.severity is Severity.CRITICAL
    assert alert.subject_kind is SubjectKind.FENCE_ZONE and alert.subject == ZONE
    assert alert.evidence[0].event_id == alarm.event_id
    assert "10:00" in alert.explanation and NEAR in alert.explanation
    assert "c01-fz2-ctl" not in alert.explanation
    assert "翻越报警" in alert.explanation_zh


def test_severity_follows_the_alarm_kind() -> None:
    kinds = {
        PerimeterAlarmKind.TAMPER: Severity.HIGH,
        PerimeterAlarmKind.POWER_LOSS: Severity.MEDIUM,
    }
    for kind, severity in kinds.items():
        (finding,) = harness().feed([fence_alarm(ZONE, T0, kind=kind)]).findings
        assert finding.severity is severity


def test_captures_from_the_zone_cameras_are_attached_without_counting() -> None:
    seen = face(NEAR, T0 + after(20), EMBEDDING)
    dog = analytics(NEAR, T0 + after(40), CameraAnalyticsKind.STRAY_DOG)
    run = harness().feed([fence_alarm(ZONE, T0), seen, dog])
    assert len(run.attachments) == 2
    (alert,) = run.open_alerts().values()
    assert alert.count == 1
    assert [e.event_id for e in alert.evidence][1:] == [seen.event_id, dog.event_id]
    assert "unknown face captured by c01-pub3" in alert.evidence[1].summary


def test_captures_from_other_cameras_are_a_near_miss() -> None:
    run = harness().feed([fence_alarm(ZONE, T0), face(ELSEWHERE, T0 + after(10), EMBEDDING)])
    assert run.attachments == []


def test_attach_window_ends_exactly_two_minutes_after_the_alarm() -> None:
    h = harness()
    run = h.feed(
        [
            fence_alarm(ZONE, T0),
            face(NEAR, T0 + after(120), EMBEDDING),
            face(NEAR, T0 + after(120.001), EMBEDDING),
        ]
    )
    assert len(run.attachments) == 1
    assert h.states == {}


def test_a_repeat_alarm_updates_the_alert_and_extends_the_window() -> None:
    run = harness().feed(
        [
            fence_alarm(ZONE, T0),
            fence_alarm(ZONE, T0 + after(90)),
            face(NEAR, T0 + after(200), EMBEDDING),
        ]
    )
    assert len(run.attachments) == 1
    (alert,) = run.open_alerts().values()
    assert alert.count == 2


def test_no_open_zone_means_no_state() -> None:
    h = harness()
    h.feed([face(NEAR, T0, EMBEDDING)])
    assert h.states == {}
    assert PerimeterIntrusionRule().key(face("c01-unknown", T0, EMBEDDING), REFERENCE) is None


def test_zone_without_cameras_alerts_and_keeps_nothing_open() -> None:
    h = harness()
    (finding,) = h.feed([fence_alarm("c01-fz7", T0)]).findings
    assert "No camera covers this zone" in finding.explanation.en
    assert h.states == {}


def test_restart_between_alarm_and_capture_still_attaches_to_the_one_alert() -> None:
    h = harness()
    h.feed([fence_alarm(ZONE, T0)])
    h.restart()
    run = h.feed([face(NEAR, T0 + after(30), EMBEDDING, matched_person_id="c01-p0042")])
    (attachment,) = run.attachments
    assert "person c01-p0042" in attachment.evidence[0].summary
    (alert,) = run.open_alerts().values()
    assert len(alert.evidence) == 2

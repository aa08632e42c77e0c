from datetime import timedelta

from schemas.alerts import AlertStatus, AlertType, Severity, SubjectKind
from schemas.events import DeviceKind, DeviceTelemetry
from schemas.reference import Device
from streams.rules.device_offline import DeviceOfflineRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, telemetry

CAMERA = "c01-cam1"
GATE_CAMERA = Device(
    device_id=CAMERA, community_id="c01", device_kind=DeviceKind.CAMERA, place="c01-g1"
)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def harness(**overrides: object) -> RuleHarness:
    return RuleHarness(DeviceOfflineRule(), StaticReference(devices=[GATE_CAMERA]), **overrides)


def door_ticks(first: int, last: int) -> list[DeviceTelemetry]:
    """Another device's heartbeat every minute: the stream's watermark keeps moving."""
    return [
        telemetry("c01-door1", T0 + minutes(m), device_kind=DeviceKind.DOOR)
        for m in range(first, last + 1)
    ]


def test_silent_camera_raises_one_high_alert_and_resolves_when_it_reports_again() -> None:
    h = harness()
    last = telemetry(CAMERA, T0)
    h.feed([last, *door_ticks(1, 11)])
    (alert,) = h.run.open_alerts().values()
    assert alert.alert_type is AlertType.DEVICE_OFFLINE
    assert alert.severity is Severity.HIGH
    assert (alert.subject_kind, alert.subject) == (SubjectKind.DEVICE, CAMERA)
    assert alert.first_seen == T0 + minutes(5) + timedelta(milliseconds=1)
    assert alert.evidence[0].event_id == last.event_id
    assert "since 10:00" in alert.explanation and "c01-g1" in alert.explanation
    assert "10:00" in alert.explanation_zh and "离线" in alert.explanation_zh

    h.feed([telemetry(CAMERA, T0 + minutes(12))])
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED
    assert alert.resolved_at == T0 + minutes(12)
    assert "after 12 min" in alert.explanation and "中断 12 分钟" in alert.explanation_zh
    assert len(h.run.findings) == 1


def test_camera_rebooting_for_two_minutes_does_not_alert() -> None:
    h = harness()
    camera = [telemetry(CAMERA, T0), *(telemetry(CAMERA, T0 + minutes(m)) for m in range(2, 20))]
    h.feed(sorted([*camera, *door_ticks(1, 20)], key=lambda e: e.occurred_at))
    h.advance_to(T0 + minutes(20))
    assert h.run.findings == []


def test_silence_of_exactly_the_limit_is_still_online() -> None:
    h = harness()
    h.feed([telemetry(CAMERA, T0)])
    h.advance_to(T0 + minutes(5))
    assert h.run.findings == []
    h.advance_to(T0 + minutes(5) + timedelta(milliseconds=1))
    assert len(h.run.findings) == 1


def test_heartbeat_exactly_at_the_limit_keeps_the_device_online() -> None:
    h = harness()
    h.feed([telemetry(CAMERA, T0), telemetry(CAMERA, T0 + minutes(5))])
    h.advance_to(T0 + minutes(10))
    assert h.run.findings == []


def test_restart_during_outage_keeps_one_alert_which_resolves_and_a_new_outage_alerts() -> None:
    h = harness()
    h.feed([telemetry(CAMERA, T0)])
    h.advance_to(T0 + minutes(6))
    h.restart()
    h.advance_to(T0 + minutes(30))
    h.restart()
    assert len(h.run.alerts) == 1

    h.feed([telemetry(CAMERA, T0 + minutes(31))])
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED and "after 31 min" in alert.explanation

    h.advance_to(T0 + minutes(37))
    latest = h.run.open_alerts()
    assert len(latest) == 2
    assert [a.status for a in latest.values()] == [AlertStatus.RESOLVED, AlertStatus.OPEN]


def test_door_controller_is_medium_and_severity_kinds_are_configurable() -> None:
    door = [telemetry("c01-door1", T0, device_kind=DeviceKind.DOOR)]
    h = harness()
    h.feed(door)
    h.advance_to(T0 + minutes(6))
    assert h.run.findings[0].severity is Severity.MEDIUM
    assert "Door controller c01-door1" in h.run.findings[0].explanation.en

    h = harness(high_kinds=["door"], offline_minutes=2)
    h.feed(door)
    h.advance_to(T0 + minutes(3))
    assert h.run.findings[0].severity is Severity.HIGH


def test_late_heartbeat_older_than_the_last_changes_nothing() -> None:
    h = harness()
    h.feed([telemetry(CAMERA, T0 + minutes(3)), telemetry(CAMERA, T0)])
    h.advance_to(T0 + minutes(8))
    assert h.run.findings == []
    h.advance_to(T0 + minutes(9))
    assert len(h.run.findings) == 1


def test_a_second_outage_is_never_suppressed_by_default() -> None:
    assert DeviceOfflineRule.Config().suppress_minutes == 0


def unreachable(device_id: str, at: timedelta, errors: float = 1.0) -> DeviceTelemetry:
    """A Modbus poller's health record: it tried the device and got no answer."""
    return telemetry(
        device_id,
        T0 + at,
        metrics={"online": 0.0, "errors": errors},
        device_kind=DeviceKind.FENCE_CONTROLLER,
    )


def test_poller_reporting_a_device_unreachable_does_not_keep_it_alive() -> None:
    h = harness()
    last = telemetry(CAMERA, T0)
    polls = [unreachable(CAMERA, minutes(m)) for m in range(1, 12)]
    h.feed(sorted([last, *polls, *door_ticks(1, 11)], key=lambda e: e.occurred_at))
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.OPEN
    assert alert.first_seen == T0 + minutes(5) + timedelta(milliseconds=1)
    assert alert.evidence[0].event_id == last.event_id


def test_unreachable_report_does_not_resolve_an_outage_but_a_reading_does() -> None:
    h = harness()
    h.feed([telemetry(CAMERA, T0), *door_ticks(1, 8)])
    h.feed([unreachable(CAMERA, minutes(9))])
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.OPEN

    h.feed([telemetry(CAMERA, T0 + minutes(10), metrics={"online": 1.0, "errors": 3.0})])
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED
    assert "after 10 min" in alert.explanation


def test_device_unreachable_from_its_first_report_is_offline_after_the_limit() -> None:
    fence = "c01-fence1"
    h = harness()
    first = unreachable(fence, minutes(0))
    h.feed(sorted([first, *door_ticks(1, 5)], key=lambda e: e.occurred_at))
    h.advance_to(T0 + minutes(5))
    assert h.run.findings == []
    h.feed([unreachable(fence, minutes(6)), *door_ticks(6, 6)])
    h.advance_to(T0 + minutes(6))
    (finding,) = h.run.findings
    assert finding.subject == fence
    assert finding.severity is Severity.HIGH
    assert finding.evidence[0].event_id == first.event_id


def test_telemetry_without_an_online_metric_is_a_heartbeat() -> None:
    h = harness()
    readings = [
        telemetry(CAMERA, T0 + minutes(m), metrics={"temperature_c": 30.0}) for m in range(12)
    ]
    h.feed(sorted([*readings, *door_ticks(1, 11)], key=lambda e: e.occurred_at))
    assert h.run.findings == []


def test_time_in_which_the_platform_heard_no_device_is_not_counted_as_silence() -> None:
    rule, config, reference = DeviceOfflineRule(), DeviceOfflineRule.Config(), StaticReference()
    seen = rule.apply(None, telemetry(CAMERA, T0 + minutes(3)), config, reference).state
    assert seen is not None
    dark = rule.heard_nothing(seen, minutes(30), config)
    assert dark is not None
    assert rule.wake_at(dark, config) == T0 + minutes(38) + timedelta(milliseconds=1)

    (finding,) = rule.advance(dark, CAMERA, T0 + minutes(39), config, reference).findings
    assert finding.occurred_at == T0 + minutes(38) + timedelta(milliseconds=1)
    en, zh = finding.explanation.en, finding.explanation.zh
    assert "36 min so far, limit 5 min; not counting 30 min in which the platform heard" in en
    assert "不计平台未收到任何设备数据的 30 分钟" in zh

    back = rule.apply(dark, telemetry(CAMERA, T0 + minutes(35)), config, reference)
    assert back.clearances == [] and back.state is not None
    assert rule.wake_at(back.state, config) == T0 + minutes(40) + timedelta(milliseconds=1)


def test_an_outage_declared_before_the_platform_went_dark_stays_as_it_was() -> None:
    rule, config, reference = DeviceOfflineRule(), DeviceOfflineRule.Config(), StaticReference()
    seen = rule.apply(None, telemetry(CAMERA, T0), config, reference).state
    assert seen is not None
    offline = rule.advance(seen, CAMERA, T0 + minutes(6), config, reference).state
    assert offline is not None and offline.offline
    assert rule.heard_nothing(offline, minutes(30), config) is None


def shed_reading(slot: int, at: timedelta) -> DeviceTelemetry:
    reading = telemetry(
        f"c01-shed1-s{slot:02d}",
        T0 + at,
        metrics={"slot": float(slot), "temperature_c": 21.0},
        device_kind=DeviceKind.CHARGING_SHED,
    )
    return reading.model_copy(update={"controller_id": "c01-shed1"})


def test_an_unreachable_shed_is_one_outage_of_its_controller_not_one_per_slot() -> None:
    h = harness()
    readings = [shed_reading(slot, minutes(m)) for m in range(3) for slot in range(1, 17)]
    h.feed(sorted([*readings, *door_ticks(1, 12)], key=lambda e: e.occurred_at))
    (alert,) = h.run.open_alerts().values()
    assert alert.subject == "c01-shed1" and alert.severity is Severity.MEDIUM
    assert alert.first_seen == T0 + minutes(7) + timedelta(milliseconds=1)
    assert alert.explanation.startswith("Charging shed c01-shed1 has sent no telemetry since")

    h.feed([shed_reading(5, minutes(13))])
    (alert,) = h.run.open_alerts().values()
    assert alert.status is AlertStatus.RESOLVED and "c01-shed1 reported again" in alert.explanation

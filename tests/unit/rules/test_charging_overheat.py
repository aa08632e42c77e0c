from datetime import datetime, timedelta

from schemas.alerts import AlertStatus, AlertType, Severity, SubjectKind
from schemas.events import DeviceKind, DeviceTelemetry
from schemas.reference import Device
from streams.rules.charging_overheat import ChargingOverheatRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, telemetry

SLOT = "c01-shed1-s03"
RATED_SLOT = "c01-shed1-s04"
REFERENCE = StaticReference(
    devices=[
        Device(
            device_id=SLOT,
            community_id="c01",
            device_kind=DeviceKind.CHARGING_SHED,
            place="c01-shed1",
        ),
        Device(
            device_id=RATED_SLOT,
            community_id="c01",
            device_kind=DeviceKind.CHARGING_SHED,
            place="c01-shed1",
            rated_current_a=16.0,
        ),
    ]
)


def harness(**overrides: float) -> RuleHarness:
    return RuleHarness(ChargingOverheatRule(), REFERENCE, **overrides)


def reading(
    at: datetime,
    temperature_c: float = 30.0,
    current_a: float = 2.5,
    smoke: float = 0.0,
    slot: str = SLOT,
) -> DeviceTelemetry:
    metrics = {
        "slot": float(slot[-2:]),
        "temperature_c": temperature_c,
        "current_a": current_a,
        "voltage_v": 220.0,
        "power_w": current_a * 220.0,
        "charging": 1.0,
        "smoke": smoke,
    }
    return telemetry(slot, at, metrics, device_kind=DeviceKind.CHARGING_SHED)


def series(
    temperatures: list[float], step_s: float = 30.0, start: datetime = T0
) -> list[DeviceTelemetry]:
    return [reading(start + timedelta(seconds=i * step_s), t) for i, t in enumerate(temperatures)]


def test_hot_slot_raises_one_critical_alert_naming_shed_slot_reading_and_time() -> None:
    run = harness().feed(series([55.0, 58.0, 61.2, 61.5, 61.0], step_s=60.0))
    (finding,) = run.findings
    assert finding.severity is Severity.CRITICAL
    assert finding.subject_kind is SubjectKind.SHED_SLOT and finding.subject == SLOT
    assert finding.occurred_at == T0 + timedelta(minutes=2)
    assert "c01-shed1" in finding.explanation.en and "slot 3" in finding.explanation.en
    assert "61.2 °C" in finding.explanation.en and "10:02" in finding.explanation.en
    assert "充电棚 c01-shed1 3 号插座" in finding.explanation.zh
    (alert,) = run.open_alerts().values()
    assert alert.alert_type is AlertType.CHARGING_OVERHEAT and alert.count == 1


def test_slow_summer_rise_while_charging_is_a_near_miss() -> None:
    """35 → 55 °C over an hour (0.33 °C/min) with sensor jitter: warm, not a fire."""
    jitter = [0.4, -0.3, 0.2, -0.4]
    temperatures = [35.0 + 20.0 * i / 60 + jitter[i % 4] for i in range(61)]
    assert harness().feed(series(temperatures, step_s=60.0)).findings == []


def test_exactly_the_temperature_limit_is_normal_and_a_tenth_above_fires() -> None:
    h = harness()
    assert h.feed([reading(T0, 60.0)]).findings == []
    (finding,) = h.feed([reading(T0 + timedelta(minutes=1), 60.1)]).findings
    assert "60.1 °C" in finding.explanation.en


def test_current_above_rating_fires_exactly_at_rating_does_not() -> None:
    h = harness()
    h.feed([reading(T0, current_a=16.0, slot=RATED_SLOT)])
    assert h.run.findings == []
    (finding,) = h.feed(
        [reading(T0 + timedelta(minutes=1), current_a=16.5, slot=RATED_SLOT)]
    ).findings
    assert "16.50 A (rated 16 A)" in finding.explanation.en


def test_unrated_slot_uses_the_default_rating() -> None:
    (finding,) = harness().feed([reading(T0, current_a=10.5)]).findings
    assert "rated 10 A" in finding.explanation.en


def test_fast_rise_fires_before_the_limit_with_both_ends_as_evidence() -> None:
    """+3 °C every 30 s is 6 °C/min; two minutes of smoothed readings need 7 readings."""
    run = harness().feed(series([30.0 + 3.0 * i for i in range(8)]))
    (finding,) = run.findings
    assert finding.occurred_at == T0 + timedelta(seconds=180)
    assert "rising 6.0 °C/min" in finding.explanation.en
    assert "33.0 °C at 10:00 → 45.0 °C at 10:02" in finding.explanation.en
    assert len(finding.evidence) == 2


def test_rise_at_exactly_the_limit_does_not_fire() -> None:
    assert harness().feed(series([30.0 + 2.5 * i for i in range(12)])).findings == []


def test_a_single_noisy_reading_neither_raises_nor_masks_a_rise() -> None:
    spike = [30.0, 30.2, 29.9, 52.0, 30.1, 30.0, 30.2, 29.8, 30.0]
    assert harness().feed(series(spike)).findings == []
    dip = [30.0 + 3.0 * i for i in range(8)]
    dip[3] = 20.0
    assert len(harness().feed(series(dip)).findings) == 1


def test_smoke_input_fires() -> None:
    (finding,) = (
        harness().feed([reading(T0), reading(T0 + timedelta(minutes=1), smoke=1.0)]).findings
    )
    assert "smoke" in finding.explanation.en


def test_a_new_hazard_in_an_open_episode_updates_the_same_alert() -> None:
    run = harness().feed(
        [
            reading(T0, 65.0),
            reading(T0 + timedelta(minutes=1), 66.0),
            reading(T0 + timedelta(minutes=2), 67.0, smoke=1.0),
            reading(T0 + timedelta(minutes=3), 68.0, smoke=1.0),
        ]
    )
    assert len(run.findings) == 2
    (alert,) = run.open_alerts().values()
    assert alert.count == 2 and "smoke" in alert.explanation


def test_clears_after_ten_minutes_normal_and_reignition_raises_a_new_alert() -> None:
    h = harness()
    h.feed([reading(T0, 65.0)])
    cool = T0 + timedelta(minutes=1)
    h.feed([reading(cool + timedelta(minutes=m), 45.0) for m in range(10)])
    assert h.run.clearances == []  # normal from 10:01 to 10:10 is 9 min
    h.feed([reading(cool + timedelta(minutes=10), 44.0)])
    (clearance,) = h.run.clearances
    assert "normal since 10:01" in clearance.explanation.en
    h.feed([reading(cool + timedelta(minutes=12), 70.0)])
    alerts = h.run.open_alerts()
    assert len(alerts) == 2
    assert sorted(a.status for a in alerts.values()) == [AlertStatus.OPEN, AlertStatus.RESOLVED]


def test_restart_mid_rise_keeps_the_series_and_raises_exactly_one_alert() -> None:
    h = harness()
    rising = series([30.0 + 3.0 * i for i in range(10)])
    h.feed(rising[:5])
    h.restart()
    run = h.feed(rising[5:])
    assert len(run.findings) == 1
    assert len(run.open_alerts()) == 1


def test_other_devices_are_not_the_rule_s_business() -> None:
    camera = telemetry("c01-pub3", T0, {"temperature_c": 90.0})
    assert ChargingOverheatRule().key(camera, REFERENCE) is None

"""Polls as records: slot telemetry the CHARGING_OVERHEAT rule reads, one alarm per edge."""

from datetime import UTC, datetime, timedelta

from ingest.modbus.devices import DeviceConfig, resolve
from ingest.modbus.read_plan import Values
from ingest.modbus.readings import Health, health_record, poll_records
from ingest.modbus.register_map import load_maps
from ingest.simulator.everyday import slot_metrics
from schemas.alerts import AlertType
from schemas.events import (
    AccessMethod,
    DeviceKind,
    DeviceTelemetry,
    DoorAccess,
    DoorKind,
    PerimeterAlarm,
    PerimeterAlarmKind,
)
from streams.rules.charging_overheat import ChargingOverheatRule
from tests.unit.rules.harness import RuleHarness

MAPS = load_maps()
COMMUNITIES = frozenset({"c01"})
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
ONLINE = Health(online=True, errors=0, consecutive_errors=0, last_seen=T0, poll_ms=2.0)


def device(model: str, device_id: str, **config: object):
    (resolved,) = resolve(
        [DeviceConfig(device_id=device_id, community="c01", model=model, host="h", **config)],
        MAPS,
        COMMUNITIES,
    )
    return resolved


SHED = device("charging_shed", "c01-shed1", channels=["c01-shed1-s01", "c01-shed1-s02"])
FENCE = device("fence_controller", "c01-fence1", channels=["c01-fz1", "c01-fz2"])


def shed_values(temperature: float = 25.0, charging: float = 1.0, smoke: float = 0.0) -> Values:
    values: Values = {
        ("smoke", None): smoke,
        ("card_number", None): 4000123456.0,
        ("card_swiped_at", None): 1795000000.0,
        ("card_slot", None): 2.0,
    }
    for n in (1, 2):
        values |= {
            ("occupied", n): 1.0,
            ("charging", n): charging,
            ("current_a", n): 2.5,
            ("voltage_v", n): 220.0,
            ("temperature_c", n): temperature if n == 2 else 25.0,
            ("fault", n): 0.0,
            ("energy_wh", n): 1500.0,
        }
    return values


def fence_values(alarm: float = 0.0, mains: float = 1.0, tamper: float = 0.0) -> Values:
    values: Values = {("battery_v", None): 13.1}
    for n in (1, 2):
        values |= {
            ("alarm", n): alarm if n == 2 else 0.0,
            ("tamper", n): tamper if n == 2 else 0.0,
            ("mains", n): mains,
            ("voltage_kv", n): 8.0,
        }
    return values


def test_each_slot_is_telemetry_in_the_simulators_shape() -> None:
    records = poll_records(SHED, shed_values(), None, T0, ONLINE, report=True)
    assert records.urgent == []
    controller, *slots = records.routine
    assert [s.device_id for s in slots] == ["c01-shed1-s01", "c01-shed1-s02"]
    simulated = slot_metrics(2, 25.0, 2.5, 220.0, charging=True)
    for record in slots:
        assert isinstance(record, DeviceTelemetry)
        assert record.device_kind is DeviceKind.CHARGING_SHED
        assert set(simulated) <= set(record.metrics)
    assert slots[1].metrics["slot"] == 2.0
    assert slots[1].metrics["power_w"] == 550.0
    assert slots[1].metrics["smoke"] == 0.0
    assert {s.controller_id for s in slots} == {"c01-shed1"}
    assert controller.device_id == "c01-shed1" and controller.controller_id == ""
    assert controller.metrics["online"] == 1.0
    assert not {"smoke", "temperature_c", "current_a"} & set(controller.metrics)
    card_reader = {"card_number", "card_swiped_at", "card_slot"}
    assert not any(card_reader & set(r.metrics) for r in records.routine)


def test_charging_overheat_rule_fires_on_a_polled_slot() -> None:
    harness = RuleHarness(ChargingOverheatRule())
    hot = poll_records(SHED, shed_values(temperature=71.5), None, T0, ONLINE, report=True)
    harness.feed(r for r in hot.routine if isinstance(r, DeviceTelemetry))
    (finding,) = harness.run.findings
    assert finding.alert_type is AlertType.CHARGING_OVERHEAT
    assert finding.subject == "c01-shed1-s02"
    assert "71.5 °C" in finding.explanation.en


def test_a_coil_change_goes_out_at_once_for_its_slot_only() -> None:
    before = shed_values()
    after = dict(before) | {("charging", 2): 0.0}
    records = poll_records(SHED, after, before, T0, ONLINE, report=False)
    assert [r.device_id for r in records.urgent] == ["c01-shed1-s02"]
    assert records.routine == []


def test_shed_smoke_goes_out_at_once_in_every_slot() -> None:
    records = poll_records(SHED, shed_values(smoke=1.0), shed_values(), T0, ONLINE, report=False)
    assert sorted(r.device_id for r in records.urgent) == ["c01-shed1-s01", "c01-shed1-s02"]
    assert all(r.metrics["smoke"] == 1.0 for r in records.urgent)


def test_a_new_card_swipe_is_a_shed_card_access_at_once_and_never_telemetry() -> None:
    before = shed_values()
    swiped = dict(before) | {
        ("card_swiped_at", None): 1795000100.0,
        ("card_number", None): 4000654321.0,
    }
    (access,) = poll_records(SHED, swiped, before, T0, ONLINE, report=False).urgent
    assert isinstance(access, DoorAccess)
    assert (access.door_id, access.door_kind, access.method, access.person_id) == (
        "c01-shed1",
        DoorKind.CHARGING_SHED,
        AccessMethod.CARD,
        "card:4000654321",
    )
    assert (access.community_id, access.occurred_at, access.granted) == ("c01", T0, True)
    again = poll_records(SHED, swiped, before, T0 + timedelta(seconds=1), ONLINE, False)
    assert [r.event_id for r in again.urgent] == [access.event_id]


def test_no_swipe_is_invented_on_the_first_poll_or_when_the_reader_is_unchanged() -> None:
    assert not any(
        isinstance(r, DoorAccess)
        for r in poll_records(SHED, shed_values(), None, T0, ONLINE, report=True).urgent
    )
    assert poll_records(SHED, shed_values(), shed_values(), T0, ONLINE, False).urgent == []


def test_a_drifting_current_waits_for_the_routine_report() -> None:
    before = shed_values()
    drift = dict(before) | {("current_a", 1): 2.6}
    assert poll_records(SHED, drift, before, T0, ONLINE, report=False).urgent == []


def alarms_over(polls: list[Values]) -> list[PerimeterAlarm]:
    alarms, previous = [], None
    for i, values in enumerate(polls):
        at = T0 + timedelta(seconds=i)
        records = poll_records(FENCE, values, previous, at, ONLINE, report=True)
        alarms += [r for r in records.urgent if isinstance(r, PerimeterAlarm)]
        previous = values
    return alarms


def test_one_perimeter_alarm_per_change_not_per_poll() -> None:
    polls = [fence_values(0), fence_values(1), fence_values(1), fence_values(1), fence_values(0)]
    polls += [fence_values(1), fence_values(1)]
    alarms = alarms_over(polls)
    assert [(a.fence_zone, a.alarm_kind) for a in alarms] == [
        ("c01-fz2", PerimeterAlarmKind.CROSS),
        ("c01-fz2", PerimeterAlarmKind.CROSS),
    ]
    assert [a.occurred_at for a in alarms] == [T0 + timedelta(seconds=1), T0 + timedelta(seconds=5)]
    assert len({a.event_id for a in alarms}) == 2


def test_mains_lost_is_power_loss_and_tamper_is_tamper() -> None:
    alarms = alarms_over([fence_values(), fence_values(mains=0.0), fence_values(tamper=1.0)])
    assert [(a.fence_zone, a.alarm_kind) for a in alarms] == [
        ("c01-fz1", PerimeterAlarmKind.POWER_LOSS),
        ("c01-fz2", PerimeterAlarmKind.POWER_LOSS),
        ("c01-fz2", PerimeterAlarmKind.TAMPER),
    ]


def test_an_alarm_already_active_at_the_first_poll_is_reported() -> None:
    (alarm,) = alarms_over([fence_values(alarm=1.0), fence_values(alarm=1.0)])
    assert alarm.fence_zone == "c01-fz2"


def test_fence_zones_are_flat_metrics_of_the_controller() -> None:
    (record,) = poll_records(FENCE, fence_values(), None, T0, ONLINE, report=True).routine
    assert record.device_id == "c01-fence1"
    assert record.device_kind is DeviceKind.FENCE_CONTROLLER
    assert record.metrics["zone2_mains"] == 1.0 and record.metrics["battery_v"] == 13.1


def test_failed_poll_is_health_only_and_not_online() -> None:
    health = Health(online=False, errors=7, consecutive_errors=3, last_seen=T0, exception_code=2)
    record = health_record(FENCE, T0 + timedelta(minutes=1), health)
    assert record.metrics == {
        "online": 0.0,
        "errors": 7.0,
        "consecutive_errors": 3.0,
        "last_seen": T0.timestamp(),
        "exception_code": 2.0,
    }

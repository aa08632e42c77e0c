"""The Modbus poller against real pymodbus TCP servers on loopback and a real Kafka broker.

Each test polls its own simulated devices (ids unique to the test) and reads what reached
Kafka with aiokafka: telemetry, perimeter alarms, device health, command records.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
from aiokafka import AIOKafkaConsumer
from pymodbus.constants import ExcCodes

from ingest.modbus.commands import StopChargingExecutor
from ingest.modbus.devices import DeviceConfig, ModbusDevice, resolve
from ingest.modbus.outbox import Outbox
from ingest.modbus.poller import LinkSettings, Poller, cancel_all
from ingest.modbus.register_map import load_maps
from ingest.modbus.simulated import SimulatedDevice, SimulatedSite
from ingest.simulator.everyday import slot_metrics
from pingan.platform.district import community_ids
from pingan.platform.publisher import Publisher
from schemas.alerts import AlertStatus, AlertType
from schemas.codec import decode
from schemas.commands import CommandOutcome, DeviceCommand
from schemas.events import (
    AccessMethod,
    DeviceKind,
    DeviceTelemetry,
    DoorAccess,
    DoorKind,
    PerimeterAlarm,
    PerimeterAlarmKind,
)
from schemas.topics import DEVICE_COMMANDS, DEVICE_TELEMETRY, DOOR_ACCESS, PERIMETER_ALARMS
from streams.rules.charging_overheat import ChargingOverheatRule
from tests.unit.rules.harness import RuleHarness

pytestmark = pytest.mark.integration

MAPS = load_maps()
LINKS = LinkSettings(timeout=0.5, backoff_min=0.1, backoff_max=0.5)
T = TypeVar("T")


async def until(check: Callable[[], T], timeout: float = 20.0) -> T:
    """Poll `check` until truthy: readiness by checking, never by a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        await asyncio.sleep(0.05)


@dataclass
class KafkaLog:
    """Everything the poller's topics received, decoded, as it arrives."""

    telemetry: list[DeviceTelemetry] = field(default_factory=list)
    alarms: list[PerimeterAlarm] = field(default_factory=list)
    commands: list[DeviceCommand] = field(default_factory=list)
    accesses: list[DoorAccess] = field(default_factory=list)

    def of(self, device_id: str) -> list[DeviceTelemetry]:
        return [t for t in self.telemetry if t.device_id == device_id]

    def zone(self, fence_zone: str) -> list[PerimeterAlarm]:
        return [a for a in self.alarms if a.fence_zone == fence_zone]


@pytest.fixture(scope="module")
async def kafka_log(kafka_bootstrap: str) -> AsyncIterator[KafkaLog]:
    topics = {
        DEVICE_TELEMETRY: "telemetry",
        PERIMETER_ALARMS: "alarms",
        DEVICE_COMMANDS: "commands",
        DOOR_ACCESS: "accesses",
    }
    by_name = {t.name: (t, attr) for t, attr in topics.items()}
    consumer = AIOKafkaConsumer(
        *by_name, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    log = KafkaLog()

    async def follow() -> None:
        async for message in consumer:
            topic, attr = by_name[message.topic]
            assert topic.record is not None
            getattr(log, attr).append(decode(message.value, topic.record))

    task = asyncio.create_task(follow())
    yield log
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await consumer.stop()


@dataclass
class Running:
    poller: Poller
    publisher: Publisher
    executor: StopChargingExecutor | None


@contextlib.asynccontextmanager
async def polling(
    bootstrap: str, devices: list[ModbusDevice], commands_group: str | None = None
) -> AsyncIterator[Running]:
    async with Publisher(bootstrap) as publisher:
        outbox = Outbox(publisher, batch_seconds=0.02)
        poller = Poller(devices, outbox, LINKS, offline_report_seconds=0.5)
        tasks = [asyncio.create_task(outbox.run()), asyncio.create_task(poller.run())]
        executor = None
        if commands_group:
            executor = StopChargingExecutor(bootstrap, commands_group, poller, publisher)
            tasks.append(asyncio.create_task(executor.run()))
            await asyncio.wait_for(executor.ready.wait(), 30)
        try:
            yield Running(poller, publisher, executor)
        finally:
            for task in reversed(tasks):
                assert not task.done(), f"{task} ended early: {task.exception()}"
                await cancel_all([task])


def configs(port: int, *entries: tuple[str, str, int], **options: object) -> list[ModbusDevice]:
    """Devices (device_id, model, unit) on one loopback port, polled every 0.1 s."""
    return resolve(
        [
            DeviceConfig(
                device_id=device_id,
                community="c01",
                model=model,
                host="127.0.0.1",
                port=port,
                unit=unit,
                interval=0.1,
                **options,
            )
            for device_id, model, unit in entries
        ],
        MAPS,
        community_ids(),
    )


def online(record: DeviceTelemetry) -> bool:
    return record.metrics.get("online") == 1.0


async def test_slot_telemetry_reaches_kafka_in_the_shape_the_overheat_rule_reads(
    kafka_bootstrap: str, kafka_log: KafkaLog
) -> None:
    shed = SimulatedDevice(MAPS["charging_shed"])
    shed.set("temperature_c", 41.5, channel=3)
    shed.set("current_a", 3.25, channel=3)
    shed.set("voltage_v", 229.8, channel=3)
    shed.set("charging", 1, channel=3)
    shed.set("energy_wh", 70_000, channel=3)
    async with SimulatedSite({1: shed}) as site:
        devices = configs(site.port, ("c01-shed7", "charging_shed", 1))
        slot_ids = set(devices[0].channel_ids)
        async with polling(kafka_bootstrap, devices):
            (slot, *_) = await until(lambda: kafka_log.of("c01-shed7-s03"))
            controller = (await until(lambda: kafka_log.of("c01-shed7")))[0]
            await until(lambda: slot_ids <= {t.device_id for t in kafka_log.telemetry})

    assert slot.community_id == "c01"
    assert slot.device_kind is DeviceKind.CHARGING_SHED
    assert slot.controller_id == "c01-shed7"
    assert set(slot_metrics(3, 41.5, 3.25, 229.8, charging=True)) <= set(slot.metrics)
    assert slot.metrics["temperature_c"] == 41.5
    assert slot.metrics["current_a"] == 3.25
    assert slot.metrics["power_w"] == 746.85
    assert slot.metrics["energy_wh"] == 70_000
    assert (slot.metrics["slot"], slot.metrics["charging"], slot.metrics["smoke"]) == (3, 1, 0)
    assert len(slot_ids) == 16 and "c01-shed7-s16" in slot_ids
    assert online(controller) and controller.metrics["errors"] == 0


async def test_a_shed_card_swipe_is_one_card_access_and_the_card_never_telemetry(
    kafka_bootstrap: str, kafka_log: KafkaLog
) -> None:
    shed = SimulatedDevice(MAPS["charging_shed"])
    shed.set("card_number", 3_900_000_017)
    shed.set("card_swiped_at", 1_795_000_000)
    async with SimulatedSite({2: shed}) as site:
        devices = configs(site.port, ("c01-shed8", "charging_shed", 2))
        async with polling(kafka_bootstrap, devices):
            polls = lambda: len(kafka_log.of("c01-shed8"))  # noqa: E731
            await until(lambda: polls() >= 3)
            shed.set("card_number", 3_900_000_042)
            shed.set("card_swiped_at", 1_795_000_060)
            shed.set("card_slot", 5)
            await until(lambda: [a for a in kafka_log.accesses if a.door_id == "c01-shed8"])
            seen = polls()
            await until(lambda: polls() >= seen + 10)

    accesses = [a for a in kafka_log.accesses if a.door_id == "c01-shed8"]
    assert [(a.door_kind, a.method, a.person_id, a.granted) for a in accesses] == [
        (DoorKind.CHARGING_SHED, AccessMethod.CARD, "card:3900000042", True)
    ]
    shed_records = [t for t in kafka_log.telemetry if t.device_id.startswith("c01-shed8")]
    assert shed_records and not any("card_number" in t.metrics for t in shed_records)
    assert not any("card_slot" in t.metrics for t in shed_records)


async def test_fence_alarm_is_published_once_per_change_not_per_poll(
    kafka_bootstrap: str, kafka_log: KafkaLog
) -> None:
    fence = SimulatedDevice(MAPS["fence_controller"])
    for zone in range(1, 9):
        fence.set("mains", 1, channel=zone)
    zones = [f"c01-fz{n}-t2" for n in range(1, 9)]
    async with SimulatedSite({4: fence}) as site:
        devices = configs(site.port, ("c01-fence2", "fence_controller", 4), channels=zones)
        async with polling(kafka_bootstrap, devices):
            polls = lambda: len(kafka_log.of("c01-fence2"))  # noqa: E731
            await until(lambda: polls() >= 3)
            fence.set("alarm", 1, channel=3)
            await until(lambda: kafka_log.zone("c01-fz3-t2"))
            seen = polls()
            await until(lambda: polls() >= seen + 10)
            assert len(kafka_log.zone("c01-fz3-t2")) == 1

            fence.set("alarm", 0, channel=3)
            fence.set("mains", 0, channel=5)
            await until(lambda: kafka_log.zone("c01-fz5-t2"))
            fence.set("alarm", 1, channel=3)
            await until(lambda: len(kafka_log.zone("c01-fz3-t2")) == 2)
            seen = polls()
            await until(lambda: polls() >= seen + 10)

    kinds = [(a.fence_zone, a.alarm_kind) for a in kafka_log.alarms if a.fence_zone in zones]
    assert kinds == [
        ("c01-fz3-t2", PerimeterAlarmKind.CROSS),
        ("c01-fz5-t2", PerimeterAlarmKind.POWER_LOSS),
        ("c01-fz3-t2", PerimeterAlarmKind.CROSS),
    ]
    assert all(a.community_id == "c01" for a in kafka_log.alarms)


async def test_server_killed_then_restarted_goes_offline_and_recovers(
    kafka_bootstrap: str, kafka_log: KafkaLog
) -> None:
    shed = SimulatedDevice(MAPS["charging_shed"])
    detector = SimulatedDevice(MAPS["smoke_detector"])
    site = SimulatedSite({1: shed, 2: detector})
    await site.start()
    devices = configs(
        site.port, ("c01-shed8", "charging_shed", 1), ("c01-smoke8", "smoke_detector", 2)
    )
    async with polling(kafka_bootstrap, devices) as running:
        await until(lambda: any(online(t) for t in kafka_log.of("c01-smoke8")))
        await site.stop()
        down = await until(lambda: [t for t in kafka_log.of("c01-smoke8") if not online(t)])
        await until(lambda: [t for t in kafka_log.of("c01-shed8") if not online(t)])
        offline_since = len(kafka_log.of("c01-smoke8"))
        await until(lambda: running.poller.link_of(devices[0]).failed_connects >= 2)

        detector.set("smoke", 1)
        await site.start()
        back = await until(
            lambda: [t for t in kafka_log.of("c01-smoke8")[offline_since:] if online(t)]
        )
    await site.stop()

    assert down[0].metrics["consecutive_errors"] >= 1
    assert down[0].metrics["last_seen"] > 0
    assert back[0].metrics["smoke"] == 1.0
    assert back[0].metrics["errors"] >= 1 and back[0].metrics["consecutive_errors"] == 0
    assert running.poller.link_of(devices[0]).connects >= 2


async def test_wrong_unit_id_is_an_error_for_that_device_only(
    kafka_bootstrap: str, kafka_log: KafkaLog
) -> None:
    detector = SimulatedDevice(MAPS["smoke_detector"])
    async with SimulatedSite({1: detector}) as site:
        devices = configs(
            site.port,
            ("c01-smoke9", "smoke_detector", 1),
            ("c01-smoke9x", "smoke_detector", 9),
        )
        async with polling(kafka_bootstrap, devices):
            (wrong, *_) = await until(lambda: kafka_log.of("c01-smoke9x"))
            seen = len(kafka_log.of("c01-smoke9"))
            await until(lambda: len(kafka_log.of("c01-smoke9")) >= seen + 5)

    assert not online(wrong)
    assert wrong.metrics["exception_code"] == ExcCodes.DEVICE_FAILURE
    assert all(online(t) for t in kafka_log.of("c01-smoke9"))


async def test_exception_responses_mark_the_device_offline_until_it_answers(
    kafka_bootstrap: str, kafka_log: KafkaLog
) -> None:
    detector = SimulatedDevice(MAPS["smoke_detector"])
    async with SimulatedSite({3: detector}) as site:
        devices = configs(site.port, ("c01-smoke10", "smoke_detector", 3))
        async with polling(kafka_bootstrap, devices) as running:
            await until(lambda: kafka_log.of("c01-smoke10"))
            detector.fail_with = ExcCodes.DEVICE_BUSY
            (busy, *_) = await until(
                lambda: [t for t in kafka_log.of("c01-smoke10") if not online(t)]
            )
            state = running.poller.states["c01-smoke10"]
            assert state.online is False and "exception 6 (device busy)" in str(state.last_error)
            count = len(kafka_log.of("c01-smoke10"))
            detector.fail_with = None
            await until(lambda: any(online(t) for t in kafka_log.of("c01-smoke10")[count:]))

    assert busy.metrics["exception_code"] == ExcCodes.DEVICE_BUSY


async def test_registers_beyond_the_device_are_illegal_address_errors(
    kafka_bootstrap: str, kafka_log: KafkaLog
) -> None:
    four_slots = SimulatedDevice(MAPS["charging_shed"], channel_count=4)
    async with SimulatedSite({1: four_slots}) as site:
        devices = configs(site.port, ("c01-shed11", "charging_shed", 1))
        async with polling(kafka_bootstrap, devices) as running:
            (record, *_) = await until(lambda: kafka_log.of("c01-shed11"))
            error = running.poller.states["c01-shed11"].last_error

    assert not online(record) and record.metrics["exception_code"] == ExcCodes.ILLEGAL_ADDRESS
    assert "input 0-100 of unit 1" in str(error) and "illegal data address" in str(error)
    assert kafka_log.of("c01-shed11-s01") == []


async def test_overheat_alert_stops_charging_on_the_slot_and_records_the_command(
    kafka_bootstrap: str, kafka_log: KafkaLog
) -> None:
    shed = SimulatedDevice(MAPS["charging_shed"])
    for slot in (1, 2):
        shed.set("charging", 1, channel=slot)
        shed.set("temperature_c", 35.0, channel=slot)
    shed.set("temperature_c", 74.0, channel=2)
    async with SimulatedSite({5: shed}) as site:
        devices = configs(site.port, ("c01-shed12", "charging_shed", 5))
        async with polling(kafka_bootstrap, devices, "pingan-modbus-test") as running:
            hot = await until(lambda: kafka_log.of("c01-shed12-s02"))
            rule = RuleHarness(ChargingOverheatRule())
            rule.feed(hot[:1])
            (alert,) = rule.run.open_alerts().values()
            assert alert.alert_type is AlertType.CHARGING_OVERHEAT
            assert alert.subject == "c01-shed12-s02"
            await running.publisher.publish(alert)

            (command,) = await until(lambda: kafka_log.commands)
            stopped = await until(
                lambda: [t for t in kafka_log.of("c01-shed12-s02") if t.metrics["charging"] == 0]
            )
            await running.publisher.publish(alert.model_copy(update={"count": 2}))
            resolved = alert.model_copy(update={"status": AlertStatus.RESOLVED})
            await running.publisher.publish(resolved)
            assert running.executor is not None
            await until(lambda: running.executor.handled >= 3)

    assert shed.get("charging", channel=2) == 0
    assert shed.get("charging", channel=1) == 1
    assert command.outcome is CommandOutcome.OK and command.error is None
    assert (command.device_id, command.target_id, command.slot) == ("c01-shed12", alert.subject, 2)
    assert command.reason_alert_id == alert.alert_id
    assert command.requested_at == alert.raised_at <= command.executed_at
    assert stopped[0].metrics["temperature_c"] == 74.0
    assert [c.device_id for c in kafka_log.commands].count("c01-shed12") == 1


async def test_stop_charging_on_an_unreachable_shed_is_recorded_as_failed(
    kafka_bootstrap: str, kafka_log: KafkaLog
) -> None:
    shed = SimulatedDevice(MAPS["charging_shed"])
    site = SimulatedSite({1: shed})
    await site.start()
    devices = configs(site.port, ("c01-shed13", "charging_shed", 1), channels=["c01-shed13-s01"])
    async with polling(kafka_bootstrap, devices, "pingan-modbus-test-2") as running:
        await until(lambda: kafka_log.of("c01-shed13-s01"))
        await site.stop()
        await until(lambda: [t for t in kafka_log.of("c01-shed13") if not online(t)])
        hot = kafka_log.of("c01-shed13-s01")[0]
        rule = RuleHarness(ChargingOverheatRule())
        rule.feed([hot.model_copy(update={"metrics": {**hot.metrics, "smoke": 1.0}})])
        (alert,) = rule.run.open_alerts().values()
        await running.publisher.publish(alert)
        (command,) = await until(
            lambda: [c for c in kafka_log.commands if c.device_id == "c01-shed13"]
        )

    assert command.outcome is CommandOutcome.FAILED
    assert command.target_id == "c01-shed13-s01" and command.slot == 1
    assert "127.0.0.1" in str(command.error)

"""Stop charging on an overheating shed slot: CHARGING_OVERHEAT alerts become coil writes.

The executor follows `pingan.alerts` in its own consumer group (one per poller, as each
poller owns its devices). For an open or acknowledged CHARGING_OVERHEAT alert about a slot
this poller polls, it writes the map's `stop_charging` action (the slot's charging relay
coil to 0) through the device's link, reads the coil back, and publishes a
`DeviceCommand` with the outcome before committing the alert's offset. An alert already
stopped is not written again; one whose command failed is retried on its next update.
Alerts about other devices are skipped; an unreadable alert is logged and skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from ingest.modbus import codec
from ingest.modbus.devices import ModbusDevice
from ingest.modbus.link import PollError
from ingest.modbus.poller import Poller
from ingest.modbus.register_map import Table
from pingan.platform.publisher import Publisher
from pingan.platform.settings import kafka_security
from schemas.alerts import Alert, AlertStatus, AlertType
from schemas.codec import DecodeError, decode
from schemas.commands import CommandAction, CommandOutcome, DeviceCommand
from schemas.events import utc_now
from schemas.topics import ALERTS

log = logging.getLogger(__name__)

ACTIVE = frozenset({AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED})


class StopChargingExecutor:
    def __init__(self, bootstrap: str, group_id: str, poller: Poller, publisher: Publisher):
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._poller = poller
        self._publisher = publisher
        self._stopped: set[str] = set()
        """Alert ids whose slot was stopped and confirmed."""
        self.ready = asyncio.Event()
        """Set once the consumer holds its partitions and positions: alerts from then on
        are seen (a new group starts at the end, never on old alerts)."""
        self.handled = 0
        """Alert messages read so far."""

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            ALERTS.name,
            bootstrap_servers=self._bootstrap,
            **kafka_security(),
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        await consumer.start()
        try:
            await self._positioned(consumer)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
                for messages in batches.values():
                    for message in messages:
                        await self.handle(message)
                if batches:
                    await consumer.commit()
        finally:
            await consumer.stop()

    async def _positioned(self, consumer: AIOKafkaConsumer) -> None:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        for partition in consumer.assignment():
            await consumer.position(partition)
        self.ready.set()

    async def handle(self, message: ConsumerRecord[bytes, bytes]) -> DeviceCommand | None:
        """One alert message; the command it caused, if any. Never raises on bad input."""
        self.handled += 1
        try:
            alert = decode(message.value, Alert)
        except DecodeError as exc:
            where = TopicPartition(message.topic, message.partition)
            log.error("skipping unreadable alert at %s offset %d: %s", where, message.offset, exc)
            return None
        if (
            alert.alert_type is not AlertType.CHARGING_OVERHEAT
            or alert.status not in ACTIVE
            or alert.alert_id in self._stopped
        ):
            return None
        target = self._poller.channel(alert.subject)
        if target is None:
            return None
        device, slot = target
        command = await self.stop_charging(device, slot, alert)
        await self._record(command)
        if command.outcome is CommandOutcome.OK:
            self._stopped.add(alert.alert_id)
        return command

    async def _record(self, command: DeviceCommand) -> None:
        """The audit record must reach Kafka before the alert's offset is committed."""
        delay = 0.5
        while True:
            try:
                await self._publisher.publish(command)
                return
            except Exception as exc:
                log.error("publishing command %s failed, retrying: %s", command.command_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def stop_charging(self, device: ModbusDevice, slot: int, alert: Alert) -> DeviceCommand:
        """Write the slot's relay off, read it back, and say how it went."""
        action = CommandAction.STOP_CHARGING
        error = None
        try:
            await write_action(self._poller, device, slot, action)
        except PollError as exc:
            error = str(exc)
            log.error("stop charging %s slot %d failed: %s", device, slot, error)
        else:
            log.warning("stopped charging %s slot %d (alert %s)", device, slot, alert.alert_id)
        return DeviceCommand(
            command_id=f"{action}:{alert.alert_id}:{alert.count}",
            community_id=alert.community_id,
            device_id=device.device_id,
            target_id=alert.subject,
            slot=slot,
            action=action,
            reason_alert_id=alert.alert_id,
            requested_at=alert.raised_at,
            outcome=CommandOutcome.FAILED if error else CommandOutcome.OK,
            error=error,
            executed_at=utc_now(),
        )


async def write_action(
    poller: Poller, device: ModbusDevice, channel: int, action: CommandAction
) -> None:
    """Perform a map action on one channel and confirm it by reading the register back."""
    register_map = device.register_map
    write = register_map.actions.get(action)
    if write is None or register_map.channels is None:
        raise PollError("unsupported", f"model {register_map.model} has no {action} action")
    register = register_map.channels.registers[write.write]
    address = register.address_of(channel)
    link, unit = poller.link_of(device), device.config.unit
    if register.table is Table.COIL:
        await link.write_coil(address, write.value >= 0.5, unit)
        expected: Sequence[int] | Sequence[bool] = [write.value >= 0.5]
    else:
        expected = codec.encode(write.value, register)
        await link.write_register(address, expected, unit)
    got = await link.read(register.table, address, register.kind.width, unit)
    if list(got) != list(expected):
        raise PollError("readback", f"{write.write} of {device} reads {list(got)} after the write")

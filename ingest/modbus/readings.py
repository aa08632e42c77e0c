"""What a poll means, as records: telemetry, perimeter alarms on edges, device health.

Pure functions of the device, this poll's values and the last poll's, so that edge
detection (one alarm per change, not per poll) is testable without a network.

- A shed's slots become one `DeviceTelemetry` each, under the slot's own id, with the
  metrics the CHARGING_OVERHEAT rule reads (`temperature_c`, `current_a`, `smoke`, …) and
  the shed controller as `controller_id` (slots are heard only through it).
- The device itself gets one record with its own values (a fence controller's zones
  flattened as `zone3_alarm`) and its health: `online` 1, `errors`, `consecutive_errors`,
  `last_seen` (Unix s), `poll_ms`. A failed poll sends only health, with `online` 0 and
  the Modbus `exception_code` if the device answered with one.
- A bit (or an `on_change` value) that changed makes its record urgent: it goes out at
  once instead of with the next routine report. A change into an alarm register's alarm
  state is also a `PerimeterAlarm` for the zone.
- A card reader's registers (a shed's) are never telemetry: a new swipe is a `DoorAccess`
  (door kind charging shed, method card, person `card:<number>`), published at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ingest.modbus.devices import ModbusDevice
from ingest.modbus.read_plan import Values
from ingest.modbus.register_map import Register
from schemas.events import (
    AccessMethod,
    DeviceTelemetry,
    DoorAccess,
    DoorKind,
    PerimeterAlarm,
    Record,
)


@dataclass(frozen=True)
class Health:
    online: bool
    errors: int
    """Failed polls since the poller started."""
    consecutive_errors: int
    last_seen: datetime | None
    poll_ms: float | None = None
    exception_code: int | None = None

    def metrics(self) -> dict[str, float]:
        metrics = {
            "online": 1.0 if self.online else 0.0,
            "errors": float(self.errors),
            "consecutive_errors": float(self.consecutive_errors),
            "last_seen": self.last_seen.timestamp() if self.last_seen else 0.0,
        }
        if self.poll_ms is not None:
            metrics["poll_ms"] = round(self.poll_ms, 3)
        if self.exception_code is not None:
            metrics["exception_code"] = float(self.exception_code)
        return metrics


@dataclass
class PollRecords:
    urgent: list[Record] = field(default_factory=list)
    """Alarms and records with a change: publish now."""
    routine: list[Record] = field(default_factory=list)
    """Everything else when a report is due: publish with the next batch."""


def poll_records(
    device: ModbusDevice,
    values: Values,
    previous: Values | None,
    at: datetime,
    health: Health,
    report: bool,
) -> PollRecords:
    register_map = device.register_map
    reader = register_map.card_reader.names if register_map.card_reader else ()
    changed = {key for key in _changed(device, values, previous) if key[0] not in reader}
    records = PollRecords(urgent=_alarms(device, values, previous, at))
    records.urgent += _card_swipes(device, values, previous, at)
    channels = register_map.channels
    per_channel = channels is not None and channels.telemetry == "per_channel"
    # device values that travel in every channel's record instead of the device's
    shared = register_map.shared if per_channel else ()

    metrics = {
        name: value
        for (name, channel), value in values.items()
        if channel is None and name not in shared and name not in reader
    }
    if channels is not None and not per_channel:
        metrics |= {
            f"{channels.name}{channel}_{name}": value
            for (name, channel), value in values.items()
            if channel is not None
        }
    metrics |= health.metrics()
    device_changed = any(
        not per_channel or (channel is None and name not in shared) for name, channel in changed
    )
    _file(records, telemetry(device, device.device_id, metrics, at), device_changed, report)
    if not per_channel:
        return records

    assert channels is not None
    shared_values = {name: values[(name, None)] for name in shared if (name, None) in values}
    shared_changed = any(channel is None and name in shared for name, channel in changed)
    for n, channel_id in enumerate(device.channel_ids, start=1):
        own = {name: values[(name, n)] for name in channels.registers if (name, n) in values}
        for name, derived in channels.derived.items():
            a, b = derived.product
            if a in own and b in own:
                own[name] = round(own[a] * own[b], 3)
        urgent = shared_changed or any(channel == n for _, channel in changed)
        metrics = {channels.name: float(n), **own, **shared_values}
        reading = telemetry(device, channel_id, metrics, at, controller_id=device.device_id)
        _file(records, reading, urgent, report)
    return records


def health_record(device: ModbusDevice, at: datetime, health: Health) -> DeviceTelemetry:
    """A failed poll: the device's health only, never a heartbeat (`online` 0)."""
    return telemetry(device, device.device_id, health.metrics(), at)


def telemetry(
    device: ModbusDevice,
    device_id: str,
    metrics: dict[str, float],
    at: datetime,
    controller_id: str = "",
) -> DeviceTelemetry:
    return DeviceTelemetry(
        event_id=f"{device_id}@{_ms(at)}",
        community_id=device.config.community,
        occurred_at=at,
        received_at=at,
        device_id=device_id,
        device_kind=device.register_map.device_kind,
        metrics=metrics,
        controller_id=controller_id,
    )


def register_of(device: ModbusDevice, name: str, channel: int | None) -> Register:
    register_map = device.register_map
    if channel is None:
        return register_map.registers[name]
    assert register_map.channels is not None
    return register_map.channels.registers[name]


def _changed(
    device: ModbusDevice, values: Values, previous: Values | None
) -> set[tuple[str, int | None]]:
    if previous is None:
        return set()
    changed = set()
    for key, value in values.items():
        old = previous.get(key)
        if old is None or old == value:
            continue
        register = register_of(device, *key)
        if register.table.bits or register.on_change:
            changed.add(key)
    return changed


def _alarms(
    device: ModbusDevice, values: Values, previous: Values | None, at: datetime
) -> list[Record]:
    alarms: list[Record] = []
    for (name, channel), value in values.items():
        register = register_of(device, name, channel)
        if register.alarm is None or not _alarming(register, value):
            continue
        before = None if previous is None else previous.get((name, channel))
        if before is not None and _alarming(register, before):
            continue
        zone = device.device_id if channel is None else device.channel_ids[channel - 1]
        alarms.append(
            PerimeterAlarm(
                event_id=f"{zone}:{register.alarm}@{_ms(at)}",
                community_id=device.config.community,
                occurred_at=at,
                received_at=at,
                fence_zone=zone,
                alarm_kind=register.alarm,
            )
        )
    return alarms


def _card_swipes(
    device: ModbusDevice, values: Values, previous: Values | None, at: datetime
) -> list[Record]:
    """The swipe since the last poll, if any; the first poll cannot tell a new one."""
    reader = device.register_map.card_reader
    if reader is None or previous is None:
        return []
    swiped = values.get((reader.swiped_at, None))
    card = values.get((reader.card, None))
    if swiped is None or card is None or swiped == previous.get((reader.swiped_at, None)):
        return []
    return [
        DoorAccess(
            event_id=f"{device.device_id}:card@{int(swiped)}",
            community_id=device.config.community,
            occurred_at=at,
            received_at=at,
            door_id=device.device_id,
            door_kind=DoorKind.CHARGING_SHED,
            method=AccessMethod.CARD,
            person_id=f"card:{int(card)}",
            granted=True,
        )
    ]


def _alarming(register: Register, value: float) -> bool:
    return (value >= 0.5) == register.alarm_when


def _file(records: PollRecords, record: Record, urgent: bool, report: bool) -> None:
    if urgent:
        records.urgent.append(record)
    elif report:
        records.routine.append(record)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)

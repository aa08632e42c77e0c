"""The devices a poller polls, from a YAML file an installer writes.

```yaml
defaults: {port: 502, interval: 1.0}
devices:
  - {device_id: c01-shed1, community: c01, model: charging_shed, host: 10.1.0.21, unit: 1}
  - {device_id: c01-fence1, community: c01, model: fence_controller, host: 10.1.0.30,
     unit: 2, channels: [c01-fz1, c01-fz2, c01-fz3, c01-fz4]}
```

`channels` names a model's slots or zones in order (and polls only that many); without it
every channel of the model is polled under its map's id template. Several devices may share
one host:port (a gateway) under different unit ids: they share one TCP connection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ingest.modbus.read_plan import Read, plan_reads
from ingest.modbus.register_map import (
    MAPS_DIR,
    MetricName,
    RegisterMap,
    RegisterMapError,
    explain,
    load_maps,
)
from pingan.platform.district import community_ids
from schemas.events import NonEmpty


class DeviceConfigError(ValueError):
    """A devices file that cannot be polled; the message names the file, device and field."""


class DeviceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: NonEmpty
    community: NonEmpty
    model: MetricName
    host: NonEmpty
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    unit: Annotated[int, Field(ge=0, le=247)] = 1
    interval: Annotated[float, Field(ge=0.05, le=3600)] = 1.0
    """Seconds between polls."""
    report_every: Annotated[float, Field(ge=0.05, le=3600)] | None = None
    """Seconds between routine telemetry (default: every poll); changes go out at once."""
    channels: list[NonEmpty] | None = None

    @model_validator(mode="after")
    def _report_not_faster_than_polls(self) -> DeviceConfig:
        if self.report_every is not None and self.report_every < self.interval:
            raise ValueError("report_every cannot be shorter than interval")
        return self

    @property
    def link(self) -> tuple[str, int]:
        return (self.host, self.port)


@dataclass(frozen=True)
class ModbusDevice:
    """A configured device with its map and read plan resolved."""

    config: DeviceConfig
    register_map: RegisterMap
    channel_ids: tuple[str, ...]
    reads: tuple[Read, ...]

    @property
    def device_id(self) -> str:
        return self.config.device_id

    def __str__(self) -> str:
        c = self.config
        return f"{c.device_id} ({c.model} at {c.host}:{c.port} unit {c.unit})"


class DevicesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: dict[str, Any] = Field(default_factory=dict)
    maps: list[str] = Field(default_factory=list)
    """Extra directories of register maps, relative to the devices file."""
    devices: list[dict[str, Any]]


def load_devices(path: Path, maps_dir: Path = MAPS_DIR) -> list[ModbusDevice]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = DevicesFile.model_validate(document)
    except (OSError, yaml.YAMLError) as exc:
        raise DeviceConfigError(f"{path}: cannot read devices file: {exc}") from None
    except ValidationError as exc:
        raise DeviceConfigError(f"{path}: {explain(exc)}") from None
    try:
        maps = load_maps(maps_dir)
        for extra in spec.maps:
            maps |= load_maps(path.parent / extra)
    except RegisterMapError as exc:
        raise DeviceConfigError(str(exc)) from None
    configs = [_config(path, i, spec.defaults, raw) for i, raw in enumerate(spec.devices)]
    return resolve(configs, maps, community_ids(), str(path))


def resolve(
    configs: Iterable[DeviceConfig],
    maps: Mapping[str, RegisterMap],
    communities: frozenset[str],
    source: str = "devices",
) -> list[ModbusDevice]:
    """Configs checked against maps, communities and each other, with read plans."""
    devices = [_resolve(source, c, maps, communities) for c in configs]
    ids = Counter(i for d in devices for i in (d.device_id, *d.channel_ids))
    duplicated = sorted(i for i, n in ids.items() if n > 1)
    if duplicated:
        raise DeviceConfigError(f"{source}: ids used more than once: {', '.join(duplicated)}")
    addresses = Counter((*d.config.link, d.config.unit) for d in devices)
    shared = sorted(f"{h}:{p} unit {u}" for (h, p, u), n in addresses.items() if n > 1)
    if shared:
        raise DeviceConfigError(f"{source}: two devices on one address: {', '.join(shared)}")
    return devices


def _config(path: Path, index: int, defaults: dict[str, Any], raw: object) -> DeviceConfig:
    where = f"{path}: devices[{index}]"
    if not isinstance(raw, dict):
        raise DeviceConfigError(f"{where}: a device is a mapping of fields")
    if "device_id" in raw:
        where += f" ({raw['device_id']})"
    try:
        return DeviceConfig.model_validate({**defaults, **raw})
    except ValidationError as exc:
        raise DeviceConfigError(f"{where}: {explain(exc)}") from None


def _resolve(
    source: str, config: DeviceConfig, maps: Mapping[str, RegisterMap], communities: frozenset[str]
) -> ModbusDevice:
    where = f"{source}: {config.device_id}"
    register_map = maps.get(config.model)
    if register_map is None:
        known = ", ".join(sorted(maps)) or "none"
        raise DeviceConfigError(f"{where}.model: no register map {config.model!r} ({known})")
    if config.community not in communities:
        raise DeviceConfigError(f"{where}.community: unknown community {config.community!r}")
    channels = register_map.channels
    if channels is None:
        if config.channels:
            raise DeviceConfigError(f"{where}.channels: model {config.model} has no channels")
        return ModbusDevice(config, register_map, (), plan_reads(register_map, 0))
    if config.channels is not None and len(config.channels) > channels.count:
        raise DeviceConfigError(
            f"{where}.channels: {len(config.channels)} named, model {config.model} has "
            f"{channels.count} {channels.name}s"
        )
    ids = (
        tuple(config.channels)
        if config.channels is not None
        else tuple(
            channels.id_template.format(device_id=config.device_id, n=n)
            for n in range(1, channels.count + 1)
        )
    )
    return ModbusDevice(config, register_map, ids, plan_reads(register_map, len(ids)))

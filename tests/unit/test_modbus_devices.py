"""Devices files: defaults, channel names, and mistakes named by file, device and field."""

from pathlib import Path

import pytest
import yaml

from ingest.modbus.devices import DeviceConfigError, load_devices


def write_devices(tmp_path: Path, devices: list[dict], **extra: object) -> Path:
    path = tmp_path / "devices.yaml"
    path.write_text(yaml.safe_dump({"devices": devices, **extra}))
    return path


def shed_entry(**changes: object) -> dict:
    entry = {"device_id": "c01-shed1", "community": "c01", "model": "charging_shed"}
    return entry | {"host": "127.0.0.1", "unit": 1} | changes


def test_devices_file_with_defaults_and_channels(tmp_path: Path) -> None:
    fence = {"device_id": "c01-fence1", "community": "c01", "model": "fence_controller"}
    fence |= {"host": "127.0.0.1", "unit": 2, "channels": ["c01-fz1", "c01-fz2"]}
    path = write_devices(tmp_path, [shed_entry(), fence], defaults={"port": 5020, "interval": 2})
    shed, fence_device = load_devices(path)
    assert shed.config.port == 5020 and shed.config.interval == 2
    assert shed.channel_ids[0] == "c01-shed1-s01" and len(shed.channel_ids) == 16
    assert fence_device.channel_ids == ("c01-fz1", "c01-fz2")


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        ([shed_entry(model="toaster")], "c01-shed1.model: no register map 'toaster'"),
        ([shed_entry(community="c99")], "c01-shed1.community: unknown community 'c99'"),
        ([shed_entry(unit=300)], "devices[0] (c01-shed1): unit: Input should be less than"),
        ([shed_entry(port="x")], "devices[0] (c01-shed1): port: Input should be a valid integer"),
        ([shed_entry(), shed_entry(unit=2)], "ids used more than once: c01-shed1"),
        (
            [shed_entry(), shed_entry(device_id="c01-shed2")],
            "two devices on one address: 127.0.0.1:502 unit 1",
        ),
        (
            [shed_entry(channels=[f"s{n}" for n in range(17)])],
            "c01-shed1.channels: 17 named, model charging_shed has 16 slots",
        ),
        ([shed_entry(interval=1, report_every=0.5)], "report_every cannot be shorter"),
    ],
)
def test_devices_file_mistakes_name_file_device_and_field(
    tmp_path: Path, devices: list[dict], message: str
) -> None:
    path = write_devices(tmp_path, devices)
    with pytest.raises(DeviceConfigError) as caught:
        load_devices(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)

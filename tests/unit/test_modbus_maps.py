"""Register maps as data: the shipped models, the loader's errors, and read planning."""

from pathlib import Path

import pytest
import yaml

from ingest.modbus.read_plan import plan_reads
from ingest.modbus.register_map import RegisterMapError, Table, load_map, load_maps


def write_map(tmp_path: Path, document: dict, name: str = "shed") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"model": name, **document}))
    return path


def small_shed(**changes: object) -> dict:
    document = {
        "device_kind": "charging_shed",
        "registers": {"smoke": {"table": "discrete_input", "address": 0}},
        "channels": {
            "name": "slot",
            "count": 4,
            "id_template": "{device_id}-s{n:02d}",
            "telemetry": "per_channel",
            "registers": {
                "charging": {"table": "coil", "address": 0, "stride": 1, "writable": True},
                "current_a": {"table": "input", "address": 0, "stride": 2, "scale": 0.01},
                "temperature_c": {"table": "input", "address": 1, "stride": 2, "type": "int16"},
            },
        },
        "actions": {"stop_charging": {"write": "charging", "value": 0}},
    }
    document.update(changes)
    return document


def test_shipped_models_load_and_need_few_requests() -> None:
    maps = load_maps()
    assert {"charging_shed", "fence_controller", "smoke_detector"} <= set(maps)
    shed = maps["charging_shed"]
    reads = plan_reads(shed, 16)
    assert [(r.table, r.address, r.count) for r in reads] == [
        (Table.COIL, 0, 32),
        (Table.DISCRETE_INPUT, 0, 1),
        (Table.INPUT, 0, 101),
    ]
    assert sum(len(r.points) for r in reads) == len(shed.points(16))
    fence = maps["fence_controller"]
    assert [(r.table, r.count) for r in plan_reads(fence, 8)] == [
        (Table.DISCRETE_INPUT, 24),
        (Table.INPUT, 9),
    ]


def test_fewer_channels_read_across_the_unpolled_slots_the_model_defines() -> None:
    shed = load_maps()["charging_shed"]
    reads = plan_reads(shed, 4)
    assert [(r.table, r.address, r.count) for r in reads] == [
        (Table.COIL, 0, 20),  # occupied 0-3 and charging 16-19, across slots 5-16's coils
        (Table.DISCRETE_INPUT, 0, 1),
        (Table.INPUT, 0, 101),
    ]
    assert {p.channel for r in reads for p in r.points} == {None, 1, 2, 3, 4}


def test_request_limit_splits_a_run(tmp_path: Path) -> None:
    shed = load_map(write_map(tmp_path, small_shed(max_read_registers=3)))
    inputs = [(r.address, r.count) for r in plan_reads(shed, 4) if r.table is Table.INPUT]
    assert inputs == [(0, 3), (3, 3), (6, 2)]


def test_read_gap_joins_runs_across_unused_addresses(tmp_path: Path) -> None:
    document = small_shed()
    document["registers"]["card_number"] = {"table": "input", "address": 10, "type": "uint32"}
    strict = load_map(write_map(tmp_path, document))
    assert [r.count for r in plan_reads(strict, 4) if r.table is Table.INPUT] == [8, 2]
    lenient = load_map(write_map(tmp_path, {**document, "read_gap": 2}))
    assert [r.count for r in plan_reads(lenient, 4) if r.table is Table.INPUT] == [12]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"registers": {"smoke": {"table": "discrete_input", "address": 0, "type": "int16"}}},
            "registers.smoke: discrete_input holds single bits",
        ),
        (
            {"registers": {"smoke": {"table": "dicrete_input", "address": 0}}},
            "registers.smoke.table: Input should be 'coil', 'discrete_input'",
        ),
        (
            {"registers": {"smoke": {"table": "discrete_input", "address": 70000}}},
            "registers.smoke.address: Input should be less than or equal to 65535",
        ),
        (
            {"registers": {"energy": {"table": "input", "address": 7, "type": "uint32"}}},
            "temperature_c[4] overlaps energy at input address 7",
        ),
        (
            {"registers": {"x": {"table": "input", "address": 0, "word_order": "little"}}},
            "word_order applies to 32-bit values",
        ),
        (
            {"actions": {"stop_charging": {"write": "current_a", "value": 0}}},
            "actions.stop_charging: 'current_a' is not a writable channel register",
        ),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_mistakes_are_reported_with_file_and_field(
    tmp_path: Path, change: dict, message: str
) -> None:
    path = write_map(tmp_path, small_shed(**change))
    with pytest.raises(RegisterMapError) as caught:
        load_map(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_channel_registers_need_a_stride(tmp_path: Path) -> None:
    document = small_shed()
    del document["channels"]["registers"]["charging"]["stride"]
    message = r"channels: registers\.charging: channel registers need a stride"
    with pytest.raises(RegisterMapError, match=message):
        load_map(write_map(tmp_path, document))


def test_model_must_match_file_name_and_yaml_must_parse(tmp_path: Path) -> None:
    path = write_map(tmp_path, small_shed())
    renamed = path.rename(tmp_path / "other.yaml")
    with pytest.raises(RegisterMapError, match="model 'shed' must match the file name"):
        load_map(renamed)
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed")
    with pytest.raises(RegisterMapError, match=f"{broken}: cannot read register map"):
        load_map(broken)

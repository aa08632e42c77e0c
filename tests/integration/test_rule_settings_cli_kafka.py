"""`pingan rules` against a real broker: what `set` publishes, `show` reads back."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson
import pytest

from pingan.platform.rule_settings import read_rule_settings

pytestmark = pytest.mark.integration


def _parameter(show_output: str, name: str, rule: str = "watchlist_plate") -> dict[str, Any]:
    return orjson.loads(show_output)["rules"][rule]["parameters"][name]


def test_set_values_are_read_back_by_show(pingan: Any) -> None:
    district = pingan("rules", "set", "--community", "*", "watchlist_plate", "suppress_minutes=20")
    assert district.exit_code == 0, district.output
    community = pingan("rules", "set", "--community", "c01", "watchlist_plate", "enabled=false")
    assert community.exit_code == 0, community.output

    shown = pingan("rules", "show", "--community", "c01", "--json")
    assert shown.exit_code == 0, shown.output
    assert _parameter(shown.stdout, "enabled") == {
        "value": False,
        "default": True,
        "source": "community",
        "community": False,
        "minimum": None,
        "maximum": None,
        "max_items": None,
    }
    assert _parameter(shown.stdout, "suppress_minutes") == {
        "value": 20.0,
        "default": 30.0,
        "source": "district",
        "district": 20.0,
        "minimum": 0,
        "maximum": 10080,
        "max_items": None,
    }
    assert orjson.loads(shown.stdout)["communities_with_overrides"] == ["c01"]

    refused = pingan("rules", "set", "--community", "c01", "watchlist_plate", "enabled=maybe")
    assert refused.exit_code == 2
    assert "watchlist_plate: enabled: Input should be a valid boolean" in refused.output
    beyond = pingan(
        "rules", "set", "--community", "c01", "watchlist_plate", "suppress_minutes=1e300"
    )
    assert beyond.exit_code == 2
    assert "watchlist_plate: suppress_minutes must be at most 10080 (got 1e+300)" in beyond.output

    reset = pingan("rules", "reset", "--community", "c01")
    assert reset.exit_code == 0, reset.output
    shown = pingan("rules", "show", "--community", "c01", "--json")
    assert _parameter(shown.stdout, "enabled")["source"] == "default"
    assert _parameter(shown.stdout, "suppress_minutes")["value"] == 20.0


def test_switching_off_a_safety_rule_takes_the_flag_and_names_who(
    pingan: Any, kafka_bootstrap: str
) -> None:
    off = ("rules", "set", "--community", "c02", "perimeter_intrusion", "enabled=false")
    refused = pingan(*off)
    assert refused.exit_code == 2
    assert "perimeter_intrusion is a safety rule (PERIMETER_INTRUSION)" in refused.output
    assert "--confirm-safety-off" in refused.output
    shown = pingan("rules", "show", "--community", "c02", "--json")
    assert _parameter(shown.stdout, "enabled", "perimeter_intrusion")["value"] is True

    confirmed = pingan(*off, "--confirm-safety-off")
    assert confirmed.exit_code == 0, confirmed.output
    shown = pingan("rules", "show", "--community", "c02", "--json")
    assert _parameter(shown.stdout, "enabled", "perimeter_intrusion")["value"] is False
    record = asyncio.run(read_rule_settings(kafka_bootstrap))["c02"]
    assert record.updated_by == (os.environ.get("USER") or "cli")

"""`pingan rules` against a real broker: what `set` publishes, `show` reads back."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

pytestmark = pytest.mark.integration


def _parameter(show_output: str, name: str) -> dict[str, Any]:
    return orjson.loads(show_output)["rules"]["watchlist_plate"]["parameters"][name]


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
    }
    assert _parameter(shown.stdout, "suppress_minutes") == {
        "value": 20.0,
        "default": 30.0,
        "source": "district",
        "district": 20.0,
    }
    assert orjson.loads(shown.stdout)["communities_with_overrides"] == ["c01"]

    refused = pingan("rules", "set", "--community", "c01", "watchlist_plate", "enabled=maybe")
    assert refused.exit_code == 2
    assert "watchlist_plate: enabled: Input should be a valid boolean" in refused.output

    reset = pingan("rules", "reset", "--community", "c01")
    assert reset.exit_code == 0, reset.output
    shown = pingan("rules", "show", "--community", "c01", "--json")
    assert _parameter(shown.stdout, "enabled")["source"] == "default"
    assert _parameter(shown.stdout, "suppress_minutes")["value"] == 20.0

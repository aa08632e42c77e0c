"""`pingan parking` against a real broker: what `set`/`add` publish, `show`/`list` read back,
and `reset`/`revoke` remove (tombstones on the compacted topics)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

pytestmark = pytest.mark.integration


def shown(pingan: Any, community: str) -> dict[str, Any]:
    result = pingan("parking", "tariff", "show", "--community", community, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_a_community_tariff_starts_from_the_district_one_and_reset_falls_back(
    pingan: Any,
) -> None:
    assert shown(pingan, "c01")["tariff_id"] == "built-in"

    district = pingan("parking", "tariff", "set", "--community", "*", "day_rate_fen=600")
    assert district.exit_code == 0, district.output
    own = pingan(
        "parking", "tariff", "set", "--community", "c01", "free_minutes=15", "night_end=06:30"
    )
    assert own.exit_code == 0, own.output
    assert "¥6.00" in own.output

    c01 = shown(pingan, "c01")
    assert c01["tariff_id"] == "c01"
    assert c01["tariff"]["free_minutes"] == 15
    assert c01["tariff"]["day_rate_fen"] == 600
    assert c01["tariff"]["night_end"] == "06:30:00"
    assert c01["communities_with_own_tariff"] == ["c01"]
    assert shown(pingan, "c02")["tariff_id"] == "*"

    refused = pingan("parking", "tariff", "set", "--community", "c01", "free_minutes=-5")
    assert refused.exit_code == 2
    assert "free_minutes: Input should be greater than or equal to 0" in refused.output
    unknown = pingan("parking", "tariff", "set", "--community", "c01", "hourly=5")
    assert unknown.exit_code == 2 and "not a tariff field: hourly" in unknown.output

    reset = pingan("parking", "tariff", "reset", "--community", "c01")
    assert reset.exit_code == 0, reset.output
    c01 = shown(pingan, "c01")
    assert (c01["tariff_id"], c01["tariff"]["free_minutes"]) == ("*", 30)
    assert c01["communities_with_own_tariff"] == []


def test_a_pass_is_listed_while_it_exists_and_gone_once_revoked(pingan: Any) -> None:
    added = pingan(
        "parking", "pass", "add", "--community", "c03", "--plate", "京a·12345",
        "--from", "2026-11-01", "--until", "2099-11-30", "--person", "c03-p0007",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "京A12345 in c03: 2026-11-01 – 2099-11-30" in added.output

    listed = pingan("parking", "pass", "list", "--community", "c03", "--json")
    assert listed.exit_code == 0, listed.output
    (entry,) = orjson.loads(listed.stdout)
    assert entry["plate"] == "京A12345" and entry["person_id"] == "c03-p0007"
    assert entry["valid_from"] == "2026-10-31T16:00:00Z"
    assert entry["valid_until"] == "2099-11-30T16:00:00Z"
    assert entry["status"] == "valid"

    backwards = pingan(
        "parking", "pass", "add", "--community", "c03", "--plate", "京A54321",
        "--from", "2026-12-01", "--until", "2026-11-01",
    )  # fmt: skip
    assert backwards.exit_code == 2 and "valid_until must be after valid_from" in backwards.output

    revoked = pingan("parking", "pass", "revoke", "--community", "c03", "--plate", "京A 12345")
    assert revoked.exit_code == 0, revoked.output
    listed = pingan("parking", "pass", "list", "--community", "c03", "--json")
    assert orjson.loads(listed.stdout) == []
    again = pingan("parking", "pass", "revoke", "--community", "c03", "--plate", "京A12345")
    assert again.exit_code == 0 and "nothing changed" in again.output

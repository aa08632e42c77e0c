"""`pingan parking`: tariff resolution and updates, pass dates, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime, time

import click
import pytest

from pingan.parking_cli import day_or_time, effective_tariff, moment, pass_status, updated_tariff
from schemas.parking import ParkingPass, ParkingTariff
from schemas.reference import DISTRICT_TZ

DISTRICT = ParkingTariff(community_id="*", day_rate_fen=600)
OWN = ParkingTariff(community_id="c01", free_minutes=15)


def test_a_community_is_priced_by_its_own_else_the_district_else_built_in() -> None:
    assert effective_tariff({"*": DISTRICT, "c01": OWN}, "c01") == ("c01", OWN)
    assert effective_tariff({"*": DISTRICT, "c01": OWN}, "c02") == ("*", DISTRICT)
    source, tariff = effective_tariff({}, "c02")
    assert source == "built-in" and tariff.free_minutes == 30


def test_an_update_changes_only_the_fields_given_and_is_the_communitys_own() -> None:
    updated = updated_tariff(DISTRICT, "c02", {"free_minutes": 10, "night_start": "23:00"})
    assert updated.community_id == "c02"
    assert (updated.free_minutes, updated.day_rate_fen) == (10, 600)
    assert updated.night_start == time(23, 0)
    assert updated.updated_at is not None


def test_bookkeeping_and_unknown_fields_cannot_be_set() -> None:
    for field in ("community_id", "updated_by", "rate"):
        with pytest.raises(ValueError, match=f"not a tariff field: {field}"):
            updated_tariff(DISTRICT, "c02", {field: "x"})


def test_a_bare_date_is_a_whole_district_day() -> None:
    assert moment("2026-12-31", end_of_day=False) == datetime(2026, 12, 31, tzinfo=DISTRICT_TZ)
    assert moment("2026-12-31", end_of_day=True) == datetime(2027, 1, 1, tzinfo=DISTRICT_TZ)
    assert moment("2026-12-31T18:30", end_of_day=True) == datetime(
        2026, 12, 31, 18, 30, tzinfo=DISTRICT_TZ
    )
    assert moment("2026-12-31T10:30Z", end_of_day=False) == datetime(
        2026, 12, 31, 10, 30, tzinfo=UTC
    )
    with pytest.raises(click.BadParameter, match="not a date"):
        moment("next month", end_of_day=True)


def test_a_pass_ending_at_midnight_shows_its_last_day() -> None:
    end = datetime(2027, 1, 1, tzinfo=DISTRICT_TZ)
    assert day_or_time(end, last=True) == "2026-12-31"
    assert day_or_time(end) == "2027-01-01"
    assert day_or_time(datetime(2026, 12, 31, 18, 30, tzinfo=DISTRICT_TZ), last=True) == (
        "2026-12-31 18:30"
    )


def test_a_pass_is_not_yet_valid_valid_then_expired() -> None:
    monthly = ParkingPass(
        community_id="c01",
        plate="京A12345",
        valid_from=datetime(2026, 12, 1, tzinfo=UTC),
        valid_until=datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert pass_status(monthly, datetime(2026, 11, 30, tzinfo=UTC)) == "not yet valid"
    assert pass_status(monthly, datetime(2026, 12, 15, tzinfo=UTC)) == "valid"
    assert pass_status(monthly, datetime(2027, 1, 1, tzinfo=UTC)) == "expired"

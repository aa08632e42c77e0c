"""Parking fees: free period, started hours, night rate across midnight, daily caps, passes."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from schemas.events import PlateColour
from schemas.parking import ParkingPass, ParkingSession, ParkingTariff, SessionStatus
from schemas.reference import DISTRICT_TZ
from streams.parking.fees import parking_fee

MS = timedelta(milliseconds=1)

# ¥5/h by day, ¥2/h at night (22:00–07:00), first 30 min free, ¥40 per 24 h.
TARIFF = ParkingTariff(community_id="c01")
UNCAPPED = TARIFF.model_copy(update={"daily_cap_fen": None})


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in the district (UTC+8), 2026-03-`day`."""
    return datetime(2026, 3, day, hour, minute, tzinfo=DISTRICT_TZ)


def monthly_pass(valid_from: datetime, valid_until: datetime) -> ParkingPass:
    return ParkingPass(
        community_id="c01", plate="浙A12345", valid_from=valid_from, valid_until=valid_until
    )


def test_exactly_the_free_period_is_free() -> None:
    fee = parking_fee(local(2, 10), local(2, 10, 30), TARIFF)
    assert fee.fen == 0
    assert "free" in fee.basis


def test_a_millisecond_past_the_free_period_starts_the_first_hour() -> None:
    fee = parking_fee(local(2, 10), local(2, 10, 30) + MS, TARIFF)
    assert (fee.fen, fee.day_hours, fee.night_hours) == (500, 1, 0)


def test_hours_are_counted_from_the_end_of_the_free_period() -> None:
    assert parking_fee(local(2, 10), local(2, 11, 30), TARIFF).fen == 500
    assert parking_fee(local(2, 10), local(2, 11, 30) + MS, TARIFF).fen == 1000


def test_zero_length_stay_is_free() -> None:
    assert parking_fee(local(2, 10), local(2, 10), TARIFF).fen == 0


def test_exit_before_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot end before"):
        parking_fee(local(2, 10), local(2, 9), TARIFF)


def test_hour_starting_at_night_start_is_a_night_hour() -> None:
    # free until 22:00, so the only hour starts at 22:00 sharp
    fee = parking_fee(local(2, 21, 30), local(2, 22, 30), TARIFF)
    assert (fee.fen, fee.day_hours, fee.night_hours) == (200, 0, 1)


def test_hour_starting_just_before_night_is_a_day_hour() -> None:
    fee = parking_fee(local(2, 21, 29), local(2, 22, 29), TARIFF)
    assert (fee.fen, fee.day_hours, fee.night_hours) == (500, 1, 0)


def test_night_rate_across_midnight() -> None:
    # 20:00 in, 02:00 out: free to 20:30; hours at 20:30, 21:30 (day), 22:30 … 01:30 (night)
    fee = parking_fee(local(2, 20), local(3, 2), UNCAPPED)
    assert (fee.day_hours, fee.night_hours) == (2, 4)
    assert fee.fen == 2 * 500 + 4 * 200


def test_night_ends_at_night_end_in_the_morning() -> None:
    # 06:00 in: free to 06:30; hour at 06:30 is night, 07:30 and 08:30 day
    fee = parking_fee(local(2, 6), local(2, 9, 30), UNCAPPED)
    assert (fee.day_hours, fee.night_hours) == (2, 1)
    assert fee.fen == 2 * 500 + 200


def test_night_window_is_in_district_time_not_utc() -> None:
    # 22:30 local is 14:30 UTC: a UTC reading would charge the day rate
    fee = parking_fee(local(2, 22), local(2, 23, 30), TARIFF)
    assert fee.night_hours == 1 and fee.fen == 200


def test_night_window_that_does_not_wrap_midnight() -> None:
    early = TARIFF.model_copy(update={"night_start": time(0, 0), "night_end": time(6, 0)})
    assert early.is_night(time(0, 0)) and early.is_night(time(5, 59))
    assert not early.is_night(time(6, 0)) and not early.is_night(time(23, 0))


def test_no_night_window_when_start_equals_end() -> None:
    flat = TARIFF.model_copy(update={"night_start": time(0, 0), "night_end": time(0, 0)})
    fee = parking_fee(local(2, 21), local(3, 3), flat.model_copy(update={"daily_cap_fen": None}))
    assert fee.night_hours == 0 and fee.fen == fee.day_hours * 500


def test_daily_cap_limits_one_day() -> None:
    # 08:00 to 20:00: 12 h - 30 min free = 12 started day hours = ¥60, capped at ¥40
    fee = parking_fee(local(2, 8), local(2, 20), TARIFF)
    assert fee.fen == 4000
    assert fee.capped_days == 1
    assert "capped" in fee.basis


def test_daily_cap_applies_per_24_hours_from_entry_over_several_days() -> None:
    # three full days and one more hour: each full 24 h reaches the cap, the last hour does not
    entered = local(2, 8)
    fee = parking_fee(entered, entered + timedelta(days=3, hours=1), TARIFF)
    assert fee.capped_days == 3
    assert fee.fen == 3 * 4000 + 500


def test_multi_day_cap_uncapped_comparison() -> None:
    entered = local(2, 8)
    exited = entered + timedelta(days=2)
    uncapped = parking_fee(entered, exited, UNCAPPED)
    capped = parking_fee(entered, exited, TARIFF)
    assert uncapped.fen > capped.fen == 2 * 4000
    assert uncapped.day_hours + uncapped.night_hours == 48  # 47.5 h after the free period


def test_a_day_below_the_cap_is_charged_in_full() -> None:
    # night-only hours: 22:00 to 07:00, 9 h - 30 min free = 9 started night hours = ¥18
    fee = parking_fee(local(2, 22), local(3, 7), TARIFF)
    assert (fee.fen, fee.capped_days) == (1800, 0)


def test_monthly_pass_covering_the_stay_pays_nothing() -> None:
    valid = monthly_pass(local(1, 0), local(31, 0))
    fee = parking_fee(local(2, 8), local(4, 20), TARIFF, valid)
    assert fee.fen == 0
    assert fee.monthly_pass
    assert "monthly pass" in fee.basis


def test_expired_pass_does_not_apply() -> None:
    expired = monthly_pass(local(1, 0), local(2, 0))
    fee = parking_fee(local(3, 8), local(3, 10), TARIFF, expired)
    assert fee.fen == 1000
    assert not fee.monthly_pass


def test_pass_expiring_mid_stay_charges_the_hours_after_expiry() -> None:
    # in 08:00, pass ends 12:00, out 14:00: hours at 08:30 … 11:30 covered (the one at 11:30
    # reaches past 12:00, so it is charged), 12:30 and 13:30 charged
    ends = monthly_pass(local(1, 0), local(2, 12))
    fee = parking_fee(local(2, 8), local(2, 14), UNCAPPED, ends)
    assert fee.day_hours == 3
    assert fee.fen == 1500
    assert fee.monthly_pass
    assert "outside the monthly pass" in fee.basis


def test_pass_bought_mid_stay_charges_the_hours_before_it() -> None:
    starts = monthly_pass(local(2, 12), local(30, 0))
    fee = parking_fee(local(2, 8), local(2, 18), UNCAPPED, starts)
    # hours at 08:30, 09:30, 10:30, 11:30 (ends 12:30, past the start) are charged
    assert fee.day_hours == 4 and fee.fen == 2000


def test_pass_is_checked_against_the_stay_not_the_free_period() -> None:
    # a pass that ends 10 min after entry, stay within the free period: free either way
    assert (
        parking_fee(
            local(2, 8), local(2, 8, 20), TARIFF, monthly_pass(local(1, 0), local(2, 8, 10))
        ).fen
        == 0
    )


def test_the_largest_fee_a_tariff_allows_fits_the_stored_session() -> None:
    """Uncapped at the ceiling rate for a half-year stay: past UInt32, which the session
    record (and the column) refused, so the ledger failed on a valid tariff."""
    ceiling = UNCAPPED.model_copy(
        update={"day_rate_fen": 100_000_000, "night_rate_fen": 100_000_000}
    )
    entered, exited = local(2, 10), local(2, 10) + timedelta(days=180)
    fee = parking_fee(entered, exited, ceiling)
    assert fee.fen > 2**32
    session = ParkingSession(
        session_id="s1",
        community_id="c01",
        plate="浙A12345",
        plate_colour=PlateColour.BLUE,
        status=SessionStatus.CLOSED,
        started_at=entered,
        entered_at=entered,
        exited_at=exited,
        fee_fen=fee.fen,
    )
    assert session.fee_fen == fee.fen

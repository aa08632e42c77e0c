"""What a stay costs: a pure function of its times, the tariff and the plate's monthly pass.

The hours after the free period are a grid of whole hours from the end of the free period;
each started hour is charged at the night rate if it starts inside the night window
(district time), else the day rate. Hours fall into 24-h periods counted from the entry,
and each period's sum is capped at the daily cap. An hour wholly inside the pass's
validity costs nothing, so a pass that expires mid-stay charges from its expiry on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.parking import ParkingPass, ParkingTariff
from schemas.reference import DISTRICT_TZ

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Fee:
    fen: int
    day_hours: int
    night_hours: int
    capped_days: int
    basis: str
    """How the fee was made up, for the person at the barrier and the analyst."""
    monthly_pass: bool = False


def yuan(fen: int) -> str:
    return f"¥{fen / 100:.2f}"


def parking_fee(
    entered_at: datetime,
    exited_at: datetime,
    tariff: ParkingTariff,
    monthly_pass: ParkingPass | None = None,
) -> Fee:
    """The fee of a stay from `entered_at` to `exited_at` (exit not before entry)."""
    if exited_at < entered_at:
        raise ValueError("a stay cannot end before it starts")
    free_end = entered_at + timedelta(minutes=tariff.free_minutes)
    covered = _covers(monthly_pass, entered_at, exited_at)
    if covered:
        return Fee(0, 0, 0, 0, f"monthly pass valid until {_local(monthly_pass)}", True)
    if exited_at <= free_end:
        return Fee(0, 0, 0, 0, f"within the free {tariff.free_minutes} min")
    per_day: Counter[int] = Counter()
    day_hours = night_hours = 0
    start = free_end
    while start < exited_at:
        end = min(start + HOUR, exited_at)
        if not _covers(monthly_pass, start, end):
            night = tariff.is_night(start.astimezone(DISTRICT_TZ).time())
            per_day[(start - entered_at) // DAY] += (
                tariff.night_rate_fen if night else tariff.day_rate_fen
            )
            night_hours += night
            day_hours += not night
        start += HOUR
    cap = tariff.daily_cap_fen
    capped = 0 if cap is None else sum(1 for fen in per_day.values() if fen > cap)
    total = sum(fen if cap is None else min(fen, cap) for fen in per_day.values())
    basis = _basis(tariff, day_hours, night_hours, capped)
    overlaps = _overlaps(monthly_pass, entered_at, exited_at)
    if overlaps:
        basis += f"; charged outside the monthly pass (valid until {_local(monthly_pass)})"
    return Fee(total, day_hours, night_hours, capped, basis, overlaps)


def _covers(monthly_pass: ParkingPass | None, start: datetime, end: datetime) -> bool:
    return (
        monthly_pass is not None
        and monthly_pass.valid_from <= start
        and end <= monthly_pass.valid_until
    )


def _overlaps(monthly_pass: ParkingPass | None, start: datetime, end: datetime) -> bool:
    return (
        monthly_pass is not None
        and monthly_pass.valid_from < end
        and start < monthly_pass.valid_until
    )


def _local(monthly_pass: ParkingPass | None) -> str:
    assert monthly_pass is not None
    return monthly_pass.valid_until.astimezone(DISTRICT_TZ).strftime("%Y-%m-%d %H:%M")


def _basis(tariff: ParkingTariff, day_hours: int, night_hours: int, capped: int) -> str:
    parts = [f"first {tariff.free_minutes} min free"]
    if day_hours:
        parts.append(f"{day_hours} h × {yuan(tariff.day_rate_fen)}")
    if night_hours:
        parts.append(f"{night_hours} night h × {yuan(tariff.night_rate_fen)}")
    if capped:
        assert tariff.daily_cap_fen is not None
        parts.append(f"{capped} × 24 h capped at {yuan(tariff.daily_cap_fen)}")
    return "; ".join(parts)

"""Pairing passages into parking sessions: entries, exits, missed reads, late and duplicate
passages, overdue stays, settling, and fees fixed when a session closes."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from schemas.events import Direction, PlateColour
from schemas.parking import ParkingPass, ParkingSession, ParkingTariff, SessionStatus
from schemas.reference import DISTRICT_TZ
from streams.parking.ledger import PlateLedger, Terms, Timing, record, tick, wake_at
from streams.parking.pairing import Read, pair

TARIFF = ParkingTariff(community_id="c01", max_open_hours=72)
TERMS = Terms(tariff_id="c01", tariff=TARIFF)
TIMING = Timing(duplicate_within=timedelta(seconds=60), settle_after=timedelta(hours=6))
_ids = itertools.count()


def at(hour: float, day: int = 2) -> datetime:
    return datetime(2026, 3, day, tzinfo=DISTRICT_TZ) + timedelta(hours=hour)


def read(direction: str, when: datetime, gate: str = "c01-gate-1") -> Read:
    return Read(
        event_id=f"p{next(_ids)}",
        at=when,
        direction=Direction(direction),
        gate_id=gate,
        plate_colour=PlateColour.BLUE,
    )


def fold(*reads: Read, terms: Terms = TERMS) -> tuple[PlateLedger, list[ParkingSession]]:
    ledger = PlateLedger(community_id="c01", plate="浙A12345")
    emitted: list[ParkingSession] = []
    for r in reads:
        ledger, sessions = record(ledger, r, terms, TIMING)
        emitted += sessions
    return ledger, emitted


def current(ledger: PlateLedger) -> dict[str, ParkingSession]:
    return {k: s for k, s in ledger.sessions.items() if not s.is_deleted}


def test_entry_opens_a_session_and_the_exit_closes_it_with_its_fee() -> None:
    entry, exit_ = read("in", at(10)), read("out", at(12))
    _ledger, emitted = fold(entry, exit_)
    opened, closed = emitted
    assert opened.session_id == closed.session_id == entry.event_id
    assert (opened.status, opened.revision, opened.fee_fen) == (SessionStatus.OPEN, 1, None)
    assert closed.status is SessionStatus.CLOSED and closed.revision == 2
    assert closed.exit_event_id == exit_.event_id and closed.exited_at == exit_.at
    assert closed.duration_seconds == 7200
    assert closed.fee_fen == 1000  # 2 h - 30 min free = 2 started hours × ¥5
    assert closed.tariff_id == "c01"
    assert closed.started_at == entry.at


def test_second_entry_without_exit_closes_the_first_as_entry_without_exit() -> None:
    first, second = read("in", at(10)), read("in", at(15), gate="c01-gate-2")
    ledger, _emitted = fold(first, second)
    sessions = current(ledger)
    missed = sessions[first.event_id]
    assert missed.status is SessionStatus.ENTRY_WITHOUT_EXIT
    assert missed.fee_fen is None and missed.exited_at is None
    assert "exit was missed" in missed.reason and "c01-gate-2" in missed.reason
    assert sessions[second.event_id].status is SessionStatus.OPEN


def test_exit_without_entry_is_kept_with_a_reason_and_no_fee() -> None:
    exit_ = read("out", at(9))
    _, [orphan] = fold(exit_)
    assert orphan.session_id == exit_.event_id
    assert orphan.status is SessionStatus.EXIT_WITHOUT_ENTRY
    assert orphan.fee_fen is None and orphan.entered_at is None
    assert orphan.started_at == exit_.at
    assert "no entry read" in orphan.reason


def test_entry_arriving_after_its_exit_pairs_and_retires_the_orphan_exit() -> None:
    entry, exit_ = read("in", at(10)), read("out", at(12))
    ledger, emitted = fold(exit_, entry)
    orphan, closed, retired = emitted
    assert orphan.status is SessionStatus.EXIT_WITHOUT_ENTRY
    assert closed.session_id == entry.event_id and closed.status is SessionStatus.CLOSED
    assert closed.fee_fen == 1000
    assert retired.session_id == exit_.event_id and retired.is_deleted and retired.revision == 2
    assert list(current(ledger)) == [entry.event_id]


def test_exit_earlier_in_event_time_than_the_entry_is_an_earlier_stay() -> None:
    entry, exit_ = read("in", at(12)), read("out", at(11))
    ledger, _ = fold(entry, exit_)
    sessions = current(ledger)
    assert sessions[exit_.event_id].status is SessionStatus.EXIT_WITHOUT_ENTRY
    assert sessions[entry.event_id].status is SessionStatus.OPEN


def test_late_exit_between_two_entries_closes_the_first_properly() -> None:
    first, second, late_exit = read("in", at(10)), read("in", at(14)), read("out", at(12))
    ledger, emitted = fold(first, second, late_exit)
    sessions = current(ledger)
    assert sessions[first.event_id].status is SessionStatus.CLOSED
    assert sessions[first.event_id].fee_fen == 1000
    assert sessions[first.event_id].revision == 3  # open, entry_without_exit, closed
    assert sessions[second.event_id].status is SessionStatus.OPEN
    assert emitted[-1].session_id == first.event_id


def test_duplicate_reads_at_the_barrier_are_one_passage() -> None:
    entry = read("in", at(10))
    again = read("in", at(10) + timedelta(seconds=20))
    exit_ = read("out", at(11))
    exit_again = read("out", at(11) + timedelta(seconds=30))
    ledger, _ = fold(entry, again, exit_, exit_again)
    assert [s.status for s in current(ledger).values()] == [SessionStatus.CLOSED]


def test_a_resent_passage_changes_nothing() -> None:
    entry = read("in", at(10))
    ledger, _ = fold(entry)
    again, emitted = record(ledger, entry, TERMS, TIMING)
    assert emitted == [] and again == ledger


def test_in_and_out_at_the_same_instant_is_a_zero_length_stay() -> None:
    when = at(10)
    ledger, _ = fold(read("out", when), read("in", when))
    [session] = current(ledger).values()
    assert session.status is SessionStatus.CLOSED and session.duration_seconds == 0


def test_resident_with_a_valid_monthly_pass_pays_nothing() -> None:
    valid = ParkingPass(
        community_id="c01", plate="浙A12345", valid_from=at(0, day=1), valid_until=at(0, day=28)
    )
    terms = Terms(tariff_id="c01", tariff=TARIFF, monthly_pass=valid, resident=True)
    ledger, _ = fold(read("in", at(8)), read("out", at(20)), terms=terms)
    [session] = current(ledger).values()
    assert session.fee_fen == 0 and session.monthly_pass and session.resident


def test_fee_is_fixed_when_the_session_closes() -> None:
    ledger, _ = fold(read("in", at(10)), read("out", at(12)))
    dearer = Terms(tariff_id="c01", tariff=TARIFF.model_copy(update={"day_rate_fen": 900}))
    ledger, emitted = record(ledger, read("in", at(13)), dearer, TIMING)
    assert [s.status for s in emitted] == [SessionStatus.OPEN]
    closed = [s for s in current(ledger).values() if s.status is SessionStatus.CLOSED]
    assert closed[0].fee_fen == 1000


def test_open_session_turns_overdue_past_the_limit_and_still_closes_with_its_fee() -> None:
    entry = read("in", at(8))
    ledger, _ = fold(entry)
    limit = entry.at + timedelta(hours=72)
    assert wake_at(ledger, TARIFF, TIMING) == limit + timedelta(milliseconds=1)
    unchanged, nothing = tick(ledger, limit, TERMS, TIMING)
    assert nothing == [] and unchanged is not None
    assert unchanged.sessions[entry.event_id].status is SessionStatus.OPEN
    ticked, [overdue] = tick(ledger, limit + timedelta(seconds=1), TERMS, TIMING)
    assert overdue.status is SessionStatus.OVERDUE and overdue.revision == 2
    assert "72 h" in overdue.reason
    assert ticked is not None and wake_at(ticked, TARIFF, TIMING) is None
    _closed_ledger, [closed] = record(ticked, read("out", at(8, day=6)), TERMS, TIMING)
    assert closed.status is SessionStatus.CLOSED and closed.revision == 3
    assert closed.fee_fen == 4 * 4000  # four capped days
    assert closed.reason == ""


def test_settled_stays_are_forgotten_and_a_later_stay_is_kept() -> None:
    entry, exit_, again = read("in", at(8)), read("out", at(9)), read("in", at(20))
    ledger, _ = fold(entry, exit_, again)
    assert wake_at(ledger, TARIFF, TIMING) == exit_.at + timedelta(hours=6, milliseconds=1)
    ticked, emitted = tick(ledger, exit_.at + timedelta(hours=7), TERMS, TIMING)
    assert emitted == []
    assert ticked is not None
    assert [r.event_id for r in ticked.reads] == [again.event_id]
    assert list(ticked.sessions) == [again.event_id]
    assert ticked.settled_until == exit_.at


def test_ledger_with_only_settled_stays_is_dropped() -> None:
    ledger, _ = fold(read("in", at(8)), read("out", at(9)))
    ticked, _ = tick(ledger, at(16), TERMS, TIMING)
    assert ticked is None


def test_passage_older_than_the_settled_stays_is_a_session_of_its_own() -> None:
    ledger, _ = fold(read("in", at(8)), read("out", at(9)), read("in", at(20)))
    ticked, _ = tick(ledger, at(16), TERMS, TIMING)
    assert ticked is not None
    late = read("out", at(8, day=2) + timedelta(minutes=30))
    after, [alone] = record(ticked, late, TERMS, TIMING)
    assert alone.status is SessionStatus.EXIT_WITHOUT_ENTRY
    assert "settled" in alone.reason
    assert after == ticked


def test_pairing_ignores_a_repeated_exit_after_an_orphan_exit() -> None:
    reads = [read("out", at(9)), read("out", at(9) + timedelta(seconds=5))]
    assert [p.status for p in pair(reads, TIMING.duplicate_within)] == [
        SessionStatus.EXIT_WITHOUT_ENTRY
    ]

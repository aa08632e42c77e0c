"""One plate's parking in one community: its recent passages and the sessions emitted
from them. Pure functions of the ledger, a passage or the event-time watermark, and the
terms (tariff, pass) — no Kafka, no wall clock — so a replay yields the same sessions.

A session is emitted when it appears or changes, as a new revision of its id; a session
that a late passage dissolved (an exit without entry whose entry arrived late) is emitted
once more as deleted. A closed session's fee is fixed when it closes: a later tariff
change does not re-price it. Passages stay in the ledger until the watermark is
`settle_after` past the end of their stay; a passage older than what was settled cannot
be paired any more and becomes a session of its own.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, field_validator

from schemas.events import Direction
from schemas.parking import ParkingPass, ParkingSession, ParkingTariff, SessionStatus
from schemas.reference import DISTRICT_TZ
from schemas.topics import VEHICLE_PASSAGES
from streams.parking.fees import parking_fee
from streams.parking.pairing import Pairing, Read, pair
from streams.state.applied import Applied

TICK = timedelta(milliseconds=1)
"""Event times carry millisecond precision: the first instant past a limit."""


@dataclass(frozen=True)
class Terms:
    """What prices a plate's stays in a community, looked up when a session closes."""

    tariff_id: str
    tariff: ParkingTariff
    monthly_pass: ParkingPass | None = None
    resident: bool = False


@dataclass(frozen=True)
class Timing:
    duplicate_within: timedelta
    settle_after: timedelta


class PlateLedger(BaseModel):
    """The state kept per community and plate (JSON in a RocksDB table with a changelog).

    `applied` holds the last vehicle-passages offset folded in, so a replay skips it (a
    ledger stored before it was a mapping held the bare offset); `partition` is where the
    ledger lives (its community's partition).
    """

    model_config = ConfigDict(extra="ignore")

    community_id: str
    plate: str
    reads: list[Read] = []
    sessions: dict[str, ParkingSession] = {}
    settled_until: datetime | None = None
    applied: Applied = {}
    partition: int = -1

    @field_validator("applied", mode="before")
    @classmethod
    def _bare_offset(cls, value: object) -> object:
        if isinstance(value, int):
            return {VEHICLE_PASSAGES.name: value} if value >= 0 else {}
        return value


def record(
    ledger: PlateLedger, read: Read, terms: Terms, timing: Timing
) -> tuple[PlateLedger, list[ParkingSession]]:
    """Fold one passage in; returns the new ledger and the sessions to emit."""
    if any(r.event_id == read.event_id for r in ledger.reads):
        return ledger, []
    if ledger.settled_until is not None and read.at <= ledger.settled_until:
        return ledger, [_too_late(ledger, read, terms)]
    reads = list(ledger.reads)
    bisect.insort(reads, read, key=Read.order)
    updated = ledger.model_copy(update={"reads": reads, "sessions": dict(ledger.sessions)})
    return updated, _reconcile(updated, pair(reads, timing.duplicate_within), terms)


def tick(
    ledger: PlateLedger, watermark: datetime, terms: Terms, timing: Timing
) -> tuple[PlateLedger | None, list[ParkingSession]]:
    """Event time reached `watermark`: report a stay open too long, and forget stays over
    for longer than `settle_after`. None when nothing is left to remember."""
    pairings = pair(ledger.reads, timing.duplicate_within)
    sessions = dict(ledger.sessions)
    emitted: list[ParkingSession] = []
    for pairing in pairings:
        current = sessions.get(pairing.session_id)
        if (
            pairing.status is SessionStatus.OPEN
            and current is not None
            and current.status is SessionStatus.OPEN
            and watermark >= _overdue_at(pairing, terms.tariff)
        ):
            overdue = current.model_copy(
                update={
                    "status": SessionStatus.OVERDUE,
                    "reason": _overdue_reason(terms.tariff),
                    "revision": current.revision + 1,
                }
            )
            sessions[overdue.session_id] = overdue
            emitted.append(overdue)
    cut = _settled(pairings, watermark, timing, len(ledger.reads))
    if cut == 0:
        return ledger.model_copy(update={"sessions": sessions}), emitted
    kept = ledger.reads[cut:]
    if not kept:
        return None, emitted
    ids = {r.event_id for r in kept}
    return (
        ledger.model_copy(
            update={
                "reads": kept,
                "sessions": {k: s for k, s in sessions.items() if k in ids},
                "settled_until": ledger.reads[cut - 1].at,
            }
        ),
        emitted,
    )


def wake_at(ledger: PlateLedger, tariff: ParkingTariff, timing: Timing) -> datetime | None:
    """The watermark at which `tick` has something to do."""
    times = []
    pairings = pair(ledger.reads, timing.duplicate_within)
    for pairing in pairings:
        current = ledger.sessions.get(pairing.session_id)
        if pairing.status is SessionStatus.OPEN:
            if current is not None and current.status is SessionStatus.OPEN:
                times.append(_overdue_at(pairing, tariff))
        elif pairing is pairings[0] and pairing.ended_at is not None:
            times.append(pairing.ended_at + timing.settle_after + TICK)
    return min(times, default=None)


def _settled(pairings: list[Pairing], watermark: datetime, timing: Timing, reads: int) -> int:
    """How many leading reads belong to stays over for longer than `settle_after`."""
    for pairing in pairings:
        ended = pairing.ended_at
        if ended is None or ended + timing.settle_after >= watermark:
            return pairing.first
    return reads


def _overdue_at(pairing: Pairing, tariff: ParkingTariff) -> datetime:
    assert pairing.entry is not None
    return pairing.entry.at + timedelta(hours=tariff.max_open_hours) + TICK


def _reconcile(ledger: PlateLedger, pairings: list[Pairing], terms: Terms) -> list[ParkingSession]:
    """Bring `ledger.sessions` in line with the pairings; returns what changed."""
    changed = []
    live = set()
    for pairing in pairings:
        live.add(pairing.session_id)
        current = ledger.sessions.get(pairing.session_id)
        if current is not None and not current.is_deleted and _same_stay(current, pairing):
            continue
        revision = 1 if current is None else current.revision + 1
        session = _session(ledger, pairing, terms, revision)
        ledger.sessions[session.session_id] = session
        changed.append(session)
    for session_id, current in list(ledger.sessions.items()):
        if session_id not in live and not current.is_deleted:
            gone = current.model_copy(update={"is_deleted": True, "revision": current.revision + 1})
            ledger.sessions[session_id] = gone
            changed.append(gone)
    return changed


def _same_stay(session: ParkingSession, pairing: Pairing) -> bool:
    status = SessionStatus.OPEN if session.status is SessionStatus.OVERDUE else session.status
    return (
        status is pairing.status
        and session.entry_event_id == (pairing.entry.event_id if pairing.entry else None)
        and session.exit_event_id == (pairing.exit.event_id if pairing.exit else None)
        and (
            pairing.status is not SessionStatus.ENTRY_WITHOUT_EXIT
            or session.reason == _missed_exit(pairing)
        )
    )


def _session(ledger: PlateLedger, pairing: Pairing, terms: Terms, revision: int) -> ParkingSession:
    entry, exit_ = pairing.entry, pairing.exit
    first = entry or exit_
    assert first is not None
    session = ParkingSession(
        session_id=pairing.session_id,
        community_id=ledger.community_id,
        plate=ledger.plate,
        plate_colour=first.plate_colour,
        status=pairing.status,
        started_at=first.at,
        entered_at=entry.at if entry else None,
        exited_at=exit_.at if exit_ else None,
        entry_event_id=entry.event_id if entry else None,
        exit_event_id=exit_.event_id if exit_ else None,
        entry_gate_id=entry.gate_id if entry else None,
        exit_gate_id=exit_.gate_id if exit_ else None,
        tariff_id=terms.tariff_id,
        resident=terms.resident,
        revision=revision,
    )
    if pairing.status is SessionStatus.CLOSED:
        assert entry is not None and exit_ is not None
        fee = parking_fee(entry.at, exit_.at, terms.tariff, terms.monthly_pass)
        update = {
            "duration_seconds": int((exit_.at - entry.at).total_seconds()),
            "fee_fen": fee.fen,
            "fee_basis": fee.basis,
            "monthly_pass": fee.monthly_pass,
        }
    elif pairing.status is SessionStatus.ENTRY_WITHOUT_EXIT:
        update = {"reason": _missed_exit(pairing)}
    elif pairing.status is SessionStatus.EXIT_WITHOUT_ENTRY:
        update = {
            "reason": "no entry read before this exit (missed at the gate, or the car was "
            "inside before records began): duration and fee unknown"
        }
    else:
        update = {}
    return session.model_copy(update=update)


def _missed_exit(pairing: Pairing) -> str:
    assert pairing.next_entry is not None
    again = pairing.next_entry
    return (
        f"entered again at {_local(again.at)} (gate {again.gate_id}) with no exit read in "
        "between: the exit was missed, duration and fee unknown"
    )


def _overdue_reason(tariff: ParkingTariff) -> str:
    return f"inside longer than {tariff.max_open_hours:g} h with no exit read"


def _too_late(ledger: PlateLedger, read: Read, terms: Terms) -> ParkingSession:
    """A passage older than the stays already settled: kept as a session of its own."""
    assert ledger.settled_until is not None
    entry = read.direction is Direction.IN
    return ParkingSession(
        session_id=read.event_id,
        community_id=ledger.community_id,
        plate=ledger.plate,
        plate_colour=read.plate_colour,
        status=SessionStatus.ENTRY_WITHOUT_EXIT if entry else SessionStatus.EXIT_WITHOUT_ENTRY,
        started_at=read.at,
        entered_at=read.at if entry else None,
        exited_at=None if entry else read.at,
        entry_event_id=read.event_id if entry else None,
        exit_event_id=None if entry else read.event_id,
        entry_gate_id=read.gate_id if entry else None,
        exit_gate_id=None if entry else read.gate_id,
        reason=(
            f"read arrived after this plate's stays up to {_local(ledger.settled_until)} "
            "were settled, so it could not be paired: duration and fee unknown"
        ),
        tariff_id=terms.tariff_id,
        resident=terms.resident,
    )


def _local(at: datetime) -> str:
    return at.astimezone(DISTRICT_TZ).strftime("%Y-%m-%d %H:%M:%S")

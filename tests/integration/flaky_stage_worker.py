"""`pingan worker` whose parking stage raises on its first batches holding a marked passage,
for test_sink_faults: the batch must be retried until handled, not committed unhandled.

`FLAKY_MARK` in an event id makes the parking book's fold raise `FLAKY_FAILURES` times."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pingan.platform.settings import get_settings
from pingan.worker import run_worker
from streams.engine import Arrival
from streams.parking.book import ParkingBook

FLAKY_MARK = "-flaky-"
FLAKY_FAILURES = 3

_fold = ParkingBook.fold
_failed = 0


def flaky_fold(self: ParkingBook, arrivals: Sequence[Arrival]) -> None:
    global _failed
    if _failed < FLAKY_FAILURES and any(FLAKY_MARK in a.event.event_id for a in arrivals):
        _failed += 1
        raise ConnectionError(f"parking stage down ({_failed} of {FLAKY_FAILURES})")
    _fold(self, arrivals)


if __name__ == "__main__":
    ParkingBook.fold = flaky_fold  # type: ignore[method-assign]
    result = run_worker(get_settings(), host_api=True)
    result.warehouse.close()
    sys.exit(1 if result.failure is not None else 0)

"""What a fetch that straddles a pause keeps and puts back."""

from __future__ import annotations

from dataclasses import dataclass

from faust.types import TP

from streams.faust_internals import paused_records

P0 = TP("pingan.events.vehicle-passages", 0)
P1 = TP("pingan.events.vehicle-passages", 1)
P2 = TP("pingan.events.vehicle-passages", 2)


@dataclass
class Record:
    offset: int


def batch(first: int, last: int) -> list[Record]:
    return [Record(o) for o in range(first, last + 1)]


def test_active_and_buffered_partitions_are_delivered_as_fetched() -> None:
    records = {P0: batch(3, 9), P1: batch(1, 2414)}
    kept, put_back = paused_records(records, active={P0}, buffered={P1})
    assert kept == records
    assert put_back == {}


def test_a_paused_partition_is_put_back_at_its_first_fetched_offset() -> None:
    records = {P0: batch(3, 9), P1: batch(1, 2414), P2: batch(17, 20)}
    kept, put_back = paused_records(records, active={P0}, buffered=set())
    assert kept == {P0: records[P0]}
    assert put_back == {P1: 1, P2: 17}


def test_everything_is_put_back_when_recovery_has_paused_all_partitions() -> None:
    records = {P0: batch(0, 5), P1: batch(40, 41)}
    kept, put_back = paused_records(records, active=set(), buffered=set())
    assert kept == {}
    assert put_back == {P0: 0, P1: 40}


def test_an_empty_batch_of_a_paused_partition_moves_nothing() -> None:
    kept, put_back = paused_records({P1: []}, active=set(), buffered=set())
    assert kept == {}
    assert put_back == {}

"""The sink's pure parts: bisecting a batch down to its culprits, and telling a permanent
ClickHouse error from a transient one."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import timedelta

import pytest

from pingan.platform.health import Stall
from pingan.platform.warehouse import WarehouseError, _error_code
from pingan.platform.warehouse_faults import WarehouseFault
from schemas.alerts import AlertType, Severity
from schemas.events import utc_now
from streams.sink import isolate, stall_alert


class Store:
    """Stores any batch without a bad item; counts the attempts."""

    def __init__(self, bad: set[int]) -> None:
        self.bad = bad
        self.stored: list[int] = []
        self.attempts = 0

    async def __call__(self, items: Sequence[int]) -> str | None:
        self.attempts += 1
        culprits = self.bad.intersection(items)
        if culprits:
            return f"bad {sorted(culprits)}"
        self.stored += items
        return None


def run(items: list[int], bad: set[int]) -> tuple[list[tuple[int, str]], Store]:
    store = Store(bad)
    return asyncio.run(isolate(items, store)), store


def test_a_clean_batch_is_one_attempt() -> None:
    culprits, store = run(list(range(5000)), set())
    assert culprits == []
    assert store.attempts == 1
    assert store.stored == list(range(5000))


def test_one_bad_message_in_n_costs_log_n_attempts() -> None:
    n = 5000
    culprits, store = run(list(range(n)), {3217})
    assert culprits == [(3217, "bad [3217]")]
    assert sorted(store.stored) == [i for i in range(n) if i != 3217]
    assert store.attempts <= 2 * math.ceil(math.log2(n)) + 1


@pytest.mark.parametrize("bad", [{0}, {99}, {0, 99}, {10, 11, 12}, set(range(100))])
def test_every_culprit_is_found_and_every_other_item_stored(bad: set[int]) -> None:
    culprits, store = run(list(range(100)), bad)
    assert {item for item, _ in culprits} == bad
    assert sorted(store.stored) == sorted(set(range(100)) - bad)


def test_nothing_to_store_is_no_attempt() -> None:
    culprits, store = run([], set())
    assert (culprits, store.attempts) == ([], 0)


@pytest.mark.parametrize(
    ("code", "permanent"),
    [(53, True), (321, True), (6, True), (252, False), (241, False), (209, False), (None, False)],
)
def test_permanent_errors_are_the_rows_fault(code: int | None, permanent: bool) -> None:
    assert WarehouseError("x", code).permanent is permanent


def test_the_error_code_is_read_from_chdb_text() -> None:
    text = "Code: 53. DB::Exception: Type mismatch in IN or VALUES section. (TYPE_MISMATCH)"
    assert _error_code(RuntimeError(text)) == 53
    assert _error_code(RuntimeError("connection refused")) is None


def test_fault_specs_are_checked() -> None:
    assert WarehouseFault.parse("transient:alerts:3").table == "alerts"
    with pytest.raises(ValueError, match="expected one of"):
        WarehouseFault.parse("explode:alerts")


def test_a_stall_alert_names_topic_partitions_and_error_in_both_languages() -> None:
    since = utc_now() - timedelta(minutes=5)
    error = "Code: 252. Too many parts " + "x" * 5000
    stall = Stall("pingan.events.vehicle-passages", "vehicle_passages", (0, 3), since, error)
    alert = stall_alert(stall)
    assert alert.alert_type is AlertType.PIPELINE_STALLED
    assert alert.severity is Severity.HIGH
    assert alert.subject == "pingan.events.vehicle-passages/0,3"
    for text in (alert.explanation, alert.explanation_zh):
        assert "pingan.events.vehicle-passages" in text
        assert "Too many parts" in text
    assert stall.topic in stall.reason

"""Faults injected into warehouse inserts, for tests and `make chaos` only.

Set through `PINGAN_TEST_WAREHOUSE_FAULT` (settings `test_warehouse_fault`); production
leaves it unset. They make the sink meet, on demand, what a real ClickHouse does on its
worst night: a crash between the parts of one insert, a transient error that lasts, and
rows the server refuses.

    crash-between-parts:<table>   the process exits (os._exit) after the first part of an
                                  insert that spans several partitions
    transient:<table>:<n|always>  the next n inserts (or every one) fail with TOO_MANY_PARTS
    reject:<table>:<marker>       an insert holding a row whose event_id contains <marker>
                                  fails with TYPE_MISMATCH, as a value ClickHouse refuses
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

CRASH_EXIT_CODE = 70
TOO_MANY_PARTS = 252
TYPE_MISMATCH = 53
KINDS = ("crash-between-parts", "transient", "reject")


class InjectedFault(RuntimeError):
    """A ClickHouse error made up by a test fault, with the code the real one would carry."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(f"Code: {code}. {message} (injected by PINGAN_TEST_WAREHOUSE_FAULT)")
        self.code = code


@dataclass
class WarehouseFault:
    kind: str
    table: str
    argument: str = ""
    _failures_left: int | None = None

    @classmethod
    def parse(cls, spec: str) -> WarehouseFault:
        kind, _, rest = spec.partition(":")
        table, _, argument = rest.partition(":")
        if kind not in KINDS or not table:
            raise ValueError(f"PINGAN_TEST_WAREHOUSE_FAULT {spec!r}: expected one of {KINDS}")
        fault = cls(kind, table, argument)
        if kind == "transient" and argument != "always":
            fault._failures_left = int(argument or "1")
        return fault

    def before_insert(self, table: str, rows: pa.Table) -> None:
        if table != self.table:
            return
        if self.kind == "transient" and self._failures_left != 0:
            if self._failures_left is not None:
                self._failures_left -= 1
            raise InjectedFault("Too many parts", TOO_MANY_PARTS)
        if self.kind == "reject" and _holds_marker(rows, self.argument):
            raise InjectedFault(f"Cannot insert a row holding {self.argument!r}", TYPE_MISMATCH)

    def after_part(self, table: str, parts: int) -> None:
        if self.kind == "crash-between-parts" and table == self.table and parts > 1:
            os._exit(CRASH_EXIT_CODE)


def _holds_marker(rows: pa.Table, marker: str) -> bool:
    if "event_id" not in rows.column_names:
        return False
    return bool(pc.any(pc.match_substring(rows.column("event_id"), marker)).as_py())

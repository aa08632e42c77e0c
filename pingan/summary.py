"""The end-of-run summary an operator reads after `make run DURATION=…`.

Alerts are counted in two ways because the alert book folds a repeat finding into its
subject's open alert: a run may handle a hundred fence alarms and open no alert at all,
every alarm having gone to a zone alerted in an earlier run and never resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pingan.platform.warehouse import Warehouse
from schemas.topics import ALERTS, DEAD_LETTERS, EVENT_TOPICS
from streams.sink import SinkStats


@dataclass(frozen=True)
class RunSummary:
    events_in: dict[str, int]
    alerts_by_type: dict[str, int]
    """Alerts this run opened."""
    alerts_updated_by_type: dict[str, int]
    """Alerts opened before this run that findings of this run were folded into."""
    table_rows: dict[str, int]
    dead_letters_this_run: int
    dead_letters_total: int
    rule_failures: dict[str, int]
    """Rule → events it raised on this run: isolated, each dead-lettered with its reason."""
    latency_p50_ms: float | None
    latency_p99_ms: float | None

    def render(self) -> str:
        lines = ["", "Pingan run summary", "==================", "Events in (this run):"]
        lines += [f"  {table:<20} {n:>10,}" for table, n in self.events_in.items()]
        lines.append("Alerts raised (new this run):")
        lines += _per_type(self.alerts_by_type)
        lines.append("Alerts updated (folded into open alerts):")
        lines += _per_type(self.alerts_updated_by_type)
        lines.append("Rows per ClickHouse table (total):")
        lines += [f"  {table:<20} {n:>10,}" for table, n in self.table_rows.items()]
        lines.append(
            f"Dead letters: {self.dead_letters_this_run:,} this run, "
            f"{self.dead_letters_total:,} in total"
        )
        if self.rule_failures:
            failed = ", ".join(f"{rule} {n:,}" for rule, n in sorted(self.rule_failures.items()))
            lines.append(f"Rule failures (isolated, dead-lettered): {failed}")
        if self.latency_p50_ms is None:
            lines.append("Event→alert latency: no alerts this run")
        else:
            lines.append(
                f"Event→alert latency: p50 {self.latency_p50_ms:.0f} ms, "
                f"p99 {self.latency_p99_ms:.0f} ms"
            )
        return "\n".join(lines)


def summarise(warehouse: Warehouse, stats: SinkStats, since: datetime) -> RunSummary:
    tables = [t.table for t in (*EVENT_TOPICS, ALERTS, DEAD_LETTERS) if t.table]
    table_rows = {
        table: int(warehouse.query(f"SELECT count() AS n FROM {table} FINAL")[0]["n"])
        for table in tables
    }
    alerts = _alerts_per_type(warehouse, "raised_at >= {since:DateTime64(3, 'UTC')}", since)
    updated = _alerts_per_type(
        warehouse,
        "raised_at < {since:DateTime64(3, 'UTC')} AND last_seen >= {since:DateTime64(3, 'UTC')}",
        since,
    )
    latency = warehouse.query(
        "SELECT count() AS n, "
        "quantileExact(0.5)(dateDiff('millisecond', source_received_at, raised_at)) AS p50, "
        "quantileExact(0.99)(dateDiff('millisecond', source_received_at, raised_at)) AS p99 "
        "FROM alerts FINAL WHERE raised_at >= {since:DateTime64(3, 'UTC')}",
        {"since": since},
    )[0]
    return RunSummary(
        events_in={t.table: stats.rows_written[t.table] for t in EVENT_TOPICS if t.table},
        alerts_by_type={_text(r["alert_type"]): int(r["n"]) for r in alerts},
        alerts_updated_by_type={_text(r["alert_type"]): int(r["n"]) for r in updated},
        table_rows=table_rows,
        dead_letters_this_run=sum(stats.dead_lettered.values()),
        dead_letters_total=table_rows["dead_letters"],
        rule_failures=dict(stats.rule_failures),
        latency_p50_ms=float(latency["p50"]) if latency["n"] else None,
        latency_p99_ms=float(latency["p99"]) if latency["n"] else None,
    )


def _alerts_per_type(warehouse: Warehouse, where: str, since: datetime) -> list[dict[str, Any]]:
    """Only a folded finding moves `last_seen`: an officer's acknowledgement, attached
    evidence or a clearance leave it, so an alert they touched is not counted as updated."""
    return warehouse.query(
        f"SELECT alert_type, count() AS n FROM alerts FINAL WHERE {where} "
        "GROUP BY alert_type ORDER BY alert_type",
        {"since": since},
    )


def _per_type(counts: dict[str, int]) -> list[str]:
    return [f"  {kind:<20} {n:>10,}" for kind, n in counts.items()] or ["  (none)"]


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value

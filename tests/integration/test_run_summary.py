"""The end-of-run summary on a real chDB: alerts a run opened and alerts it folded findings
into are counted apart, so a second run is never reported as having raised nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pingan.platform.warehouse import Warehouse
from pingan.summary import RunSummary, summarise
from schemas.alerts import Alert, AlertType, Evidence, Severity, SubjectKind
from schemas.events import utc_now
from streams.alert_book import AlertBook
from streams.rules.rule import Explanation, Finding
from streams.sink import SinkStats
from tests.integration.api_harness import insert_records, prepared_warehouse

pytestmark = pytest.mark.integration

NO_SUPPRESSION = timedelta(0)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with prepared_warehouse(tmp_path) as warehouse:
        yield warehouse


def fence_alarm(zone: str, n: int, at: datetime) -> Finding:
    return Finding(
        alert_type=AlertType.PERIMETER_INTRUSION,
        severity=Severity.CRITICAL,
        community_id=zone.split("-")[0],
        subject_kind=SubjectKind.FENCE_ZONE,
        subject=zone,
        occurred_at=at,
        explanation=Explanation(en=f"fence alarm {n}", zh=f"围栏报警 {n}"),
        evidence=[
            Evidence(
                event_id=f"{zone}-a{n}",
                event_kind="perimeter_alarm",
                occurred_at=at,
                summary=f"cross alarm at {zone}",
            )
        ],
    )


def handled(book: AlertBook, zone: str, alarms: range, at: datetime) -> list[Alert]:
    """Every version the alert book publishes for these alarms, as the sink writes them."""
    versions = []
    for n in alarms:
        moment = at + timedelta(seconds=n)
        alert = book.record(fence_alarm(zone, n, moment), moment, moment, NO_SUPPRESSION)
        assert alert is not None
        versions.append(alert)
    return versions


def second_run(warehouse: Warehouse, *, new_zones: int) -> RunSummary:
    """Yesterday's run opened an alert on c01-fz1 that nobody resolved; today's run folds
    80 more alarms into it and opens an alert on each of `new_zones` other zones."""
    book = AlertBook({})
    since = utc_now() - timedelta(minutes=10)
    earlier = handled(book, "c01-fz1", range(1, 4), since - timedelta(days=1))
    today = handled(book, "c01-fz1", range(4, 84), since + timedelta(seconds=5))
    for zone in range(2, 2 + new_zones):
        today += handled(book, f"c02-fz{zone}", range(1, 3), since + timedelta(minutes=1))
    insert_records(warehouse, "alerts", earlier)
    insert_records(warehouse, "alerts", today)
    return summarise(warehouse, SinkStats(), since)


def section(text: str, heading: str) -> list[str]:
    """The indented lines under a heading of the rendered summary."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    body = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        body.append(line.split())
    return body


def test_a_run_that_only_folds_into_open_alerts_says_so(warehouse: Warehouse) -> None:
    text = second_run(warehouse, new_zones=0).render()
    assert section(text, "Alerts raised (new this run):") == [["(none)"]]
    assert section(text, "Alerts updated (folded into open alerts):") == [
        ["PERIMETER_INTRUSION", "1"]
    ]


def test_new_and_updated_alerts_are_counted_apart(warehouse: Warehouse) -> None:
    summary = second_run(warehouse, new_zones=2)
    assert summary.alerts_by_type == {"PERIMETER_INTRUSION": 2}
    assert summary.alerts_updated_by_type == {"PERIMETER_INTRUSION": 1}
    text = summary.render()
    assert section(text, "Alerts raised (new this run):") == [["PERIMETER_INTRUSION", "2"]]
    assert section(text, "Alerts updated (folded into open alerts):") == [
        ["PERIMETER_INTRUSION", "1"]
    ]


def test_rule_failures_are_reported(warehouse: Warehouse) -> None:
    """A rule that raised was isolated: the operator still has to hear about it."""
    stats = SinkStats(rule_failures=Counter({"stray_dog": 2, "cloned_plate": 1}))
    text = summarise(warehouse, stats, utc_now()).render()
    assert "Rule failures (isolated, dead-lettered): cloned_plate 1, stray_dog 2" in text
    assert "Rule failures" not in summarise(warehouse, SinkStats(), utc_now()).render()

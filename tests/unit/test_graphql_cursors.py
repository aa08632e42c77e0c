"""Cursors, page arguments, filter validation and subscriber queues of the GraphQL API (no I/O)."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from graphql_api.access import Caller, Role
from graphql_api.criteria import AlertCriteria, PassageCriteria, TimeWindow
from graphql_api.errors import InvalidArgument
from graphql_api.feed import AlertSubscription, FeedUnavailable
from graphql_api.pagination import (
    MAX_PAGE_SIZE,
    Cursor,
    Page,
    PageRequest,
    decode_cursor,
    encode_cursor,
)
from schemas.alerts import Alert, AlertStatus, AlertType, Severity, SubjectKind

AT = datetime(2026, 11, 24, 8, 30, 15, 123000, tzinfo=UTC)
KNOWN = frozenset({"c01", "c02"})
ADMIN = Caller(sub="admin", role=Role.DISTRICT_ADMIN, communities=None)


def _alert(**overrides: object) -> Alert:
    values: dict[str, object] = {
        "alert_id": "a-1",
        "alert_type": AlertType.WATCHLIST_PLATE,
        "severity": Severity.HIGH,
        "community_id": "c01",
        "subject": "浙A12345",
        "first_seen": AT,
        "last_seen": AT,
        "explanation": "stolen plate seen at gate 1",
        "raised_at": AT,
        "updated_at": AT,
        "source_received_at": AT,
    }
    return Alert.model_validate(values | overrides)


@pytest.mark.parametrize("key", ["a-1", "alert:浙A12345:0", "x" * 200])
def test_cursor_round_trips(key: str) -> None:
    cursor = Cursor(at=AT, key=key)
    assert decode_cursor("alerts", encode_cursor("alerts", cursor)) == cursor


def test_cursor_is_opaque_url_safe_base64() -> None:
    text = encode_cursor("alerts", Cursor(at=AT, key="a/b+c"))
    assert "a/b+c" not in text
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


def test_cursor_keeps_pre_epoch_milliseconds() -> None:
    at = datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    assert decode_cursor("alerts", encode_cursor("alerts", Cursor(at, "k"))).at == at


def _b64(payload: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64!",
        "eHg",  # bad padding
        base64.urlsafe_b64encode(b"not json").decode(),
        _b64({"at": 1, "key": "a"}),
        _b64(["alerts", "1", "a"]),
        _b64(["alerts", 1, ""]),
        _b64(["alerts", 2**62, "a"]),
        _b64(["vehiclePassages", 1, "a"]),
        "密码",
    ],
)
def test_malformed_cursors_are_refused_with_a_clear_message(text: str) -> None:
    with pytest.raises(InvalidArgument, match="malformed cursor"):
        decode_cursor("alerts", text)


@pytest.mark.parametrize("first", [0, -1, MAX_PAGE_SIZE + 1])
def test_page_size_outside_bounds_is_refused(first: int) -> None:
    with pytest.raises(InvalidArgument, match=f"first must be between 1 and {MAX_PAGE_SIZE}"):
        PageRequest.parse("alerts", first, None)


def test_page_request_defaults_and_asks_for_one_extra_row() -> None:
    request = PageRequest.parse("alerts", None, None)
    assert (request.first, request.limit, request.after) == (50, 51, None)
    after = encode_cursor("alerts", Cursor(AT, "a-1"))
    assert PageRequest.parse("alerts", MAX_PAGE_SIZE, after).after == Cursor(AT, "a-1")


def test_page_trims_the_extra_row_into_has_next() -> None:
    request = PageRequest.parse("alerts", 2, None)
    assert Page.from_rows([1, 2, 3], request) == Page(items=[1, 2], has_next=True)
    assert Page.from_rows([1, 2], request) == Page(items=[1, 2], has_next=False)


def test_time_window_refuses_since_after_until() -> None:
    with pytest.raises(InvalidArgument, match="is after until"):
        TimeWindow.checked(AT, AT - timedelta(seconds=1))


def test_time_window_refuses_naive_timestamps() -> None:
    with pytest.raises(InvalidArgument, match="until must carry a timezone"):
        TimeWindow.checked(None, datetime(2026, 1, 1))


def test_time_window_is_half_open() -> None:
    window = TimeWindow.checked(AT, AT + timedelta(minutes=1))
    assert window.contains(AT)
    assert not window.contains(AT + timedelta(minutes=1))
    assert not window.contains(AT - timedelta(milliseconds=1))


def test_unknown_communities_are_named() -> None:
    with pytest.raises(InvalidArgument, match="unknown community id\\(s\\): c99, zz"):
        AlertCriteria.checked(ADMIN, KNOWN, community_ids=["c01", "zz", "c99"])


@pytest.mark.parametrize(
    "field", ["community_ids", "types", "severities", "statuses", "subject_kinds"]
)
def test_empty_choice_lists_are_refused(field: str) -> None:
    with pytest.raises(InvalidArgument, match="is empty: omit it"):
        AlertCriteria.checked(ADMIN, KNOWN, **{field: []})


def test_alert_criteria_match_like_the_sql_filter() -> None:
    criteria = AlertCriteria.checked(
        ADMIN,
        KNOWN,
        community_ids=["c01"],
        severities=[Severity.HIGH, Severity.CRITICAL],
        statuses=[AlertStatus.OPEN],
        subject_kinds=[SubjectKind.PLATE, SubjectKind.DEVICE],
        since=AT,
    )
    assert criteria.matches(_alert())
    assert criteria.matches(_alert(subject_kind=SubjectKind.DEVICE))
    assert not criteria.matches(_alert(subject_kind=SubjectKind.BRACELET))
    assert not criteria.matches(_alert(community_id="c02"))
    assert not criteria.matches(_alert(severity=Severity.LOW))
    assert not criteria.matches(_alert(status=AlertStatus.ACKNOWLEDGED))
    assert not criteria.matches(_alert(first_seen=AT - timedelta(seconds=1)))
    assert AlertCriteria().matches(_alert(community_id="c77"))


@pytest.mark.parametrize("plate", ["", "  ", " . - "])
def test_empty_plates_are_refused(plate: str) -> None:
    with pytest.raises(InvalidArgument, match="plate is empty"):
        PassageCriteria.checked(ADMIN, KNOWN, plate=plate)


def test_plates_are_normalised() -> None:
    assert PassageCriteria.checked(ADMIN, KNOWN, plate="浙a 123.45").plate == "浙A12345"


async def test_a_slow_subscriber_loses_its_oldest_alerts_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    subscription = AlertSubscription(queue_size=2)
    with caplog.at_level(logging.WARNING, logger="graphql_api.feed"):
        for n in range(3):
            subscription.offer(_alert(alert_id=f"a-{n}"))
    assert subscription.dropped == 1
    assert "too slow" in caplog.text
    assert [await anext(subscription), await anext(subscription)] == [
        _alert(alert_id="a-1"),
        _alert(alert_id="a-2"),
    ]


async def test_a_subscription_ends_cleanly_or_with_a_clear_error() -> None:
    stopped, failed = AlertSubscription(queue_size=2), AlertSubscription(queue_size=2)
    stopped.offer(_alert())
    stopped.end(failed=False)
    failed.end(failed=True)
    assert [alert async for alert in stopped] == [_alert()]
    with pytest.raises(FeedUnavailable, match="subscribe again later"):
        await anext(failed)

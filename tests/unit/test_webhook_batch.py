"""Webhook bodies against the records: all or nothing, problems naming field and index."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from ingest.http.batch import parse_events
from ingest.http.refusal import Refusal
from pingan.platform.settings import Settings
from pingan.platform.warehouse import event_retention
from schemas.events import VehiclePassage, utc_now

RECEIVED = utc_now()
SKEW = timedelta(seconds=300)


def passage(**fields: object) -> dict:
    event = {
        "event_id": "p-1",
        "community_id": "c01",
        "occurred_at": (RECEIVED - timedelta(seconds=2)).isoformat(),
        "plate": "京A·12345",
        "plate_colour": "blue",
        "direction": "in",
        "gate_id": "g1",
        "camera_id": "cam-1",
        "confidence": 0.97,
    }
    event.update(fields)
    return {k: v for k, v in event.items() if v is not None}


def refused(body: bytes) -> Refusal:
    with pytest.raises(Refusal) as caught:
        parse_events(body, VehiclePassage, RECEIVED, SKEW)
    assert caught.value.status == 400
    return caught.value


def test_single_event_without_received_at_is_stamped_by_the_server() -> None:
    [event] = parse_events(orjson.dumps(passage()), VehiclePassage, RECEIVED, SKEW)
    assert event.received_at == RECEIVED
    assert event.plate == "京A12345"


def test_device_received_at_is_replaced() -> None:
    body = orjson.dumps(passage(received_at="2020-01-01T00:00:00Z"))
    [event] = parse_events(body, VehiclePassage, RECEIVED, SKEW)
    assert event.received_at == RECEIVED


def test_batch_keeps_order() -> None:
    body = orjson.dumps([passage(event_id=f"p-{i}") for i in range(5)])
    events = parse_events(body, VehiclePassage, RECEIVED, SKEW)
    assert [e.event_id for e in events] == [f"p-{i}" for i in range(5)]


def test_batch_with_one_bad_event_is_refused_whole_naming_index_and_field() -> None:
    batch = [passage(event_id="p-0"), passage(event_id="p-1", plate=None), passage()]
    answer = refused(orjson.dumps(batch))
    assert answer.problems == [{"index": 1, "field": "plate", "message": "Field required"}]
    assert answer.message == "invalid vehicle_passage: [1] plate: Field required"


def test_single_event_problems_name_the_field_without_index() -> None:
    answer = refused(orjson.dumps(passage(confidence=3, plate_colour="pink")))
    fields = sorted(p["field"] for p in answer.problems or [])
    assert fields == ["confidence", "plate_colour"]
    assert all("index" not in p for p in answer.problems or [])


def test_naive_timestamp_is_refused_with_the_reason() -> None:
    answer = refused(orjson.dumps(passage(occurred_at="2026-11-24T08:00:00")))
    assert answer.problems is not None
    assert answer.problems[0]["field"] == "occurred_at"
    assert "timezone" in answer.problems[0]["message"]


def test_event_from_the_future_is_refused() -> None:
    ahead = (RECEIVED + timedelta(seconds=900)).isoformat()
    answer = refused(orjson.dumps(passage(occurred_at=ahead)))
    assert answer.problems == [
        {
            "field": "occurred_at",
            "message": "900 s ahead of the server clock (allowed: 300 s)",
        }
    ]


def test_an_event_older_than_its_table_keeps_is_refused_and_a_kept_one_accepted() -> None:
    """A clock reset to 1970 would store a row that the TTL deletes at the next merge."""
    retention = event_retention(Settings(movement_ttl_days=180))
    stale = orjson.dumps(passage(occurred_at="1970-01-01T00:00:00Z"))
    with pytest.raises(Refusal) as caught:
        parse_events(stale, VehiclePassage, RECEIVED, SKEW, retention)
    [problem] = caught.value.problems or []
    assert problem["field"] == "occurred_at"
    assert "past the 180 days its table keeps" in problem["message"]
    kept = (RECEIVED - timedelta(days=179)).isoformat()
    [event] = parse_events(
        orjson.dumps(passage(occurred_at=kept)), VehiclePassage, RECEIVED, SKEW, retention
    )
    assert event.occurred_at == RECEIVED - timedelta(days=179)


def test_not_json_empty_batch_and_wrong_shapes_are_refused() -> None:
    assert refused(b"{not json").message.startswith("body is not JSON")
    assert refused(b"[]").message.startswith("empty batch")
    assert refused(b'"text"').message.endswith("got a JSON string")
    answer = refused(orjson.dumps([passage(), 7]))
    expected = {"index": 1, "field": None, "message": "expected an object, got number"}
    assert answer.problems == [expected]


def test_many_problems_are_summarised() -> None:
    answer = refused(orjson.dumps([passage(plate=None) for _ in range(5)]))
    assert answer.message.endswith("+2 more")
    assert len(answer.problems or []) == 5


def test_values_their_columns_cannot_hold_are_refused_naming_the_field() -> None:
    """A webhook answers what the stream's sink would otherwise fail on (issue 15)."""
    body = orjson.dumps(
        [
            passage(schema_version=70000),
            passage(occurred_at="1899-12-31T23:59:59Z"),
            passage(gate_id="g" * 129),
            passage(snapshot_ref="snapshots/a\x00.jpg"),
        ]
    )
    answer = refused(body)
    assert [(p["index"], p["field"]) for p in answer.problems or []] == [
        (0, "schema_version"),
        (1, "occurred_at"),
        (2, "gate_id"),
        (3, "snapshot_ref"),
    ]
    assert answer.message.startswith(
        "invalid vehicle_passage: [0] schema_version: Input should be less than or equal to 65535"
    )

"""Whatever bytes arrive on a topic, decoding ends in a record or a DecodeError.

Anything else escapes the dead-letter path: in the worker an OverflowError from a
timestamp at the edge of the calendar crashed the batch's agent, and Faust restarted it
past the batch, so its messages were committed but neither stored nor dead-lettered.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import DecodeError, decode
from schemas.topics import ALL_TOPICS, Topic
from tests.record_strategies import record_values

DECODED = [t for t in ALL_TOPICS if t.record is not None]

EDGE_TIMESTAMPS = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "1900-01-01T00:00:00+00:01",
]
"""Offsets that push a valid ISO date past Python's calendar when converted to UTC."""

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(EDGE_TIMESTAMPS),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _raw(fields: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(fields)
    except orjson.JSONEncodeError:
        return repr(fields).encode()


@pytest.mark.parametrize("stamp", EDGE_TIMESTAMPS)
@pytest.mark.parametrize(
    "topic", [t for t in DECODED if "occurred_at" in t.record.model_fields], ids=lambda t: t.name
)
def test_a_timestamp_past_the_calendar_is_a_decode_error(topic: Topic, stamp: str) -> None:
    fields = {"schema_version": 1, "event_id": "e1", "community_id": "c01", "occurred_at": stamp}
    with pytest.raises(DecodeError, match="occurred_at"):
        decode(orjson.dumps(fields), topic.record)


@pytest.mark.parametrize("topic", DECODED, ids=lambda t: t.name)
def test_any_field_replaced_by_anything_decodes_or_explains(topic: Topic) -> None:
    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(record_values(topic.record), st.data())
    def check(fields: dict[str, Any], data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(fields)))
        fields = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in fields.items()}
        fields[name] = data.draw(HOSTILE)
        try:
            decode(_raw(fields), topic.record)
        except DecodeError as exc:
            assert exc.reason

    check()

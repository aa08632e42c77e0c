"""A webhook body (one event or an array of them) checked against its record, all or nothing.

Problems name the field and, in a batch, the event's index, so the installer can fix the
device's template. Pingan stamps `received_at` itself: it records when Pingan accepted
the event, so a device's own value is replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from ingest.http.refusal import Refusal
from schemas.event_time import Retention
from schemas.events import Event

E = TypeVar("E", bound=Event)

SHOWN_IN_MESSAGE = 3
LISTED_PROBLEMS = 50

JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def parse_events(
    body: bytes,
    record_type: type[E],
    received_at: datetime,
    max_ahead: timedelta,
    retention: Retention | None = None,
) -> list[E]:
    """Every event of the body, or a 400 Refusal listing what is wrong with which."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refusal(400, f"body is not JSON: {exc}") from None
    is_batch = isinstance(data, list)
    if not is_batch and not isinstance(data, dict):
        raise Refusal(
            400, f"expected an event object or an array of them, got a JSON {_json_type(data)}"
        )
    items = data if is_batch else [data]
    if not items:
        raise Refusal(400, "empty batch: send one event or a non-empty array of events")
    latest = received_at + max_ahead
    events: list[E] = []
    problems: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        found = _event_problems(item, record_type, received_at, latest, retention or Retention())
        if isinstance(found, Event):
            events.append(found)
        else:
            problems += [{"index": index, **p} if is_batch else p for p in found]
    if problems:
        raise Refusal(400, _summary(record_type, problems), problems=problems[:LISTED_PROBLEMS])
    return events


def _event_problems(
    item: Any, record_type: type[E], received_at: datetime, latest: datetime, retention: Retention
) -> E | list[dict[str, Any]]:
    if not isinstance(item, dict):
        return [{"field": None, "message": f"expected an object, got {_json_type(item)}"}]
    item["received_at"] = received_at
    try:
        event = record_type.model_validate(item)
    except ValidationError as exc:
        return [
            {"field": ".".join(str(part) for part in error["loc"]) or None, "message": error["msg"]}
            for error in exc.errors(include_url=False)
        ]
    if event.occurred_at > latest:
        ahead = (event.occurred_at - received_at).total_seconds()
        allowed = (latest - received_at).total_seconds()
        return [
            {
                "field": "occurred_at",
                "message": f"{ahead:.0f} s ahead of the server clock (allowed: {allowed:.0f} s)",
            }
        ]
    too_old = retention.too_old(event, received_at)
    if too_old:
        return [{"field": "occurred_at", "message": too_old}]
    return event


def _summary(record_type: type[Event], problems: Sequence[dict[str, Any]]) -> str:
    shown = [
        ("" if "index" not in p else f"[{p['index']}] ")
        + (f"{p['field']}: " if p["field"] else "")
        + p["message"]
        for p in problems[:SHOWN_IN_MESSAGE]
    ]
    more = len(problems) - SHOWN_IN_MESSAGE
    if more > 0:
        shown.append(f"+{more} more")
    return f"invalid {record_type.kind}: " + "; ".join(shown)


def _json_type(value: Any) -> str:
    return JSON_TYPES.get(type(value), "number")

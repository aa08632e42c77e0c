"""Hypothesis strategies for the stored records, read off the models' own field bounds.

Built from the annotations (ge/le, max_length, patterns, enums, nested records), not
written per model, so a new field is generated the moment it is declared. Values cover the
whole declared range, extremes included: what the model accepts is what must insert.
"""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime, time
from enum import Enum
from typing import Any, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from hypothesis import strategies as st
from pydantic.fields import FieldInfo

from schemas.bounds import DATETIME64_MAX, DATETIME64_MIN, FLOAT32_MAX
from schemas.events import Record

FIELD_OVERRIDES: dict[str, st.SearchStrategy[Any]] = {
    "plate": st.from_regex(r"[A-Z0-9 .\-]{2,16}", fullmatch=True),
    "embedding": st.sampled_from([128, 512]).flatmap(
        lambda n: st.lists(
            st.floats(-FLOAT32_MAX, FLOAT32_MAX, width=32, allow_nan=False),
            min_size=n,
            max_size=n,
        )
    ),
}
"""Fields whose validator asks more than their bounds say (an embedding's two sizes, a
plate's two letters or digits)."""

TEXT = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
"""Any character but NUL and surrogates, which the models refuse (schemas/bounds.py)."""

MAX_GENERATED_TEXT = 300
"""Longer strings are generated only at their exact limit: hypothesis draws text per
character, and a 64 KiB string per example would make the suite crawl."""
MAX_EXACT_LIMIT = 65536
"""Limits above this (an audit entry's 8 Mi arguments) are not generated whole: tens of
megabytes per example. tests/unit/test_column_bounds.py still tries them at the limit."""


def record_values(record_type: type[Record]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict of field values for `record_type`, each within its declared bounds."""
    return st.fixed_dictionaries(
        {
            name: FIELD_OVERRIDES[name]
            if name in FIELD_OVERRIDES
            else _values(info.annotation, info.metadata)
            for name, info in record_type.model_fields.items()
        }
    )


def constraints(annotation: Any, metadata: list[Any] | None = None) -> dict[str, Any]:
    """The bounds declared on one annotation (not its list items or nested records)."""
    found: dict[str, Any] = {}
    for item in metadata or []:
        _collect(item, found)
    while get_origin(annotation) is typing.Annotated:
        for item in annotation.__metadata__:
            _collect(item, found)
        annotation = annotation.__origin__
    return found


def unwrap(annotation: Any) -> tuple[Any, bool]:
    """The annotation without `| None`, and whether None is allowed."""
    if _is_union(annotation):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(get_args(annotation))
    return annotation, False


def base_type(annotation: Any) -> Any:
    while get_origin(annotation) is typing.Annotated:
        annotation = annotation.__origin__
    return annotation


def _collect(item: Any, found: dict[str, Any]) -> None:
    if isinstance(item, FieldInfo):
        for inner in item.metadata:
            _collect(inner, found)
        return
    for kind, key, tightest in ((Ge, "ge", max), (Gt, "gt", max), (Le, "le", min), (Lt, "lt", min)):
        if isinstance(item, kind):
            value = getattr(item, key)
            found[key] = tightest(value, found[key]) if key in found else value
    if isinstance(item, MaxLen):
        found["max_length"] = min(item.max_length, found.get("max_length", item.max_length))
    if isinstance(item, MinLen):
        found["min_length"] = max(item.min_length, found.get("min_length", 0))
    pattern = getattr(item, "pattern", None)
    if isinstance(pattern, str):
        found["pattern"] = pattern


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (typing.Union, types.UnionType)


def _values(annotation: Any, metadata: list[Any] | None = None) -> st.SearchStrategy[Any]:
    inner, nullable = unwrap(annotation)
    strategy = _non_null(inner, constraints(inner, metadata))
    return st.none() | strategy if nullable else strategy


def _non_null(annotation: Any, bounds: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind = base_type(annotation)
    origin = get_origin(kind)
    if origin is list:
        (item,) = get_args(kind)
        return st.lists(
            _values(item),
            min_size=bounds.get("min_length", 0),
            max_size=min(bounds.get("max_length", 3), 3),
        )
    if origin is dict:
        key, value = get_args(kind)
        return st.dictionaries(_values(key), _values(value), max_size=3)
    if isinstance(kind, type) and issubclass(kind, Record):
        return record_values(kind)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return st.sampled_from(list(kind))
    if kind is bool:
        return st.booleans()
    if kind is int:
        return st.integers(_low(bounds), _high(bounds))
    if kind is float:
        return _floats(bounds)
    if kind is datetime:
        return st.datetimes(
            DATETIME64_MIN.replace(tzinfo=None),
            DATETIME64_MAX.replace(tzinfo=None),
            timezones=st.just(UTC),
        )
    if kind is time:
        return st.times()
    if kind is Any:
        return st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=20))
    if kind is str:
        return _text(bounds)
    raise TypeError(f"no strategy for {annotation!r}")


def _low(bounds: dict[str, Any]) -> int:
    return bounds["ge"] if "ge" in bounds else bounds["gt"] + 1


def _high(bounds: dict[str, Any]) -> int:
    return bounds["le"] if "le" in bounds else bounds["lt"] - 1


def _floats(bounds: dict[str, Any]) -> st.SearchStrategy[float]:
    exclude_min = "gt" in bounds and bounds["gt"] >= bounds.get("ge", bounds["gt"])
    exclude_max = "lt" in bounds and bounds["lt"] <= bounds.get("le", bounds["lt"])
    return st.floats(
        min_value=bounds["gt"] if exclude_min else bounds.get("ge"),
        max_value=bounds["lt"] if exclude_max else bounds.get("le"),
        exclude_min=exclude_min,
        exclude_max=exclude_max,
        allow_nan=False,
        allow_infinity=False,
    )


def _text(bounds: dict[str, Any]) -> st.SearchStrategy[str]:
    if "pattern" in bounds:
        return st.from_regex(bounds["pattern"], fullmatch=True)
    low = bounds.get("min_length", 0)
    high = bounds.get("max_length")
    assert high is not None, "every string field declares a max_length"
    drawn = st.text(TEXT, min_size=low, max_size=min(high, MAX_GENERATED_TEXT))
    if high > MAX_EXACT_LIMIT:
        return drawn
    return drawn | st.text(TEXT, min_size=1, max_size=1).map(lambda c: c * high)

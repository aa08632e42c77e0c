"""JSON (orjson) encoding of records, and decoding that explains what is wrong."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import ValidationError

from schemas.events import Record

R = TypeVar("R", bound=Record)


class DecodeError(ValueError):
    """A message that cannot become a record; `reason` is written for a human."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode(record: Record) -> bytes:
    return orjson.dumps(record.model_dump())


def decode(raw: bytes | None, record_type: type[R]) -> R:
    if raw is None:
        raise DecodeError("empty message (no value)")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DecodeError(f"expected a JSON object, got {type(data).__name__}")
    try:
        return record_type.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(_explain(exc, record_type)) from None
    except Exception as exc:  # a validator's own bug must not escape the dead-letter path
        raise DecodeError(f"invalid {record_type.__name__}: {type(exc).__name__}: {exc}") from None


def _explain(exc: ValidationError, record_type: type[Record]) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "(record)"
        problems.append(f"{field}: {error['msg']}")
    return f"invalid {record_type.__name__}: " + "; ".join(problems)

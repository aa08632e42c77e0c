"""Keyset pagination for newest-first listings, with opaque cursors.

A cursor is the (timestamp, key) of the last row a client saw; the next page is every
row strictly older in (timestamp DESC, key DESC) order. Unlike OFFSET this stays
correct and cheap while new alerts and passages keep arriving at the head.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

import orjson

from graphql_api.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)

R = TypeVar("R")


@dataclass(frozen=True)
class Cursor:
    """A position in a newest-first listing; rows after it are older than (at, key)."""

    at: datetime
    key: str


def encode_cursor(listing: str, cursor: Cursor) -> str:
    """Base64 of the listing name, epoch milliseconds and key: opaque to clients."""
    payload = orjson.dumps([listing, (cursor.at - EPOCH) // ONE_MS, cursor.key])
    return base64.urlsafe_b64encode(payload).decode("ascii")


def decode_cursor(listing: str, text: str) -> Cursor:
    """Reject anything this API did not hand out for the same listing."""
    malformed = InvalidArgument(
        f"malformed cursor {text[:64]!r}: pass an endCursor returned by {listing}"
    )
    try:
        payload = orjson.loads(base64.b64decode(text, altchars=b"-_", validate=True))
    except (binascii.Error, ValueError):
        raise malformed from None
    match payload:
        case [str(name), int(millis), str(key)] if name == listing and key:
            try:
                return Cursor(at=EPOCH + millis * ONE_MS, key=key)
            except OverflowError:
                raise malformed from None
        case _:
            raise malformed


@dataclass(frozen=True)
class PageRequest:
    """A validated `first`/`after` pair."""

    first: int
    after: Cursor | None

    @classmethod
    def parse(cls, listing: str, first: int | None, after: str | None) -> PageRequest:
        size = DEFAULT_PAGE_SIZE if first is None else first
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidArgument(f"first must be between 1 and {MAX_PAGE_SIZE}, got {size}")
        return cls(first=size, after=None if after is None else decode_cursor(listing, after))

    @property
    def limit(self) -> int:
        """One row more than asked for tells whether another page follows."""
        return self.first + 1


@dataclass(frozen=True)
class Page(Generic[R]):
    items: list[R]
    has_next: bool

    @classmethod
    def from_rows(cls, rows: list[R], request: PageRequest) -> Page[R]:
        return cls(items=rows[: request.first], has_next=len(rows) > request.first)

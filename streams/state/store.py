"""One keyed store over a Faust table and its changelog.

Values are read through a cache that also holds this batch's writes, so a stage reads what
it wrote before the broker has it. Writes go to the changelog first and reach the local
RocksDB only once the broker has them (`write_changelog_first`): a worker killed in between
never restarts with local state ahead of what Kafka can replay. A stage that fails on a key
can `discard` it, back to its last write or to what RocksDB holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import faust

from streams.faust_internals import write_changelog_first
from streams.staged_writes import StagedWrites

V = TypeVar("V")

CACHE_LIMIT = 200_000
"""Decoded values kept in memory per store; past this the cache restarts from RocksDB."""


class KeyedStore(Generic[V]):
    def __init__(
        self,
        table: faust.Table,
        changelog: StagedWrites,
        decode: Callable[[bytes], V],
        encode: Callable[[V], bytes],
        cache_limit: int = CACHE_LIMIT,
    ) -> None:
        self.table = table
        self._changelog = changelog
        self._decode = decode
        self._encode = encode
        self._cache_limit = cache_limit
        self._cache: dict[str, V | None] = {}
        self._written: dict[str, bytes | None] = {}
        """Writes staged and not yet in RocksDB (another agent's flush may store them at any
        await): what a key goes back to when a stage fails on it."""

    def get(self, key: str) -> V | None:
        if key in self._cache:
            return self._cache[key]
        raw = self.table.get(key.encode())
        value = None if raw is None else self._decode(raw)
        self._cache[key] = value
        return value

    def put(self, key: str, value: V | None, encoded: bytes | None = None) -> None:
        """Stage `value` (None deletes; `encoded` when the caller has it already). Deleting
        a key that holds nothing writes nothing: no tombstone for a key never stored."""
        existed = self.get(key) is not None
        self._cache[key] = value
        if value is None:
            if not existed:
                return
            raw = None
        else:
            raw = self._encode(value) if encoded is None else encoded
        self._written[key] = raw
        write_changelog_first(
            self.table, self._changelog, key.encode(), raw, self._stored(key, raw)
        )

    def _stored(self, key: str, raw: bytes | None) -> Callable[[], None]:
        def stored() -> None:
            if key in self._written and self._written[key] is raw:
                del self._written[key]

        return stored

    def discard(self, key: str) -> None:
        """Undo whatever a failed stage did to the key's cached value (a value may have been
        changed in place before the stage raised): back to its last write, or to RocksDB."""
        if key not in self._written:
            self._cache.pop(key, None)
            return
        raw = self._written[key]
        self._cache[key] = None if raw is None else self._decode(raw)

    def trim(self) -> None:
        """Past the limit, the cache restarts from RocksDB."""
        if len(self._cache) > self._cache_limit:
            self._keep_only_staged()

    def forget(self) -> None:
        """Partitions moved: cached values may belong to another worker now."""
        self._keep_only_staged()

    def _keep_only_staged(self) -> None:
        """A write staged and not yet stored stays readable: it is on its way to the
        changelog, and an agent that goes on folding events (others run at its awaits, and
        may trim or see partitions move) must build on it, not on the older value in
        RocksDB."""
        self._cache = {
            key: None if raw is None else self._decode(raw) for key, raw in self._written.items()
        }

    def stored(self) -> Iterator[tuple[str, V]]:
        for raw_key, raw in self.table.items():
            if raw is not None:
                yield raw_key.decode(), self._decode(raw)

    def current(self) -> Iterator[tuple[str, V]]:
        """Every value, including writes of this batch not yet in RocksDB."""
        cached = list(self._cache.items())
        for key, value in cached:
            if value is not None:
                yield key, value
        known = {key for key, _ in cached}
        for key, value in self.stored():
            if key not in known:
                yield key, value

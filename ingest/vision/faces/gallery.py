"""The resident gallery: enrolled embeddings as one matrix, kept current from Kafka.

Enrolments live on the compacted `pingan.reference.face-gallery` topic, so every face
process (snapshot intake, video watcher, `pingan faces identify`) reads the same gallery and
sees a new enrolment without a restart. Only entries made by the loaded recogniser
(`model_id`) are matched: another recogniser's vectors mean nothing to this one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import numpy as np
from aiokafka import AIOKafkaConsumer, TopicPartition

from pingan.platform.settings import kafka_security
from schemas.codec import DecodeError, decode
from schemas.faces import ResidentFace
from schemas.topics import FACE_GALLERY

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Match:
    person_id: str
    community_id: str
    score: float


class Gallery:
    """Cosine search of faces against enrolled residents (one matrix product per batch)."""

    def __init__(self, model_id: str, dims: int) -> None:
        self.model_id = model_id
        self.dims = dims
        self._entries: dict[str, ResidentFace] = {}
        self._matrix: np.ndarray | None = None
        self._people: list[ResidentFace] = []

    def __len__(self) -> int:
        return len(self._entries)

    def apply(self, key: str, entry: ResidentFace | None) -> None:
        """An enrolment (or, for None, its removal) from the gallery topic."""
        if entry is None:
            self._entries.pop(key, None)
        elif entry.model_id == self.model_id and len(entry.embedding) == self.dims:
            self._entries[key] = entry
        else:
            self._entries.pop(key, None)
        self._matrix = None

    def best(self, embeddings: np.ndarray) -> list[Match | None]:
        """Each embedding's most similar resident, whatever the score (None: empty gallery)."""
        if not self._entries or len(embeddings) == 0:
            return [None] * len(embeddings)
        if self._matrix is None:
            self._people = list(self._entries.values())
            matrix = np.asarray([p.embedding for p in self._people], dtype=np.float32)
            self._matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        scores = embeddings @ self._matrix.T
        best = scores.argmax(axis=1)
        return [
            Match(self._people[i].person_id, self._people[i].community_id, float(scores[n, i]))
            for n, i in enumerate(best)
        ]

    def match(self, embeddings: np.ndarray, threshold: float) -> list[Match | None]:
        """Each embedding's resident if the similarity reaches the pack's threshold."""
        return [
            m if m is not None and m.score >= threshold else None for m in self.best(embeddings)
        ]


class GalleryFollower:
    """Reads the gallery topic from its start (group-less, like the reference follower)."""

    def __init__(self, bootstrap: str, gallery: Gallery) -> None:
        self._bootstrap = bootstrap
        self.gallery = gallery
        self._consumer: AIOKafkaConsumer | None = None
        self.loaded = asyncio.Event()

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, **kafka_security(), enable_auto_commit=False
        )
        await self._consumer.start()
        partitions = [TopicPartition(FACE_GALLERY.name, p) for p in range(FACE_GALLERY.partitions)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def catch_up(self) -> None:
        """Read to the end the topic has now: after this, every earlier enrolment is known."""
        consumer = self._require()
        partitions = list(consumer.assignment())
        end = await consumer.end_offsets(partitions)
        while not all([await consumer.position(tp) >= offset for tp, offset in end.items()]):
            await self._read(timeout_ms=200)
        self.loaded.set()

    async def follow(self) -> None:
        """Keep applying enrolments until cancelled."""
        await self.catch_up()
        while True:
            await self._read(timeout_ms=1000)

    async def _read(self, timeout_ms: int) -> None:
        batches = await self._require().getmany(timeout_ms=timeout_ms, max_records=5000)
        for messages in batches.values():
            for message in messages:
                if message.key is None:
                    continue
                key = message.key.decode()
                if message.value is None:
                    self.gallery.apply(key, None)
                    continue
                try:
                    self.gallery.apply(key, decode(message.value, ResidentFace))
                except DecodeError as exc:
                    log.error("ignoring unreadable gallery entry %r: %s", key, exc.reason)

    def _require(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("GalleryFollower.start() first")
        return self._consumer

    async def __aenter__(self) -> GalleryFollower:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

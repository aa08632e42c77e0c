"""Dead letters: the raw bytes of a rejected message, with where it came from and why.

The reason and origin travel as Kafka headers so the value stays byte-for-byte what
the device sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.events import utc_now

REASON = "pingan-reason"
SOURCE_TOPIC = "pingan-source-topic"
SOURCE_PARTITION = "pingan-source-partition"
SOURCE_OFFSET = "pingan-source-offset"
DEAD_LETTERED_AT = "pingan-dead-lettered-at"


@dataclass(frozen=True)
class DeadLetter:
    source_topic: str
    source_partition: int
    source_offset: int
    reason: str
    raw_key: bytes | None
    raw: bytes
    dead_lettered_at: datetime

    @property
    def dead_letter_id(self) -> str:
        return f"{self.source_topic}:{self.source_partition}:{self.source_offset}"

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            (REASON, self.reason.encode()),
            (SOURCE_TOPIC, self.source_topic.encode()),
            (SOURCE_PARTITION, str(self.source_partition).encode()),
            (SOURCE_OFFSET, str(self.source_offset).encode()),
            (DEAD_LETTERED_AT, self.dead_lettered_at.isoformat().encode()),
        ]

    @classmethod
    def rejected(
        cls,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        raw: bytes | None,
        reason: str,
    ) -> DeadLetter:
        return cls(topic, partition, offset, reason, key, raw or b"", utc_now())

    @classmethod
    def from_headers(
        cls, headers: dict[str, bytes], key: bytes | None, raw: bytes | None
    ) -> DeadLetter:
        return cls(
            source_topic=headers[SOURCE_TOPIC].decode(),
            source_partition=int(headers[SOURCE_PARTITION]),
            source_offset=int(headers[SOURCE_OFFSET]),
            reason=headers[REASON].decode(errors="replace"),
            raw_key=key,
            raw=raw or b"",
            dead_lettered_at=datetime.fromisoformat(headers[DEAD_LETTERED_AT].decode()),
        )

    def row(self) -> dict[str, object]:
        return {
            "dead_letter_id": self.dead_letter_id,
            "source_topic": self.source_topic,
            "source_partition": self.source_partition,
            "source_offset": self.source_offset,
            "reason": self.reason,
            "raw_key": None if self.raw_key is None else self.raw_key.decode(errors="replace"),
            "raw": self.raw,
            "dead_lettered_at": self.dead_lettered_at,
        }

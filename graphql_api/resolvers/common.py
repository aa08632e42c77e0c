"""What every resolver module shares: the typed Info, and publishing a record."""

from __future__ import annotations

import logging
import unicodedata

from aiokafka.errors import KafkaError
from strawberry.types import Info

from graphql_api.context import CallContext
from graphql_api.errors import InvalidArgument, PublishFailed
from schemas.events import Record
from schemas.topics import Topic

log = logging.getLogger(__name__)

ApiInfo = Info[CallContext, None]

LINE_BREAKS = frozenset("\n\r\t")


def checked_note(name: str, value: str | None, limit: int) -> str:
    """Free text an officer types (a note, a case): refused, not cut, when it would not be
    stored as given (schemas/bounds.py refuses NUL and unpaired surrogates)."""
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidArgument(f"{name} is longer than {limit} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in LINE_BREAKS for ch in text):
        raise InvalidArgument(f"{name} contains control characters")
    return text


async def publish(info: ApiInfo, *records: Record) -> None:
    """Wait for Kafka's acknowledgement: a change is made once it is durable, or not at all."""
    try:
        await info.context.publisher.publish_many(records)
    except KafkaError as exc:
        log.error("could not publish %s: %s", [type(r).__name__ for r in records], exc)
        raise PublishFailed from None


async def audit(
    info: ApiInfo,
    operation: str,
    arguments: dict[str, object],
    *,
    result_count: int = 0,
    purpose: str = "",
    community_ids: frozenset[str] | None = None,
) -> None:
    context = info.context
    await context.api.audit.record(
        context.caller,
        operation,
        arguments=arguments,
        client_address=context.client_address,
        result_count=result_count,
        purpose=purpose,
        community_ids=community_ids,
    )


async def publish_tombstone(info: ApiInfo, topic: Topic, key: str) -> None:
    """Removes `key` from a compacted reference topic."""
    try:
        await info.context.publisher.publish_raw(topic, key=key.encode(), value=None)
    except KafkaError as exc:
        log.error("could not publish removal from %s: %s", topic.name, exc)
        raise PublishFailed from None

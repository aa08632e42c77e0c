"""Every sensitive call leaves an audit row before its answer leaves the server.

The row goes to Kafka (acks=all) and from there to the `audit_log` table; if it cannot be
recorded, the call fails rather than answering unaudited.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
import uuid
from collections.abc import Iterable
from typing import Any

import orjson
from aiokafka.errors import KafkaError

from graphql_api.access import Caller
from graphql_api.errors import InvalidArgument, PublicError
from pingan.platform.publisher import Publisher
from schemas.audit import AuditEntry
from schemas.events import utc_now

log = logging.getLogger(__name__)

PURPOSE_MAX_LENGTH = 500


class AuditUnavailable(PublicError):
    def __init__(self) -> None:
        super().__init__("the audit log cannot be written just now, so the call was refused")


def checked_purpose(purpose: str) -> str:
    """Biometric and movement lookups must say why: a case number, an incident, a request."""
    text = purpose.strip()
    if not text:
        raise InvalidArgument("purpose is required: say why, e.g. 'case 2026-114, lost wallet'")
    if len(text) > PURPOSE_MAX_LENGTH:
        raise InvalidArgument(f"purpose is longer than {PURPOSE_MAX_LENGTH} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\r\t" for ch in text):
        raise InvalidArgument("purpose contains control characters")
    return text


def image_digest(image: bytes) -> str:
    """What the audit keeps of an uploaded image: enough to match it, nothing to see."""
    return hashlib.sha256(image).hexdigest()


class AuditTrail:
    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher

    async def record(
        self,
        caller: Caller,
        operation: str,
        *,
        arguments: dict[str, Any],
        client_address: str,
        result_count: int = 0,
        purpose: str = "",
        community_ids: Iterable[str] | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            audit_id=uuid.uuid4().hex,
            at=utc_now(),
            actor=caller.sub,
            actor_role=caller.role.value,
            operation=operation,
            arguments=orjson.dumps(arguments, default=str).decode(),
            community_ids=sorted(community_ids or ()),
            purpose=purpose,
            result_count=result_count,
            client_address=client_address,
        )
        try:
            await self._publisher.publish(entry)
        except KafkaError as exc:
            log.error("could not record audit entry for %s: %s", operation, exc)
            raise AuditUnavailable from None
        return entry

"""Device credentials for the ingest webhooks, one record per device on a compacted topic.

A bearer key is stored only as its SHA-256 (the key is 256 random bits, so a plain hash
cannot be brute-forced and is cheap to check on every request). An HMAC secret must be
known to the server to verify signatures, so it is stored sealed (AES-GCM, with the key of
PINGAN_DEVICE_SECRET_KEY; see pingan/platform/device_secrets.py): the topic never holds it in clear,
and only processes given the key can open it.
Revoking republishes the record without its secret and with `revoked_at`, which keeps
the audit trail (who issued, who revoked, when) on the topic.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.bounds import Name, OptionalId
from schemas.events import NonEmpty, Record, Timestamp


class CredentialScheme(StrEnum):
    BEARER = "bearer"
    HMAC = "hmac"


class DeviceCredential(Record):
    """The current key of one device; issuing a new one replaces (rotates) the old one."""

    device_id: NonEmpty
    scheme: CredentialScheme
    fingerprint: Name
    """First 12 hex digits of the key's SHA-256: safe to log and show, identifies the key."""
    key_sha256: Name | None = None
    """Bearer keys: hex SHA-256 of the key."""
    sealed_hmac_secret: Annotated[str, Field(max_length=1024)] | None = None
    """HMAC keys: the shared secret, sealed (the server opens it to verify signatures)."""
    issued_by: OptionalId
    issued_at: Timestamp
    revoked_by: OptionalId | None = None
    revoked_at: Timestamp | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

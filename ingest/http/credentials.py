"""Device keys: issuing, revoking, and the in-memory directory requests are checked against.

Keys are 256 random bits; a bearer key is kept only as its SHA-256 (a slow password hash
buys nothing against a key that cannot be guessed), an HMAC secret is kept sealed with
the device secret key, because verifying a signature needs it (see schemas/credentials.py).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from pingan.platform.device_secrets import DeviceSecretBox
from pingan.platform.reference_data import ReferenceData
from pingan.platform.settings import Settings, get_settings
from schemas.codec import encode
from schemas.credentials import CredentialScheme, DeviceCredential
from schemas.events import Record
from schemas.topics import DEVICE_CREDENTIALS, TOPIC_FOR_RECORD

KEY_PREFIX = {CredentialScheme.BEARER: "pgk_", CredentialScheme.HMAC: "pgs_"}
"""Makes a leaked key recognisable to secret scanners and tells the two kinds apart."""


def key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    """The key itself, shown once to the installer, and the record that is published."""

    key: str
    credential: DeviceCredential


def issue_key(
    device_id: str,
    scheme: CredentialScheme,
    issued_by: str,
    now: datetime,
    box: DeviceSecretBox | None = None,
) -> IssuedKey:
    """`box` seals an HMAC secret; by default the one of this process's settings."""
    key = KEY_PREFIX[scheme] + secrets.token_urlsafe(32)
    digest = key_sha256(key)
    sealed = None
    if scheme is CredentialScheme.HMAC:
        sealed = (box or DeviceSecretBox.from_settings(get_settings())).seal(device_id, key)
    credential = DeviceCredential(
        device_id=device_id,
        scheme=scheme,
        fingerprint=digest[:12],
        key_sha256=digest if scheme is CredentialScheme.BEARER else None,
        sealed_hmac_secret=sealed,
        issued_by=issued_by,
        issued_at=now,
    )
    return IssuedKey(key, credential)


def revoked(credential: DeviceCredential, revoked_by: str, now: datetime) -> DeviceCredential:
    """The same record without its secret: the key stops working, the audit trail stays."""
    return credential.model_copy(
        update={
            "key_sha256": None,
            "sealed_hmac_secret": None,
            "revoked_by": revoked_by,
            "revoked_at": now,
        }
    )


class DeviceDirectory(ReferenceData):
    """Reference data plus a bearer-key index, followed by `ReferenceFollower`."""

    def __init__(self, settings: Settings | None = None) -> None:
        """`settings` name the device secret key (default: this process's settings)."""
        super().__init__()
        self._bearer_keys: dict[str, DeviceCredential] | None = None
        self._settings = settings
        self._box: DeviceSecretBox | None = None

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        super().apply(topic, key, value)
        if topic == DEVICE_CREDENTIALS.name:
            self._bearer_keys = None

    def credential(self, device_id: str) -> DeviceCredential | None:
        return self._get(DEVICE_CREDENTIALS.name, device_id)

    def signing_secret(self, credential: DeviceCredential) -> str | None:
        """The HMAC secret in clear; raises DeviceSecretKeyError if this key cannot open it."""
        if credential.sealed_hmac_secret is None:
            return None
        if self._box is None:
            self._box = DeviceSecretBox.from_settings(self._settings or get_settings())
        return self._box.open(credential.device_id, credential.sealed_hmac_secret)

    def bearer(self, key: str) -> DeviceCredential | None:
        """The live credential whose key this is, if any."""
        if self._bearer_keys is None:
            records = self._records[DEVICE_CREDENTIALS.name].values()
            self._bearer_keys = {
                c.key_sha256: c
                for c in records
                if isinstance(c, DeviceCredential) and c.key_sha256 and not c.revoked
            }
        return self._bearer_keys.get(key_sha256(key))

    def add(self, *records: Record) -> None:
        """Apply records as if read from their topics (tests; no Kafka involved)."""
        for record in records:
            topic = TOPIC_FOR_RECORD[type(record)]
            self.apply(topic.name, str(getattr(record, topic.key)).encode(), encode(record))

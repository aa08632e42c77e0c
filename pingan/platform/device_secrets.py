"""Device HMAC secrets sealed with AES-GCM before they reach the credentials topic.

The webhooks need a device's signing secret in clear to check its signatures, so it cannot
be hashed like a bearer key. Sealing it keeps Kafka (its disks, backups, and every client
allowed to read reference topics) from holding a usable secret: only processes given
PINGAN_DEVICE_SECRET_KEY can open it. The device id is the associated data, so a sealed
secret copied onto another device's record does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pingan.platform.settings import Settings

KEY_FILE = "device-secret-key"
KEY_BYTES = 32
NONCE_BYTES = 12
SEALED_PREFIX = "aesgcm1:"
"""Names the scheme in each sealed value, so a later key or cipher can be told apart."""


class DeviceSecretKeyError(RuntimeError):
    """The key is malformed, or is not the key a secret was sealed with."""


class DeviceSecretBox:
    """Seals and opens device signing secrets with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise DeviceSecretKeyError(
                f"PINGAN_DEVICE_SECRET_KEY must be base64 of {KEY_BYTES} bytes, "
                f"got {len(key)} bytes (make one with `openssl rand -base64 32`)"
            )
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> DeviceSecretBox:
        """The configured key, else the machine's own (made once in the data directory)."""
        if settings.device_secret_key is not None:
            return cls(_decoded(settings.device_secret_key.get_secret_value()))
        return cls(_decoded(_local_key(settings.data_dir / KEY_FILE)))

    def seal(self, device_id: str, secret: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), device_id.encode())
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, device_id: str, sealed: str) -> str:
        if not sealed.startswith(SEALED_PREFIX):
            raise DeviceSecretKeyError(f"device {device_id}'s secret is not sealed by Pingan")
        try:
            raw = base64.urlsafe_b64decode(sealed.removeprefix(SEALED_PREFIX))
            opened = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], device_id.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise DeviceSecretKeyError(
                f"device {device_id}'s signing secret does not open with this "
                "PINGAN_DEVICE_SECRET_KEY: every ingest process needs the key it was issued with"
            ) from None
        return opened.decode()


def _decoded(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise DeviceSecretKeyError(
            "PINGAN_DEVICE_SECRET_KEY is not base64 (make one with `openssl rand -base64 32`)"
        ) from None


def _local_key(path: Path) -> str:
    """Made whole before it appears (written aside, then linked): a process starting at the
    same moment reads either no file or the complete key, never half of one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text()

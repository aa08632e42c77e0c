"""Who is posting: a bearer key, or an HMAC-SHA256 signature over timestamp and body.

Signed requests carry `X-Pingan-Device` (the device id), `X-Pingan-Timestamp` (Unix
seconds) and `X-Pingan-Signature: sha256=<hex>` of `HMAC(secret, "<timestamp>." + body)`.
The timestamp bounds replays to the window; inside it a replayed event is a retry, which
`event_id` makes harmless.

Everything but the signature itself is checked from the headers, before the body is read:
an unknown device, a revoked key or a stale timestamp costs the server no body bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

from ingest.http.credentials import DeviceDirectory
from ingest.http.refusal import Refusal
from pingan.platform.device_secrets import DeviceSecretKeyError
from schemas.credentials import CredentialScheme, DeviceCredential
from schemas.reference import Device

AUTHORIZATION = "Authorization"
DEVICE_HEADER = "X-Pingan-Device"
TIMESTAMP_HEADER = "X-Pingan-Timestamp"
SIGNATURE_HEADER = "X-Pingan-Signature"
MAX_HEADER_LENGTH = 256
"""Longer than any key, device id, timestamp or signature this scheme produces."""

log = logging.getLogger(__name__)

MISSING = (
    "missing credentials: send 'Authorization: Bearer <device key>', or sign the body "
    f"with {DEVICE_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}"
)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The header value a device sends: `sha256=` and the hex HMAC of "<timestamp>." + body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who the headers say is posting, known before the body is read."""

    device: Device
    signed_at: str | None = None
    """The timestamp of a signed request: its signature over the body is still to check."""
    secret: str | None = None


def authenticate(
    headers: Mapping[str, str], body: bytes, directory: DeviceDirectory, now: float, window: float
) -> Device:
    """The registered device behind a request; 401 for anything else."""
    caller = identify(headers, directory, now, window)
    verify_body(caller, headers, body)
    return caller.device


def identify(
    headers: Mapping[str, str], directory: DeviceDirectory, now: float, window: float
) -> Caller:
    """Everything the headers alone can prove, so that a stranger's body is never read: a
    bearer key in full; a signed request's device, secret and timestamp window."""
    for name in (AUTHORIZATION, DEVICE_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER):
        if len(headers.get(name, "")) > MAX_HEADER_LENGTH:
            raise Refusal(401, f"{name} is longer than {MAX_HEADER_LENGTH} characters")
    authorization = headers.get(AUTHORIZATION)
    if authorization is not None:
        return _registered(_bearer(authorization, directory), directory)
    if SIGNATURE_HEADER in headers:
        return _signed(headers, directory, now, window)
    raise Refusal(401, MISSING)


def verify_body(caller: Caller, headers: Mapping[str, str], body: bytes) -> None:
    """The signature of a signed request against the body it covers (nothing for a bearer)."""
    if caller.secret is None or caller.signed_at is None:
        return
    expected = signature(caller.secret, caller.signed_at, body)
    given = headers.get(SIGNATURE_HEADER, "").strip()
    if not given.startswith("sha256="):
        given = "sha256=" + given
    if not hmac.compare_digest(expected.encode(), given.lower().encode()):
        raise Refusal(401, f"{SIGNATURE_HEADER} does not match the body and timestamp")


def _registered(credential: DeviceCredential, directory: DeviceDirectory) -> Caller:
    device = directory.device(credential.device_id)
    if device is None:
        raise Refusal(401, f"device {credential.device_id} is not registered")
    return Caller(device)


def _bearer(authorization: str, directory: DeviceDirectory) -> DeviceCredential:
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Refusal(401, "Authorization must be 'Bearer <device key>'")
    credential = directory.bearer(key.strip())
    if credential is None:
        raise Refusal(401, "unknown or revoked device key")
    return credential


def _signed(
    headers: Mapping[str, str], directory: DeviceDirectory, now: float, window: float
) -> Caller:
    device_id = headers.get(DEVICE_HEADER, "").strip()
    timestamp = headers.get(TIMESTAMP_HEADER, "").strip()
    if not device_id or not timestamp:
        raise Refusal(401, f"a signed request needs {DEVICE_HEADER} and {TIMESTAMP_HEADER}")
    credential = directory.credential(device_id)
    if credential is None or credential.revoked:
        raise Refusal(401, f"unknown or revoked device {device_id}")
    secret = _signing_secret(credential, directory)
    try:
        skew = abs(now - float(timestamp))
    except ValueError:
        skew = math.nan
    if not math.isfinite(skew):
        raise Refusal(401, f"{TIMESTAMP_HEADER} must be Unix seconds, got {timestamp!r}")
    if skew > window:
        raise Refusal(
            401,
            f"{TIMESTAMP_HEADER} is {skew:.0f} s away from the server clock "
            f"(allowed: {window:.0f} s); check the device's clock",
        )
    caller = _registered(credential, directory)
    return Caller(caller.device, signed_at=timestamp, secret=secret)


def _signing_secret(credential: DeviceCredential, directory: DeviceDirectory) -> str:
    """A key that cannot open the secret is the server's fault, not the device's: 503, and
    the log tells the operator which setting to fix."""
    try:
        secret = directory.signing_secret(credential)
    except DeviceSecretKeyError as exc:
        log.error("%s", exc)
        raise Refusal(
            503, "the server cannot check signatures just now; its operator has been told"
        ) from None
    if credential.scheme is not CredentialScheme.HMAC or secret is None:
        raise Refusal(401, f"device {credential.device_id} has a bearer key, not a signing secret")
    return secret

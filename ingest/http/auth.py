"""Who is posting: a bearer key, or an HMAC-SHA256 signature over timestamp and body.

Signed requests carry `X-Pingan-Device` (the device id), `X-Pingan-Timestamp` (Unix
seconds) and `X-Pingan-Signature: sha256=<hex>` of `HMAC(secret, "<timestamp>." + body)`.
The timestamp bounds replays to the window; inside it a replayed event is a retry, which
`event_id` makes harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping

from ingest.http.credentials import DeviceDirectory
from ingest.http.refusal import Refusal
from schemas.credentials import CredentialScheme, DeviceCredential
from schemas.reference import Device

DEVICE_HEADER = "X-Pingan-Device"
TIMESTAMP_HEADER = "X-Pingan-Timestamp"
SIGNATURE_HEADER = "X-Pingan-Signature"

MISSING = (
    "missing credentials: send 'Authorization: Bearer <device key>', or sign the body "
    f"with {DEVICE_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}"
)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The header value a device sends: `sha256=` and the hex HMAC of "<timestamp>." + body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def authenticate(
    headers: Mapping[str, str], body: bytes, directory: DeviceDirectory, now: float, window: float
) -> Device:
    """The registered device behind a request; 401 for anything else."""
    authorization = headers.get("Authorization")
    if authorization is not None:
        credential = _bearer(authorization, directory)
    elif SIGNATURE_HEADER in headers:
        credential = _signed(headers, body, directory, now, window)
    else:
        raise Refusal(401, MISSING)
    device = directory.device(credential.device_id)
    if device is None:
        raise Refusal(401, f"device {credential.device_id} is not registered")
    return device


def _bearer(authorization: str, directory: DeviceDirectory) -> DeviceCredential:
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Refusal(401, "Authorization must be 'Bearer <device key>'")
    credential = directory.bearer(key.strip())
    if credential is None:
        raise Refusal(401, "unknown or revoked device key")
    return credential


def _signed(
    headers: Mapping[str, str], body: bytes, directory: DeviceDirectory, now: float, window: float
) -> DeviceCredential:
    device_id = headers.get(DEVICE_HEADER, "").strip()
    timestamp = headers.get(TIMESTAMP_HEADER, "").strip()
    if not device_id or not timestamp:
        raise Refusal(401, f"a signed request needs {DEVICE_HEADER} and {TIMESTAMP_HEADER}")
    credential = directory.credential(device_id)
    if credential is None or credential.revoked:
        raise Refusal(401, f"unknown or revoked device {device_id}")
    if credential.scheme is not CredentialScheme.HMAC or credential.hmac_secret is None:
        raise Refusal(401, f"device {device_id} has a bearer key, not a signing secret")
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
    expected = signature(credential.hmac_secret, timestamp, body)
    given = headers[SIGNATURE_HEADER].strip()
    if not given.startswith("sha256="):
        given = "sha256=" + given
    if not hmac.compare_digest(expected.encode(), given.lower().encode()):
        raise Refusal(401, f"{SIGNATURE_HEADER} does not match the body and timestamp")
    return credential

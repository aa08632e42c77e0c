"""Who may post: bearer keys by hash, HMAC signatures with a replay window, revocation."""

from __future__ import annotations

import pytest

from ingest.http.auth import authenticate, signature
from ingest.http.credentials import DeviceDirectory, issue_key, key_sha256, revoked
from ingest.http.refusal import Refusal
from schemas.credentials import CredentialScheme
from schemas.events import DeviceKind, utc_now
from schemas.reference import Device

NOW = 1_790_000_000.0
WINDOW = 300.0
BODY = b'{"event_id": "e1"}'
GATE_CAMERA = Device(device_id="cam-1", community_id="c01", device_kind=DeviceKind.CAMERA)


def directory_with(*devices: Device) -> DeviceDirectory:
    directory = DeviceDirectory()
    directory.add(*devices)
    return directory


def refusal(headers: dict[str, str], directory: DeviceDirectory, body: bytes = BODY) -> Refusal:
    with pytest.raises(Refusal) as caught:
        authenticate(headers, body, directory, NOW, WINDOW)
    return caught.value


def signed_headers(secret: str, device_id: str, timestamp: float, body: bytes = BODY) -> dict:
    stamp = str(int(timestamp))
    return {
        "X-Pingan-Device": device_id,
        "X-Pingan-Timestamp": stamp,
        "X-Pingan-Signature": signature(secret, stamp, body),
    }


def test_bearer_key_is_stored_as_its_hash_only() -> None:
    issued = issue_key("cam-1", CredentialScheme.BEARER, "test", utc_now())
    assert issued.credential.key_sha256 == key_sha256(issued.key)
    assert issued.credential.sealed_hmac_secret is None
    assert issued.key not in issued.credential.model_dump_json()
    assert issued.credential.fingerprint == key_sha256(issued.key)[:12]


def test_bearer_key_identifies_its_device() -> None:
    issued = issue_key("cam-1", CredentialScheme.BEARER, "test", utc_now())
    directory = directory_with(GATE_CAMERA)
    directory.add(issued.credential)
    device = authenticate({"Authorization": f"Bearer {issued.key}"}, BODY, directory, NOW, WINDOW)
    assert device == GATE_CAMERA


def test_unknown_and_revoked_bearer_keys_get_401() -> None:
    issued = issue_key("cam-1", CredentialScheme.BEARER, "test", utc_now())
    directory = directory_with(GATE_CAMERA)
    directory.add(issued.credential)
    unknown = refusal({"Authorization": "Bearer pgk_not-a-key"}, directory)
    assert (unknown.status, unknown.message) == (401, "unknown or revoked device key")
    directory.add(revoked(issued.credential, "test", utc_now()))
    gone = refusal({"Authorization": f"Bearer {issued.key}"}, directory)
    assert (gone.status, gone.message) == (401, "unknown or revoked device key")


def test_key_of_an_unregistered_device_gets_401() -> None:
    issued = issue_key("cam-9", CredentialScheme.BEARER, "test", utc_now())
    directory = directory_with(GATE_CAMERA)
    directory.add(issued.credential)
    answer = refusal({"Authorization": f"Bearer {issued.key}"}, directory)
    assert (answer.status, answer.message) == (401, "device cam-9 is not registered")


def test_missing_or_malformed_authorization_gets_401_saying_what_to_send() -> None:
    directory = directory_with(GATE_CAMERA)
    assert "Authorization: Bearer" in refusal({}, directory).message
    assert "'Bearer <device key>'" in refusal({"Authorization": "Basic abc"}, directory).message


def test_good_hmac_signature_identifies_its_device() -> None:
    issued = issue_key("cam-1", CredentialScheme.HMAC, "test", utc_now())
    directory = directory_with(GATE_CAMERA)
    directory.add(issued.credential)
    headers = signed_headers(issued.key, "cam-1", NOW - 10)
    assert authenticate(headers, BODY, directory, NOW, WINDOW) == GATE_CAMERA


def test_hmac_signature_of_another_body_or_secret_gets_401() -> None:
    issued = issue_key("cam-1", CredentialScheme.HMAC, "test", utc_now())
    directory = directory_with(GATE_CAMERA)
    directory.add(issued.credential)
    tampered = refusal(signed_headers(issued.key, "cam-1", NOW), directory, body=BODY + b" ")
    assert tampered.status == 401
    assert "X-Pingan-Signature does not match" in tampered.message
    forged = refusal(signed_headers("pgs_guess", "cam-1", NOW), directory)
    assert "does not match" in forged.message


def test_stale_or_future_timestamps_get_401_naming_the_window() -> None:
    issued = issue_key("cam-1", CredentialScheme.HMAC, "test", utc_now())
    directory = directory_with(GATE_CAMERA)
    directory.add(issued.credential)
    stale = refusal(signed_headers(issued.key, "cam-1", NOW - 301), directory)
    assert stale.status == 401
    assert "301 s away from the server clock (allowed: 300 s)" in stale.message
    ahead = refusal(signed_headers(issued.key, "cam-1", NOW + 400), directory)
    assert "400 s away" in ahead.message


def test_non_numeric_timestamp_cannot_bypass_the_window() -> None:
    issued = issue_key("cam-1", CredentialScheme.HMAC, "test", utc_now())
    directory = directory_with(GATE_CAMERA)
    directory.add(issued.credential)
    for stamp in ("nan", "inf", "yesterday"):
        headers = {
            "X-Pingan-Device": "cam-1",
            "X-Pingan-Timestamp": stamp,
            "X-Pingan-Signature": signature(issued.key, stamp, BODY),
        }
        answer = refusal(headers, directory)
        assert "must be Unix seconds" in answer.message, stamp


def test_signed_request_of_revoked_or_bearer_only_device_gets_401() -> None:
    directory = directory_with(GATE_CAMERA)
    bearer = issue_key("cam-1", CredentialScheme.BEARER, "test", utc_now())
    directory.add(bearer.credential)
    assert "has a bearer key" in refusal(signed_headers("x", "cam-1", NOW), directory).message
    hmac_key = issue_key("cam-1", CredentialScheme.HMAC, "test", utc_now())
    directory.add(revoked(hmac_key.credential, "test", utc_now()))
    answer = refusal(signed_headers(hmac_key.key, "cam-1", NOW), directory)
    assert answer.message == "unknown or revoked device cam-1"


def test_revoked_record_keeps_no_secret_but_the_audit_trail() -> None:
    issued = issue_key("cam-1", CredentialScheme.HMAC, "alice", utc_now())
    gone = revoked(issued.credential, "bob", utc_now())
    assert gone.revoked and gone.sealed_hmac_secret is None and gone.key_sha256 is None
    assert (gone.issued_by, gone.revoked_by, gone.fingerprint) == (
        "alice",
        "bob",
        issued.credential.fingerprint,
    )

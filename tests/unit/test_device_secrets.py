"""Sealing device signing secrets: what opens them, what does not, and what the errors say."""

from __future__ import annotations

import base64
import secrets
import stat
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from ingest.http.auth import DEVICE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, authenticate
from ingest.http.auth import signature as sign
from ingest.http.credentials import DeviceDirectory, issue_key
from ingest.http.refusal import Refusal
from pingan.platform.device_secrets import KEY_FILE, DeviceSecretBox, DeviceSecretKeyError
from pingan.platform.settings import Settings
from schemas.credentials import CredentialScheme
from schemas.events import DeviceKind, utc_now
from schemas.reference import Device


def key_setting() -> Settings:
    return Settings(device_secret_key=SecretStr(base64.b64encode(secrets.token_bytes(32)).decode()))


def test_a_sealed_secret_opens_with_its_key_only() -> None:
    box = DeviceSecretBox.from_settings(key_setting())
    sealed = box.seal("door-1", "pgs_secret")
    assert "pgs_secret" not in sealed
    assert box.open("door-1", sealed) == "pgs_secret"
    with pytest.raises(DeviceSecretKeyError, match="PINGAN_DEVICE_SECRET_KEY"):
        DeviceSecretBox.from_settings(key_setting()).open("door-1", sealed)


def test_a_sealed_secret_does_not_open_for_another_device() -> None:
    box = DeviceSecretBox.from_settings(key_setting())
    with pytest.raises(DeviceSecretKeyError, match="device door-2's signing secret"):
        box.open("door-2", box.seal("door-1", "pgs_secret"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not base64!", "PINGAN_DEVICE_SECRET_KEY is not base64"),
        (base64.b64encode(b"short").decode(), "must be base64 of 32 bytes, got 5 bytes"),
    ],
)
def test_a_malformed_key_is_named_with_how_to_make_one(value: str, message: str) -> None:
    with pytest.raises(DeviceSecretKeyError, match=message) as raised:
        DeviceSecretBox.from_settings(Settings(device_secret_key=SecretStr(value)))
    assert "openssl rand -base64 32" in str(raised.value)


def test_without_a_setting_the_machine_key_is_made_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    sealed = DeviceSecretBox.from_settings(settings).seal("door-1", "pgs_secret")
    key_file = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(base64.b64decode(key_file.read_text())) == 32
    assert DeviceSecretBox.from_settings(settings).open("door-1", sealed) == "pgs_secret"
    assert [p.name for p in key_file.parent.iterdir()] == [KEY_FILE]


def signed_headers(secret: str, body: bytes, device_id: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        DEVICE_HEADER: device_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def test_a_webhook_with_another_key_answers_503_not_401() -> None:
    """The device did nothing wrong: it should retry once the operator fixes the key."""
    door = Device(device_id="door-1", community_id="c01", device_kind=DeviceKind.DOOR)
    issuer = key_setting()
    issued = issue_key(
        door.device_id,
        CredentialScheme.HMAC,
        "test",
        utc_now(),
        DeviceSecretBox.from_settings(issuer),
    )
    body = b'{"event_id": "e1"}'
    headers = signed_headers(issued.key, body, door.device_id)
    same, other = DeviceDirectory(issuer), DeviceDirectory(key_setting())
    for directory in (same, other):
        directory.add(door, issued.credential)
    assert authenticate(headers, body, same, time.time(), 300) == door
    with pytest.raises(Refusal) as refused:
        authenticate(headers, body, other, time.time(), 300)
    assert refused.value.status == 503

"""Roles, scopes, tokens and the rate limit of the police API (pure logic, no I/O)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr, ValidationError

from graphql_api.access import (
    FACILITY_ALERT_TYPES,
    ROLE_PERMISSIONS,
    Caller,
    Forbidden,
    Permission,
    Role,
    Unauthenticated,
)
from graphql_api.errors import InvalidArgument
from graphql_api.limits import RateLimiter, ReadLimits
from graphql_api.tokens import SECRET_FILE, TokenConfigError, TokenVerifier, mint_token
from pingan.platform.settings import Settings
from schemas.alerts import AlertType
from schemas.events import utc_now

KNOWN = frozenset({"c01", "c02", "c03"})
SECRET = "s" * 40


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, api_token_secret=SecretStr(SECRET), **overrides)


def _caller(role: Role, communities: set[str] | None = None) -> Caller:
    return Caller("someone", role, None if communities is None else frozenset(communities))


def test_the_role_table_matches_the_readme() -> None:
    assert ROLE_PERMISSIONS[Role.DISTRICT_ADMIN] == frozenset(Permission)
    assert ROLE_PERMISSIONS[Role.ANALYST] == {Permission.READ_AGGREGATES, Permission.QUERY_SQL}
    manager = ROLE_PERMISSIONS[Role.PROPERTY_MANAGER]
    assert Permission.READ_BIOMETRICS not in manager
    assert Permission.READ_PLATES not in manager
    assert {Permission.READ_DEVICES, Permission.READ_PARKING, Permission.HANDLE_ALERTS} <= manager
    officer = ROLE_PERMISSIONS[Role.COMMUNITY_OFFICER]
    assert Permission.READ_BIOMETRICS in officer
    assert Permission.EDIT_WATCHLISTS not in officer
    assert Permission.EDIT_WATCHLISTS in ROLE_PERMISSIONS[Role.DISTRICT_OFFICER]
    only_admin = {Permission.READ_AUDIT, Permission.ERASE_PERSONAL_DATA}
    only_admin |= {Permission.EDIT_RULE_SETTINGS, Permission.SWITCH_OFF_SAFETY_RULES}
    for role in Role:
        if role is not Role.DISTRICT_ADMIN:
            assert not only_admin & ROLE_PERMISSIONS[role], role


def test_a_community_role_is_scoped_to_its_own_communities() -> None:
    officer = _caller(Role.COMMUNITY_OFFICER, {"c01", "c03"})
    assert officer.scope(None, KNOWN) == {"c01", "c03"}
    assert officer.scope(["c01"], KNOWN) == {"c01"}
    with pytest.raises(InvalidArgument, match=r"unknown community id\(s\): c02$"):
        officer.scope(["c01", "c02"], KNOWN)


def test_a_district_role_sees_every_community_and_unknown_ones_are_named() -> None:
    admin = _caller(Role.DISTRICT_ADMIN)
    assert admin.scope(None, KNOWN) is None
    assert admin.scope(["c02"], KNOWN) == {"c02"}
    with pytest.raises(InvalidArgument, match=r"unknown community id\(s\): zz"):
        admin.scope(["zz"], KNOWN)
    with pytest.raises(InvalidArgument, match="communityIds is empty"):
        admin.scope([], KNOWN)


def test_a_property_manager_sees_only_facility_alert_types() -> None:
    manager = _caller(Role.PROPERTY_MANAGER, {"c01"})
    assert manager.visible_types(None) == FACILITY_ALERT_TYPES
    asked = {AlertType.DEVICE_OFFLINE, AlertType.KNOWN_MLM_RETURN}
    assert manager.visible_types(asked) == {AlertType.DEVICE_OFFLINE}
    assert manager.visible_types({AlertType.CLONED_PLATE}) == frozenset()
    assert _caller(Role.DISTRICT_OFFICER).visible_types(None) is None


def test_a_missing_permission_is_named_with_the_role() -> None:
    with pytest.raises(
        Forbidden,
        match="trajectory needs the permission 'read:biometrics', "
        "which the role 'analyst' does not have",
    ):
        _caller(Role.ANALYST).require(Permission.READ_BIOMETRICS, "trajectory")


def test_a_minted_token_verifies_to_its_caller(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    token = mint_token(settings, Role.COMMUNITY_OFFICER, "wang.li", ["c01"], timedelta(hours=1))
    caller = TokenVerifier.from_settings(settings).caller(f"Bearer {token}")
    assert caller == Caller("wang.li", Role.COMMUNITY_OFFICER, frozenset({"c01"}))


def test_a_district_token_ignores_communities(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    claims = {"sub": "li", "role": "district_officer", "communities": ["c01"]}
    token = jwt.encode(claims | {"exp": utc_now() + timedelta(hours=1)}, SECRET)
    assert TokenVerifier.from_settings(settings).caller(f"Bearer {token}").communities is None


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"sub": "a", "role": "district_admin", "exp": -60}, "expired"),
        ({"sub": "a", "role": "district_admin"}, 'Token is missing the "exp" claim'),
        ({"role": "district_admin", "exp": 3600}, 'missing the "sub" claim'),
        ({"sub": "a", "role": "superuser", "exp": 3600}, "'superuser' is not a Pingan role"),
        ({"sub": "a", "role": "community_officer", "exp": 3600}, "must list its communities"),
        ({"sub": " ", "role": "analyst", "exp": 3600}, "sub must name a person"),
    ],
)
def test_bad_tokens_are_refused_with_the_reason(
    tmp_path: Path, claims: dict[str, object], message: str
) -> None:
    if "exp" in claims:
        claims = claims | {"exp": utc_now() + timedelta(seconds=int(claims["exp"]))}  # type: ignore[call-overload]
    token = jwt.encode(claims, SECRET)
    with pytest.raises(Unauthenticated, match=message):
        TokenVerifier.from_settings(_settings(tmp_path)).caller(f"Bearer {token}")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "sign in"),
        ("Basic abc", "must be 'Bearer <token>'"),
        ("Bearer ", "must be 'Bearer <token>'"),
        ("Bearer not.a.jwt", "not valid"),
        ("Bearer " + "x" * 9000, "too long"),
    ],
)
def test_malformed_headers_are_refused(tmp_path: Path, header: str | None, message: str) -> None:
    with pytest.raises(Unauthenticated, match=message):
        TokenVerifier.from_settings(_settings(tmp_path)).caller(header)


def test_a_token_signed_with_another_secret_or_none_is_refused(tmp_path: Path) -> None:
    claims = {"sub": "a", "role": "district_admin", "exp": utc_now() + timedelta(hours=1)}
    verifier = TokenVerifier.from_settings(_settings(tmp_path))
    for token in (jwt.encode(claims, "t" * 40), jwt.encode(claims, None, algorithm="none")):
        with pytest.raises(Unauthenticated, match="not valid"):
            verifier.caller(f"Bearer {token}")


def test_an_identity_providers_es256_token_verifies_with_its_public_key(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_file = tmp_path / "idp.pem"
    key_file.write_bytes(public)
    settings = Settings(data_dir=tmp_path, api_token_public_key_file=key_file)
    claims = {"sub": "zhao", "role": "analyst", "exp": utc_now() + timedelta(hours=1)}
    token = jwt.encode(claims, private, algorithm="ES256")
    assert TokenVerifier.from_settings(settings).caller(f"Bearer {token}").sub == "zhao"
    forged = jwt.encode(claims, "x" * 40, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        TokenVerifier.from_settings(settings).caller(f"Bearer {forged}")
    with pytest.raises(TokenConfigError, match="identity provider issues them"):
        mint_token(settings, Role.ANALYST, "zhao", None, timedelta(hours=1))


def test_without_a_configured_secret_one_is_made_once_readable_by_its_owner(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    token = mint_token(settings, Role.ANALYST, "a", None, timedelta(minutes=5))
    assert (tmp_path / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert TokenVerifier.from_settings(Settings(data_dir=tmp_path)).caller(f"Bearer {token}")


def test_a_short_configured_secret_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_token_secret=SecretStr("short"))
    with pytest.raises(TokenConfigError, match="at least 32 characters"):
        TokenVerifier.from_settings(settings)


def test_the_audit_log_may_not_expire_before_the_biometrics_it_describes() -> None:
    with pytest.raises(ValidationError, match="must be at least PINGAN_BIOMETRIC_TTL_DAYS"):
        Settings(audit_ttl_days=30, biometric_ttl_days=90)


def test_the_rate_limit_allows_a_burst_then_refills() -> None:
    limiter = RateLimiter(per_minute=3)
    assert [limiter.allow("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.allow("a", now=0.0) == pytest.approx(20.0)
    assert limiter.allow("b", now=0.0) == 0.0
    assert limiter.allow("a", now=20.0) == 0.0


def test_read_limits_become_clickhouse_settings() -> None:
    clause = ReadLimits(timeout_seconds=2.5, max_memory_mb=64).settings_clause
    assert clause == (
        " SETTINGS max_execution_time = 2.5, max_memory_usage = 67108864,"
        " max_threads = 1, os_thread_priority = 10"
    )

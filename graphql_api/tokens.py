"""Bearer tokens: JWTs verified with PyJWT, never hand-written crypto.

A district runs either on a shared secret (HS256; `pingan token` mints from it) or on its
identity provider's public key (RS256/ES256; the provider mints). On one machine with no
secret configured, a random one is made once in the data directory, readable by its owner
only, so `make run` is secure without any setup and `pingan token` works beside it.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt

from graphql_api.access import Caller, Role, Unauthenticated
from pingan.platform.settings import Settings
from schemas.events import utc_now

SECRET_FILE = "api-token-secret"
LEEWAY_SECONDS = 30
"""Clock difference tolerated between the token's issuer and this server."""
MAX_TOKEN_BYTES = 8192
PUBLIC_KEY_ALGORITHMS = ["RS256", "ES256"]


class TokenConfigError(RuntimeError):
    """The token settings cannot work; the message says which variable to set."""


def shared_secret(settings: Settings) -> str:
    """The configured HS256 secret, else the machine's own (made on first use)."""
    if settings.api_token_secret is not None:
        secret = settings.api_token_secret.get_secret_value()
        if len(secret) < 32:
            raise TokenConfigError("PINGAN_API_TOKEN_SECRET must be at least 32 characters")
        return secret
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def _write_private(path: Path, text: str) -> None:
    """Created with mode 0600 in one step, so the secret is never readable by others."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


class TokenVerifier:
    """Turns an Authorization header into a Caller, or raises Unauthenticated."""

    def __init__(self, key: Any, algorithms: list[str]) -> None:
        self._key = key
        self._algorithms = algorithms

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        if settings.api_token_public_key_file is not None:
            try:
                key = settings.api_token_public_key_file.read_text()
            except OSError as exc:
                raise TokenConfigError(
                    f"PINGAN_API_TOKEN_PUBLIC_KEY_FILE cannot be read: {exc.strerror}"
                ) from None
            return cls(key, PUBLIC_KEY_ALGORITHMS)
        return cls(shared_secret(settings), ["HS256"])

    def caller(self, authorization: str | None) -> Caller:
        token = _bearer(authorization)
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                options={"require": ["sub", "role", "exp"]},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired; ask for a new one") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from None
        return caller_from_claims(claims)


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("sign in: send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    if len(token) > MAX_TOKEN_BYTES:
        raise Unauthenticated("the token is too long")
    return token.strip()


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    try:
        role = Role(claims["role"])
    except ValueError:
        raise Unauthenticated(f"the token's role {claims['role']!r} is not a Pingan role") from None
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub.strip():
        raise Unauthenticated("the token's sub must name a person")
    if role.district_wide:
        return Caller(sub=sub, role=role, communities=None)
    communities = claims.get("communities")
    if not isinstance(communities, list) or not communities:
        raise Unauthenticated(f"a {role.value} token must list its communities")
    if not all(isinstance(c, str) for c in communities):
        raise Unauthenticated("the token's communities must be community ids")
    return Caller(sub=sub, role=role, communities=frozenset(communities))


def mint_token(
    settings: Settings,
    role: Role,
    sub: str,
    communities: list[str] | None,
    ttl: timedelta,
) -> str:
    """An HS256 token from the shared secret; with a public key the identity provider mints."""
    if settings.api_token_public_key_file is not None:
        raise TokenConfigError(
            "tokens are verified with PINGAN_API_TOKEN_PUBLIC_KEY_FILE: your identity "
            "provider issues them, pingan cannot"
        )
    if not role.district_wide and not communities:
        raise TokenConfigError(f"a {role.value} token needs --communities")
    now = utc_now()
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role.value,
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_hex(8),
    }
    if communities and not role.district_wide:
        claims["communities"] = communities
    return jwt.encode(claims, shared_secret(settings), algorithm="HS256")

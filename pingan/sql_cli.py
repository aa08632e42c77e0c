"""`pingan sql` while a worker holds the embedded chDB: through the worker's SQL endpoint.

chDB lets one process open a data directory; the worker that holds it answers ClickHouse's
HTTP protocol (graphql_api.sql_gateway), so the CLI is just one more ClickHouse client. It
signs in as an analyst with a token minted from this machine's secret, or with `--token`.
"""

from __future__ import annotations

import os
from datetime import timedelta

from graphql_api.access import Role
from graphql_api.tokens import TokenConfigError, mint_token
from pingan.platform.settings import Settings

TOKEN_LIFETIME = timedelta(minutes=10)


class SqlEndpointError(RuntimeError):
    """The running worker's SQL endpoint could not answer; the message says what to do."""


def query_running_worker(settings: Settings, query: str, fmt: str, token: str | None) -> bytes:
    """The answer's bytes in ClickHouse's output format `fmt`, exactly as the server sent them."""
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import Error as ClickHouseClientError

    if not settings.sql_port:
        raise SqlEndpointError(
            "a worker holds the embedded ClickHouse data and its SQL endpoint is off "
            "(PINGAN_SQL_PORT=0): set PINGAN_SQL_PORT and restart it, or stop the worker"
        )
    try:
        client = clickhouse_connect.get_client(
            host=_reachable(settings.sql_host),
            port=settings.sql_port,
            access_token=token or _analyst_token(settings),
            database=settings.clickhouse_database,
            autogenerate_session_id=False,
        )
        try:
            return client.raw_query(query.rstrip().rstrip(";"), fmt=fmt)
        finally:
            client.close()
    except ClickHouseClientError as exc:
        raise SqlEndpointError(_first_lines(str(exc))) from None


def _analyst_token(settings: Settings) -> str:
    try:
        return mint_token(
            settings, Role.ANALYST, os.environ.get("USER") or "operator", None, TOKEN_LIFETIME
        )
    except TokenConfigError as exc:
        raise SqlEndpointError(f"{exc}; pass a token with --token") from None


def _reachable(host: str) -> str:
    """A wildcard bind address is reached on loopback."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _first_lines(message: str) -> str:
    """clickhouse-connect's message names the server, then quotes ClickHouse's error."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return "\n".join(lines[:3])

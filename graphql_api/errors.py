"""Errors the API reports to clients verbatim; everything else is masked.

Police clients need precise messages for their own mistakes (a bad cursor, an unknown
community) but must never see a stack trace, SQL text or a file path from the server.
"""

from __future__ import annotations

import logging

from aiohttp import web
from graphql import GraphQLError

log = logging.getLogger(__name__)

MASKED_MESSAGE = "internal error; the incident has been logged"


class PublicError(Exception):
    """An error whose message is written for the client and safe to show."""


class InvalidArgument(PublicError):
    """The client passed an argument the API cannot use."""


class NotFound(PublicError):
    """The client named something that does not exist."""


class Busy(PublicError):
    """The server is at its limit for this kind of work; the message says when to retry."""


class QueryFailed(PublicError):
    """The warehouse refused or failed a query; the detail stays in the server log."""

    def __init__(self) -> None:
        super().__init__("query failed; try again later")


class PublishFailed(PublicError):
    """Kafka did not accept a record, so the change was not made."""

    def __init__(self) -> None:
        super().__init__("the change could not be recorded; try again later")


def should_mask(error: GraphQLError) -> bool:
    """Mask every error except PublicErrors and GraphQL's own validation and coercion errors.

    Those name exactly which argument is wrong and hold nothing from the server.
    """
    original = error.original_error
    return original is not None and not isinstance(original, PublicError | GraphQLError)


def log_error(error: GraphQLError) -> None:
    """Keep the full traceback of unexpected errors server-side; client mistakes need none."""
    if should_mask(error):
        log.error(
            "unexpected error at %s: %s",
            error.path or "operation",
            error,
            exc_info=error.original_error,
        )
    else:
        log.info("request rejected: %s", error.message)


def http_refusal(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """A refusal outside GraphQL (401, 403, 404, 429 …): a JSON body with one readable line."""
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return web.json_response({"error": message}, status=status, headers=headers)

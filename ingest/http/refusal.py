"""Refused requests: a status and a message an installer can act on, always as JSON."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class Refusal(Exception):
    """Raised anywhere in a webhook; the middleware turns it into the answer."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        problems: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems
        self.retry_after = retry_after

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.message}
        if self.problems is not None:
            body["problems"] = self.problems
        headers = {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}
        return web.json_response(body, status=self.status, headers=headers)

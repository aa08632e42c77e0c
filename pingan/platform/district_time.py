"""Times typed on the command line: an officer in the district writes local time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from schemas.reference import DISTRICT_TZ


class DistrictTime(click.ParamType):
    """ISO 8601; without an offset the time is the district's local time (UTC+8)."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"not an ISO 8601 time: {value!r}", param, ctx)
        return at if at.tzinfo else at.replace(tzinfo=DISTRICT_TZ)

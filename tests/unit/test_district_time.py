"""Times typed on the command line are district time unless they say otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import pytest

from pingan.platform.district_time import DistrictTime
from schemas.reference import DISTRICT_TZ


def test_a_time_without_offset_is_district_local_time() -> None:
    at = DistrictTime().convert("2026-11-24T18:00", None, None)
    assert at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert at.utcoffset() == DISTRICT_TZ.utcoffset(None)


def test_an_explicit_offset_is_kept() -> None:
    at = DistrictTime().convert("2026-11-24T18:00+00:00", None, None)
    assert at == datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def test_garbage_is_a_usage_error_naming_the_value() -> None:
    with pytest.raises(click.BadParameter, match="not an ISO 8601 time: 'yesterday'"):
        DistrictTime().convert("yesterday", None, None)

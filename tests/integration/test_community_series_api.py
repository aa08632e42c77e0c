"""A community's traffic and takings through the police API, as the console's community page
draws them: vehicle passages per hour and parking revenue per day, on a real chDB holding
rows of c01 and c02 and a real Kafka broker behind the API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from graphql_api.facility_queries import district_midnight
from pingan.platform.warehouse import EmbeddedWarehouse
from schemas.events import Direction, PlateColour, VehiclePassage, utc_now
from schemas.parking import ParkingSession, SessionStatus
from tests.integration.api_harness import (
    ADMIN,
    ANALYST,
    C01_MANAGER,
    C01_OFFICER,
    Api,
    Who,
    insert_records,
    prepared_warehouse,
    running_api,
)

pytestmark = pytest.mark.integration

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
D0 = district_midnight(utc_now() - 3 * DAY)
"""A past district-time day (16:00 UTC): every row lies on it or the next."""
PASSAGE_STATS = """
query($bucket: StatsBucket!, $since: DateTime!, $until: DateTime, $communityIds: [ID!]) {
  passageStats(bucket: $bucket, since: $since, until: $until, communityIds: $communityIds) {
    bucketStart communityId entries exits
  }
}
"""
PARKING_REVENUE = """
query($bucket: StatsBucket!, $since: DateTime!, $until: DateTime, $communityIds: [ID!]) {
  parkingRevenue(bucket: $bucket, since: $since, until: $until, communityIds: $communityIds) {
    bucketStart communityId sessions fee
  }
}
"""


def _passage(event_id: str, community: str, at: datetime, direction: Direction) -> VehiclePassage:
    return VehiclePassage(
        event_id=event_id,
        community_id=community,
        occurred_at=at,
        received_at=at,
        plate="鄂A12345",
        plate_colour=PlateColour.BLUE,
        direction=direction,
        gate_id="g1",
        camera_id="cam-g1",
        confidence=0.95,
    )


IN, OUT = Direction.IN, Direction.OUT
RETRIED = _passage("p3", "c01", D0 + 30 * MINUTE, IN)
PASSAGES = [
    _passage("p1", "c01", D0 + 10 * MINUTE, IN),
    _passage("p2", "c01", D0 + 20 * MINUTE, OUT),
    RETRIED,
    RETRIED,  # a camera's retry: one passage
    _passage("p4", "c02", D0 + 15 * MINUTE, IN),
    _passage("p5", "c01", D0 + DAY + 5 * HOUR + MINUTE, IN),
]


def _session(
    session_id: str,
    community: str,
    exited_at: datetime | None,
    fee_fen: int | None,
    revision: int = 1,
    is_deleted: bool = False,
) -> ParkingSession:
    started_at = (exited_at or D0 + DAY) - 2 * HOUR
    closed = exited_at is not None
    return ParkingSession(
        session_id=session_id,
        community_id=community,
        plate=f"鄂A{session_id}000",
        plate_colour=PlateColour.BLUE,
        status=SessionStatus.CLOSED if closed else SessionStatus.OPEN,
        started_at=started_at,
        entered_at=started_at,
        exited_at=exited_at,
        fee_fen=fee_fen,
        reason="" if closed else "no exit yet",
        revision=revision,
        is_deleted=is_deleted,
    )


SESSIONS = [
    _session("S1", "c01", None, None),
    _session("S1", "c01", D0 + 2 * HOUR, 2000, revision=2),  # the latest revision counts
    _session("S2", "c01", D0 + DAY + HOUR, 500),
    _session("S3", "c01", D0 + 3 * HOUR, 700),
    _session("S3", "c01", D0 + 3 * HOUR, 700, revision=2, is_deleted=True),  # retired
    _session("S4", "c02", D0 + HOUR, 999),
    _session("S5", "c01", None, None),  # still parked: no fee yet
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedWarehouse]:
    with prepared_warehouse(tmp_path_factory.mktemp("community-series")) as warehouse:
        insert_records(warehouse, "vehicle_passages", PASSAGES)
        insert_records(warehouse, "parking_sessions", SESSIONS)
        yield warehouse


@pytest.fixture(scope="module")
async def api(warehouse: EmbeddedWarehouse, kafka_bootstrap: str) -> AsyncIterator[Api]:
    async with running_api(warehouse, kafka_bootstrap) as api:
        yield api


async def _series(api: Api, query: str, who: Who = ADMIN, **variables: Any) -> list[dict[str, Any]]:
    window = {"since": D0.isoformat(), "until": (D0 + 2 * DAY).isoformat()}
    data = await api.data(query, window | variables, who=who)
    [points] = data.values()
    return [p | {"bucketStart": _utc(p["bucketStart"])} for p in points]


def _utc(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(D0.tzinfo).isoformat()


def _passages(start: datetime, community: str, entries: int, exits: int) -> dict[str, Any]:
    return {
        "bucketStart": start.isoformat(),
        "communityId": community,
        "entries": entries,
        "exits": exits,
    }


def _revenue(start: datetime, community: str, sessions: int, fee: str) -> dict[str, Any]:
    return {
        "bucketStart": start.isoformat(),
        "communityId": community,
        "sessions": sessions,
        "fee": fee,
    }


async def test_passages_per_hour_in_and_out_by_community(api: Api) -> None:
    assert await _series(api, PASSAGE_STATS, bucket="HOUR") == [
        _passages(D0, "c01", 2, 1),
        _passages(D0, "c02", 1, 0),
        _passages(D0 + DAY + 5 * HOUR, "c01", 1, 0),
    ]
    assert await _series(api, PASSAGE_STATS, bucket="DAY", communityIds=["c02"]) == [
        _passages(D0, "c02", 1, 0)
    ]


async def test_parking_revenue_per_day_counts_priced_stays_by_their_end(api: Api) -> None:
    assert await _series(api, PARKING_REVENUE, bucket="DAY") == [
        _revenue(D0, "c01", 1, "20.00"),
        _revenue(D0, "c02", 1, "9.99"),
        _revenue(D0 + DAY, "c01", 1, "5.00"),
    ]
    narrowed = await _series(api, PARKING_REVENUE, bucket="HOUR", until=(D0 + DAY).isoformat())
    assert narrowed == [
        _revenue(D0 + HOUR, "c02", 1, "9.99"),
        _revenue(D0 + 2 * HOUR, "c01", 1, "20.00"),
    ]


async def test_community_roles_never_see_another_community(api: Api) -> None:
    officer = await _series(api, PASSAGE_STATS, C01_OFFICER, bucket="DAY")
    assert {p["communityId"] for p in officer} == {"c01"}
    manager = await _series(api, PARKING_REVENUE, C01_MANAGER, bucket="DAY")
    assert {p["communityId"] for p in manager} == {"c01"}
    errors = await api.errors(
        PASSAGE_STATS,
        {"bucket": "DAY", "since": D0.isoformat(), "communityIds": ["c02"]},
        who=C01_OFFICER,
    )
    assert errors == ["unknown community id(s): c02"]


async def test_an_analyst_counts_passages_but_sees_no_takings(api: Api) -> None:
    district_wide = await _series(api, PASSAGE_STATS, ANALYST, bucket="DAY")
    assert {p["communityId"] for p in district_wide} == {"c01", "c02"}
    errors = await api.errors(
        PARKING_REVENUE, {"bucket": "DAY", "since": D0.isoformat()}, who=ANALYST
    )
    assert errors == [
        "parkingRevenue needs the permission 'read:parking', which the role 'analyst' does not have"
    ]


@pytest.mark.parametrize("query", [PASSAGE_STATS, PARKING_REVENUE])
async def test_series_refuse_an_unbounded_window(api: Api, query: str) -> None:
    [error] = await api.errors(
        query,
        {
            "bucket": "HOUR",
            "since": "2026-01-01T00:00:00+08:00",
            "until": "2026-04-02T00:00:00+08:00",
        },
    )
    assert error == (
        "bucket HOUR covers at most 90 days (2,160 buckets); since..until spans 91.0 days: "
        "shorten it or use bucket DAY"
    )

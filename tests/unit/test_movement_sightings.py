"""Trajectory rules without I/O: dwell merging, window bounds, the pack's match threshold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from graphql_api.errors import InvalidArgument
from graphql_api.movement_queries import MovementEvent, SightingKind
from graphql_api.movement_types import DWELL_GAP, dwell_groups, sightings_of
from graphql_api.resolvers.movements import trajectory_window
from pingan.platform.face_pack import pack_match_threshold

NOW = datetime(2026, 2, 19, 20, 0, tzinfo=UTC)


def _event(
    n: int,
    place: str,
    at: datetime,
    kind: SightingKind = SightingKind.FACE_CAPTURE,
    community: str = "c01",
) -> MovementEvent:
    door = kind is SightingKind.DOOR_ACCESS
    return MovementEvent(
        kind=kind,
        event_id=f"e{n}",
        community_id=community,
        occurred_at=at,
        place_id=place,
        door_kind="unit_door" if door else "",
        method="face" if door else "",
        granted=True if door else None,
        direction="",
        has_crop=not door,
    )


def test_consecutive_events_at_one_place_merge_into_one_dwell() -> None:
    events = [
        _event(1, "cam-a", NOW),
        _event(2, "cam-a", NOW + timedelta(minutes=4)),
        _event(3, "cam-a", NOW + timedelta(minutes=9)),
        _event(4, "c01-b03-u2", NOW + timedelta(minutes=10), SightingKind.DOOR_ACCESS),
    ]
    camera, door = sightings_of(events, {"e4": "e3"})
    assert (camera.first_seen, camera.last_seen, camera.dwell_seconds) == (
        NOW,
        NOW + timedelta(minutes=9),
        540.0,
    )
    assert [e.event_id for e in camera.evidence] == ["e1", "e2", "e3"]
    assert camera.evidence[0].crop_url == "/graphql/crops/e1"
    assert (door.place.door_id, door.place.camera_id, door.dwell_seconds) == (
        "c01-b03-u2",
        None,
        0.0,
    )
    assert door.evidence[0].crop_url == "/graphql/crops/e3"


def test_a_pause_longer_than_the_gap_or_another_place_between_starts_a_new_sighting() -> None:
    later = NOW + DWELL_GAP + timedelta(seconds=1)
    events = [
        _event(1, "cam-a", NOW),
        _event(2, "cam-a", later),
        _event(3, "cam-b", later + timedelta(seconds=5)),
        _event(4, "cam-a", later + timedelta(seconds=10)),
        _event(5, "cam-a", later + timedelta(seconds=11), community="c02"),
    ]
    assert [[e.event_id for e in g] for g in dwell_groups(events)] == [
        ["e1"],
        ["e2"],
        ["e3"],
        ["e4"],
        ["e5"],
    ]


def test_a_door_and_a_camera_with_the_same_id_are_different_places() -> None:
    events = [
        _event(1, "c01-b03-u2", NOW),
        _event(2, "c01-b03-u2", NOW + timedelta(seconds=1), SightingKind.DOOR_ACCESS),
    ]
    assert len(dwell_groups(events)) == 2


def test_crop_urls_escape_the_capture_id() -> None:
    [sighting] = sightings_of([replace(_event(1, "cam-a", NOW), event_id="a/b c")], {})
    assert sighting.evidence[0].crop_url == "/graphql/crops/a%2Fb%20c"


def test_the_window_defaults_to_the_last_day() -> None:
    assert trajectory_window(None, None, NOW) == (NOW - timedelta(hours=24), NOW)
    assert trajectory_window(None, NOW - timedelta(days=2), NOW) == (
        NOW - timedelta(days=3),
        NOW - timedelta(days=2),
    )
    assert trajectory_window(NOW - timedelta(days=31), None, NOW) == (
        NOW - timedelta(days=31),
        NOW,
    )


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        (NOW - timedelta(days=31, seconds=1), None, "at most 31 days, and since..until spans 31.0"),
        (NOW - timedelta(days=90), NOW - timedelta(days=50), "spans 40.0 days"),
        (NOW + timedelta(hours=1), None, "must be before until"),
        (NOW, NOW, "must be before until"),
        (datetime(2026, 2, 19, 8, 0), None, "since must carry a timezone"),
    ],
)
def test_windows_beyond_the_bounds_are_refused_clearly(
    since: datetime | None, until: datetime | None, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message.replace(".", r"\.")):
        trajectory_window(since, until, NOW)


def test_the_match_threshold_comes_from_the_packs_own_config(tmp_path: Path) -> None:
    (tmp_path / "pingan-face.yaml").write_text("match_threshold: 0.37\n")
    assert pack_match_threshold(tmp_path) == 0.37


def test_a_pack_without_a_known_recogniser_has_no_threshold(tmp_path: Path) -> None:
    (tmp_path / "unknown.onnx").write_bytes(b"not a model")
    assert pack_match_threshold(tmp_path) is None
    assert pack_match_threshold(tmp_path / "missing") is None


def test_the_shared_pack_is_known_by_its_recognisers_sha256(face_model_dir: Path) -> None:
    assert pack_match_threshold(face_model_dir) == 0.4

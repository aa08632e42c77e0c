"""The tracker on blob lists: objects keep their tracks; tracks end when lost or at rest."""

import numpy as np

from ingest.vision.falling.foreground import Blobs
from ingest.vision.falling.tracking import BlobTracker, TrackerParams

G = 55.0
PARAMS = TrackerParams(gravity_px=G, max_speed_px=200.0, max_side_speed_px=45.0)


def blobs(*points: tuple[float, float]) -> Blobs:
    xy = np.asarray(points, dtype=float).reshape(-1, 2)
    ones = np.full(len(xy), 4.0)
    return Blobs(xy[:, 0], xy[:, 1], ones, ones / 2, ones / 2)


def test_two_objects_falling_side_by_side_keep_their_own_tracks():
    tracker = BlobTracker(PARAMS)
    ended = []
    for i in range(40):
        t = i / 25
        _, done = tracker.update(t, blobs((100, 30 + 0.5 * G * t * t), (112, 60 + 0.5 * G * t * t)))
        ended += done
    ended += tracker.finish()
    long = [track for track in ended if len(track) >= 30]
    assert len(long) == 2
    assert all(np.ptp(track.x) < 1 for track in long)


def test_a_track_coasts_over_a_few_missed_frames():
    tracker = BlobTracker(PARAMS)
    for i in range(30):
        t = i / 25
        seen = blobs((100, 30 + 0.5 * G * t * t)) if not 10 <= i < 13 else blobs()
        tracker.update(t, seen)
    (track,) = tracker.finish()
    assert len(track) == 27


def test_a_track_lost_for_longer_ends():
    tracker = BlobTracker(PARAMS)
    ended = []
    for i in range(20):
        _, done = tracker.update(i / 25, blobs((100, 30 + i)) if i < 8 else blobs())
        ended += done
    assert [len(track) for track in ended] == [8]


def test_a_landed_object_ends_its_track_where_it_came_to_rest():
    tracker = BlobTracker(PARAMS)
    ended = []
    for i in range(90):
        t = i / 25
        y = min(30 + 0.5 * G * t * t, 150.0)
        _, done = tracker.update(t, blobs((100, y)))
        ended += done
    track = max(ended, key=len)
    landed_s = np.sqrt(2 * 120 / G)
    assert track.y[-1] > 148.5
    assert abs(track.t[-1] - landed_s) < 0.1

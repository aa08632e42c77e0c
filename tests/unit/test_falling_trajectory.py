"""The trajectory test on paths with known physics: gravity from the calibration, 25 fps."""

from dataclasses import replace

import numpy as np

from ingest.vision.falling.calibration import FacadeCalibration
from ingest.vision.falling.trajectory import Fall, NotAFall, continues_a_flight, judge, same_object

FACADE = FacadeCalibration(floors=12, roof_row=19, ground_row=221)
G = FACADE.gravity_px
FPS = 25.0
RNG = np.random.default_rng(7)


def path(x, y, seconds: float, jitter: float = 0.2) -> np.ndarray:
    t = np.arange(0, seconds, 1 / FPS)
    noise = RNG.normal(0, jitter, (2, len(t)))
    return np.column_stack([t + 10.0, x(t) + noise[0], y(t) + noise[1]])


def sill(floor: int) -> float:
    return FACADE.ground_row - floor * FACADE.storey_px + 0.75 * FACADE.storey_px


def test_a_drop_from_rest_is_a_fall_from_its_floor():
    y0 = sill(9)
    verdict = judge(path(lambda t: 150 + 0 * t, lambda t: y0 + 0.5 * G * t**2, 1.6), 4.0, FACADE)
    assert isinstance(verdict, Fall)
    assert verdict.floor == 9
    assert abs(verdict.gravity_ratio - 1.0) < 0.1
    assert abs(verdict.release_s - 10.0) < 0.1


def test_a_fall_first_seen_mid_air_is_traced_back_to_where_it_was_at_rest():
    y0 = sill(11)
    late = 0.8
    verdict = judge(
        path(lambda t: 90 + 0 * t, lambda t: y0 + 0.5 * G * (t + late) ** 2, 1.0), 4.0, FACADE
    )
    assert isinstance(verdict, Fall)
    assert abs(verdict.floor - 11) <= 1
    assert abs(verdict.release_s - (10.0 - late)) < 0.15


def test_a_toss_up_and_out_starts_at_its_window():
    y0 = sill(6)
    verdict = judge(
        path(lambda t: 200 + 8 * t, lambda t: y0 - 12 * t + 0.5 * G * t**2, 1.5), 4.0, FACADE
    )
    assert isinstance(verdict, Fall)
    assert verdict.floor == 6


def test_constant_speed_descent_is_not_a_fall():
    """Rain streaks and a gliding bird move down without accelerating."""
    verdict = judge(path(lambda t: 100 + 10 * t, lambda t: 40 + 60 * t, 2.0), 4.0, FACADE)
    assert isinstance(verdict, NotAFall)
    assert "accelerates" in verdict.reason


def test_horizontal_flight_is_not_a_fall():
    verdict = judge(
        path(lambda t: 20 + 120 * t, lambda t: 80 + 2 * np.sin(12 * t), 2.0), 9.0, FACADE
    )
    assert isinstance(verdict, NotAFall)


def test_climbing_is_not_a_fall():
    verdict = judge(path(lambda t: 200 - 40 * t, lambda t: 200 - 50 * t, 2.0), 9.0, FACADE)
    assert isinstance(verdict, NotAFall)


def test_swaying_in_place_is_not_a_fall():
    verdict = judge(
        path(lambda t: 150 + 3 * np.sin(5 * t), lambda t: 90 + 1 * np.sin(5 * t), 4.0), 9.0, FACADE
    )
    assert isinstance(verdict, NotAFall)
    assert "descends" in verdict.reason


def test_noise_strung_into_a_path_is_too_erratic():
    y0 = sill(8)
    verdict = judge(
        path(lambda t: 150 + 0 * t, lambda t: y0 + 0.5 * G * t**2, 1.2, jitter=2.0), 1.0, FACADE
    )
    assert isinstance(verdict, NotAFall)
    assert "erratic" in verdict.reason


def test_a_stray_blob_caught_before_the_object_is_left_out():
    y0 = sill(7)
    points = path(lambda t: 150 + 0 * t, lambda t: y0 + 0.5 * G * t**2, 1.4)
    points[0, 1:] = (120.0, y0 - 20.0)
    verdict = judge(points, 4.0, FACADE)
    assert isinstance(verdict, Fall)
    assert verdict.floor == 7


def test_a_handful_of_points_is_too_short_to_judge():
    verdict = judge(path(lambda t: 150 + 0 * t, lambda t: 50 + 0.5 * G * t**2, 0.16), 4.0, FACADE)
    assert isinstance(verdict, NotAFall)
    assert "too short" in verdict.reason


def test_sitting_still_then_jumping_onto_something_far_below_is_not_a_fall():
    """A blob at rest that a rain streak far below joins last is no fall."""
    points = path(lambda t: 280 + 0 * t, lambda t: 90 + 4.0 * t**2, 1.4)
    points[-1, 2] += 25.0
    verdict = judge(points, 4.0, FACADE)
    assert isinstance(verdict, NotAFall)
    assert "one jump" in verdict.reason


def _fall_from(floor: int, start: float = 0.0) -> Fall:
    y0 = sill(floor)
    points = path(lambda t: 150 + 0 * t, lambda t: y0 + 0.5 * G * (t + start) ** 2, 1.2)
    verdict = judge(points, 4.0, FACADE)
    assert isinstance(verdict, Fall)
    return verdict


def test_a_fall_that_takes_over_where_a_bird_turned_continues_a_flight():
    fall = _fall_from(8, start=0.4)
    t0, x0, y0 = fall.points[0]
    t = np.arange(-0.6, 0.0, 1 / FPS) + t0
    swoop = np.column_stack([t, x0 - 2 + 60 * (t - t0), y0 - 2 + 60 * (t - t0)])
    assert continues_a_flight(fall, swoop, G)


def test_an_earlier_piece_of_the_same_fall_or_a_resting_object_is_no_flight():
    fall = _fall_from(8, start=0.4)
    t0, x0, y0 = fall.points[0]
    t = np.arange(-0.4, 0.0, 1 / FPS) + t0
    piece = np.column_stack([t, x0 + 0 * t, y0 + 0.5 * G * ((t - t0 + 0.4) ** 2 - 0.16)])
    resting = np.column_stack([t, x0 + 0 * t, y0 - 3 + 0 * t])
    assert not continues_a_flight(fall, piece, G)
    assert not continues_a_flight(fall, resting, G)


def test_a_track_that_strayed_and_the_track_that_carried_on_are_one_object():
    """The first track's last blobs were something else off to the side (so extrapolating
    its tail fails); while both tracks were seen they were mostly in one column."""
    fall = _fall_from(9)
    strayed = fall.points[:25].copy()
    strayed[-3:, 1] += [10.0, 20.0, 30.0]
    strayed[-3:, 2] = strayed[-4, 2]
    earlier = replace(fall, points=strayed, end_s=float(strayed[-1, 0]))
    later = replace(fall, points=fall.points[18:])
    assert same_object(earlier, later, G)
    elsewhere = replace(later, points=later.points + np.array([0.0, 40.0, 0.0]))
    assert not same_object(earlier, elsewhere, G)


def test_a_path_that_holds_still_in_mid_air_is_not_a_fall():
    """A cleaner's cradle joined to a bird swooping past: a falling object never pauses."""
    y0 = sill(8)
    points = path(lambda t: 166 + 0 * t, lambda t: y0 + 0.5 * G * t**2, 1.2, jitter=0.1)
    paused = (points[:, 0] >= 10.5) & (points[:, 0] < 10.65)
    points[paused, 2] = points[paused, 2][0]
    later = points[:, 0] >= 10.65
    points[later, 2] -= points[later, 2][0] - points[paused, 2][0] - 1.0
    verdict = judge(points, 4.0, FACADE)
    assert isinstance(verdict, NotAFall)
    assert "mid-air" in verdict.reason

"""How sightings are scored against labelled drops: what counts as caught, missed, a false
alarm and a floor error (the figures the targets are asserted on)."""

import numpy as np

from ingest.vision.falling.synthetic import (
    Drop,
    Facade,
    Lighting,
    Scene,
    SceneRenderer,
    Score,
    Sighting,
    drop_path,
)

FACADE = Facade()
DROP = Drop(release_s=5.0, floor=8, column=3, size_px=2.0, shade=230)
SCENE = Scene(facade=FACADE, duration_s=30.0, seed=1, drops=(DROP,))
PATH = drop_path(DROP, FACADE)
BAY = (FACADE.right_col - FACADE.left_col) / FACADE.columns


def scored(*sightings: Sighting) -> Score:
    score = Score()
    score.add(SCENE, list(sightings))
    return score


def sighting(dx: float = 0.0, floor: int = 8, start: float = 5.0) -> Sighting:
    return Sighting(start, PATH.land_s, floor, PATH.release_x + dx)


def test_a_start_estimated_a_few_pixels_off_is_one_catch_not_a_miss_and_a_false_alarm():
    score = scored(sighting(dx=11.0))
    assert (score.caught, score.false_alarms, len(score.misses)) == (1, 0, 0)
    assert score.x_errors == [11.0]


def test_a_sighting_in_the_next_window_column_is_a_miss_and_a_false_alarm():
    score = scored(sighting(dx=0.6 * BAY))
    assert (score.caught, score.false_alarms, len(score.misses)) == (0, 1, 1)


def test_a_sighting_at_another_time_is_a_miss_and_a_false_alarm():
    score = scored(sighting(start=PATH.land_s + 1.0))
    assert (score.caught, score.false_alarms) == (0, 1)


def test_a_second_report_of_one_drop_is_a_false_alarm():
    score = scored(sighting(dx=4.0), sighting(dx=1.0))
    assert (score.caught, score.false_alarms, score.duplicates) == (1, 1, 1)
    assert score.x_errors == [1.0]


def test_the_floor_is_judged_apart_from_the_catch():
    near, far = scored(sighting(floor=9)), scored(sighting(floor=10))
    assert (near.caught, near.floor_within_one, near.floor_exact) == (1, 1, 0)
    assert (far.caught, far.floor_within_one, len(far.floor_misses)) == (1, 0, 1)


def test_false_alarms_are_counted_per_hour_of_video():
    score = scored(sighting(), Sighting(20.0, 21.0, 5, 100.0))
    assert score.false_alarms_per_hour == 120.0


def test_bright_pixels_saturate_under_a_brighter_light_instead_of_wrapping_to_black():
    scene = Scene(facade=FACADE, duration_s=2.0, seed=3, lighting=(Lighting(0.0, "step", 1.6),))
    frame = SceneRenderer(scene).frame(10).astype(np.int32)
    sky = frame[: FACADE.roof_row, :, :]
    assert sky.min() > 150

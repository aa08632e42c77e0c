"""Background subtraction on noisy frames: tiny objects found, lighting and rain not."""

import cv2
import numpy as np

from ingest.vision.falling.foreground import FacadeForeground

RNG = np.random.default_rng(3)
H, W = 240, 320


def facade() -> np.ndarray:
    wall = np.full((H, W), 128, np.float32)
    wall[20:220:20, 30:290] = 60  # window rows: strong edges
    return wall


def noisy(image: np.ndarray) -> np.ndarray:
    return np.clip(image + RNG.normal(0, 2.5, image.shape), 0, 255).astype(np.uint8)


def learnt(frames: int = 30) -> tuple[FacadeForeground, np.ndarray]:
    model = FacadeForeground()
    base = facade()
    for _ in range(frames):
        model.blobs(noisy(base))
    return model, base


def test_a_quiet_facade_yields_no_blobs():
    model, base = learnt()
    assert sum(len(model.blobs(noisy(base))) for _ in range(20)) <= 2


def test_a_two_pixel_object_is_found_where_it_is():
    model, base = learnt()
    frame = base.copy()
    frame[150:152, 200] = 230
    blobs = model.blobs(noisy(frame))
    near = np.hypot(blobs.x - 200, blobs.y - 150.5) < 2
    assert near.sum() == 1


def test_the_sun_coming_out_brightens_everything_without_blobs():
    model, base = learnt()
    brighter = base * 1.05 + 6
    assert sum(len(model.blobs(noisy(brighter))) for _ in range(5)) <= 1


def test_a_sudden_big_change_relearns_the_background_and_reports_nothing():
    model, base = learnt()
    shadowed = base.copy()
    shadowed[:, : W // 2] *= 0.6
    before = model.relearned
    assert len(model.blobs(noisy(shadowed))) == 0
    assert model.relearned == before + 1
    for _ in range(10):
        model.blobs(noisy(shadowed))
    assert len(model.blobs(noisy(shadowed))) <= 1


def test_rain_streaks_are_dropped_but_a_small_object_among_them_is_kept():
    model, base = learnt()
    frame = base.copy()
    for i in range(12):
        x = 20 + 24 * i
        cv2.line(frame, (x, 40 + 7 * i), (x + 2, 54 + 7 * i), 200, 1)
    frame[180:183, 150:153] = 230
    blobs = model.blobs(noisy(frame))
    assert model.rainy_frames == 1
    assert len(blobs) >= 1
    assert np.any(np.hypot(blobs.x - 151, blobs.y - 181) < 2)
    assert np.all(np.maximum(blobs.width, blobs.height) < 6)


def test_a_lone_streak_is_kept_as_it_may_be_a_blurred_falling_object():
    model, base = learnt()
    frame = base.copy()
    cv2.line(frame, (150, 100), (150, 112), 230, 2)
    blobs = model.blobs(noisy(frame))
    assert model.rainy_frames == 0
    assert np.any(np.hypot(blobs.x - 150.5, blobs.y - 106) < 2)

import pytest
from pydantic import ValidationError

from ingest.vision.falling.calibration import GRAVITY_MPS2, FacadeCalibration

FACADE = FacadeCalibration(
    floors=10, roof_row=100, ground_row=600, columns=5, left_col=100, right_col=600
)


def test_each_floor_owns_its_band_of_rows_counted_up_from_the_ground():
    assert FACADE.storey_px == 50
    assert FACADE.floor_at(599) == 1
    assert FACADE.floor_at(551) == 1
    assert FACADE.floor_at(549) == 2
    assert FACADE.floor_at(101) == 10


def test_rows_beyond_the_facade_clamp_to_the_top_and_bottom_floors():
    assert FACADE.floor_at(20) == 10
    assert FACADE.floor_at(700) == 1


def test_gravity_in_pixels_follows_the_storey_height():
    assert FACADE.gravity_px == pytest.approx(GRAVITY_MPS2 * 50 / 3.0)
    taller = FACADE.model_copy(update={"storey_height_m": 4.0})
    assert taller.gravity_px == pytest.approx(GRAVITY_MPS2 * 50 / 4.0)


def test_window_column_counts_bays_from_the_left_and_is_none_without_bays():
    assert FACADE.window_column_at(101) == 1
    assert FACADE.window_column_at(350) == 3
    assert FACADE.window_column_at(599) == 5
    plain = FacadeCalibration(floors=10, roof_row=100, ground_row=600)
    assert plain.window_column_at(350) is None


def test_ground_above_roof_is_rejected_with_the_rows_named():
    with pytest.raises(ValidationError, match="ground row"):
        FacadeCalibration(floors=10, roof_row=600, ground_row=100)


def test_bays_need_both_edges():
    with pytest.raises(ValidationError, match="left_col and right_col"):
        FacadeCalibration(floors=3, roof_row=0, ground_row=300, columns=4, left_col=10)


def test_a_calibration_for_a_taller_frame_does_not_fit():
    with pytest.raises(ValueError, match="below the frame"):
        FACADE.check_frame(640, 360)
    FACADE.check_frame(1280, 720)


def test_start_points_off_the_facade_are_not_windows():
    assert FACADE.on_facade(350, 300)
    assert FACADE.on_facade(350, 80)
    assert not FACADE.on_facade(350, 40)
    assert not FACADE.on_facade(-40, 300)
    assert not FACADE.on_facade(750, 300)

"""Per-camera calibration of a facade view: which pixel rows are which floor, and how many
pixels a metre is, which turns gravity into pixels/s² for the trajectory test."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

GRAVITY_MPS2 = 9.81


class FacadeCalibration(BaseModel):
    """Evenly spaced floors between the roof line and the ground line of the facade.

    Floor 1 is the storey just above `ground_row`, floor `floors` the one under `roof_row`.
    Window columns are optional: `columns` equal bays between `left_col` and `right_col`.
    """

    model_config = ConfigDict(frozen=True)

    floors: int = Field(ge=1, le=200)
    roof_row: float = Field(ge=0, description="pixel row of the roof line (top of top floor)")
    ground_row: float = Field(gt=0, description="pixel row of the ground line")
    storey_height_m: float = Field(default=3.0, gt=1.5, le=10.0)
    columns: int | None = Field(default=None, ge=1, le=100)
    left_col: float | None = Field(default=None, ge=0)
    right_col: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> FacadeCalibration:
        if self.ground_row - self.roof_row < self.floors:
            raise ValueError(
                f"ground row ({self.ground_row:g}) must be below the roof row "
                f"({self.roof_row:g}) by at least one pixel per floor ({self.floors})"
            )
        if self.columns is not None:
            if self.left_col is None or self.right_col is None:
                raise ValueError("window columns need both left_col and right_col")
            if self.right_col <= self.left_col:
                raise ValueError("right_col must be right of left_col")
        return self

    @property
    def storey_px(self) -> float:
        return (self.ground_row - self.roof_row) / self.floors

    @property
    def px_per_m(self) -> float:
        return self.storey_px / self.storey_height_m

    @property
    def gravity_px(self) -> float:
        """Free-fall acceleration in image rows per second², at the facade's distance."""
        return GRAVITY_MPS2 * self.px_per_m

    def floor_at(self, row: float) -> int:
        """The storey whose band of rows contains `row`; above the roof counts as the top."""
        storey = math.ceil((self.ground_row - row) / self.storey_px)
        return min(max(storey, 1), self.floors)

    def window_column_at(self, col: float) -> int | None:
        """The window bay counted from the facade's left, when the bays are calibrated."""
        if self.columns is None or self.left_col is None or self.right_col is None:
            return None
        bay = (self.right_col - self.left_col) / self.columns
        return min(max(math.floor((col - self.left_col) / bay) + 1, 1), self.columns)

    def on_facade(self, col: float, row: float) -> bool:
        """Whether a start point can be a window or the roof edge (half a storey, a bay off)."""
        if row < self.roof_row - 0.5 * self.storey_px or row > self.ground_row:
            return False
        if self.columns is None or self.left_col is None or self.right_col is None:
            return col >= 0
        bay = (self.right_col - self.left_col) / self.columns
        return self.left_col - bay <= col <= self.right_col + bay

    def check_frame(self, width: int, height: int) -> None:
        """A calibration made for another resolution would put every throw on a wrong floor."""
        if self.ground_row > height:
            raise ValueError(
                f"ground row {self.ground_row:g} is below the frame's last row ({height - 1})"
            )
        if self.right_col is not None and self.right_col > width:
            raise ValueError(f"right_col {self.right_col:g} is beyond the frame's width ({width})")

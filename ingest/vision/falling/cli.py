"""`pingan vision falling`: check a facade video for high-altitude throws by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from pydantic import ValidationError

from ingest.vision.falling.calibration import FacadeCalibration
from ingest.vision.falling.camera import write_snapshots
from ingest.vision.falling.scan import Scan, scan_video
from ingest.vision.falling.video import VideoError
from pingan.platform.settings import get_settings


@click.group()
def vision() -> None:
    """Pingan's own analysis of camera video."""


@vision.command()
@click.option("--video", "source", required=True, help="Video file, or a stream URL (rtsp://…).")
@click.option("--floors", type=click.IntRange(1, 200), required=True, help="Storeys in view.")
@click.option(
    "--roof-row", type=click.FloatRange(min=0), required=True, help="Pixel row of the roof line."
)
@click.option(
    "--ground-row", type=click.FloatRange(min=0), required=True, help="Pixel row of the ground."
)
@click.option("--columns", type=click.IntRange(1, 100), help="Window bays across the facade.")
@click.option("--left-col", type=click.FloatRange(min=0), help="Pixel column of the left edge.")
@click.option("--right-col", type=click.FloatRange(min=0), help="Pixel column of the right edge.")
@click.option(
    "--storey-height",
    type=click.FloatRange(1.5, 10.0),
    default=None,
    help="Metres per storey [default: PINGAN_FALLING_STOREY_HEIGHT_M].",
)
@click.option(
    "--snapshots",
    "snapshot_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write two annotated JPEGs per throw into this directory.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def falling(
    source: str,
    floors: int,
    roof_row: float,
    ground_row: float,
    columns: int | None,
    left_col: float | None,
    right_col: float | None,
    storey_height: float | None,
    snapshot_dir: Path | None,
    as_json: bool,
) -> None:
    """Objects thrown or dropped from the facade in a video: when, which floor, which column.

    Floors are evenly spaced between --roof-row and --ground-row (pixel rows of the frame).
    """
    settings = get_settings()
    try:
        calibration = FacadeCalibration(
            floors=floors,
            roof_row=roof_row,
            ground_row=ground_row,
            storey_height_m=storey_height or settings.falling_storey_height_m,
            columns=columns,
            left_col=left_col,
            right_col=right_col,
        )
    except ValidationError as exc:
        raise click.UsageError(
            "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        ) from None
    video = source if "://" in source else Path(source)
    try:
        width = settings.falling_snapshot_width if snapshot_dir else None
        scan = scan_video(video, calibration, snapshot_width=width)
    except VideoError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    sightings = _sightings(scan, snapshot_dir)
    if as_json:
        click.echo(json.dumps(sightings))
    else:
        _print_table(scan, sightings)
    if scan.error is not None:
        click.echo(f"error: {scan.error} (throws above are those found before it)", err=True)
        sys.exit(1)


def _sightings(scan: Scan, snapshot_dir: Path | None) -> list[dict]:
    rows = []
    for throw in scan.throws:
        fall = throw.fall
        row = {
            "start_s": round(fall.release_s, 2),
            "end_s": round(fall.end_s, 2),
            "floor": fall.floor,
            "x": round(fall.release_x, 1),
            "window_column": fall.window_column,
            "confidence": fall.confidence,
        }
        if snapshot_dir is not None:
            stem = f"throw-{fall.release_s:09.2f}s"
            written = write_snapshots(snapshot_dir, stem, throw.snapshots)
            row["snapshots"] = [str(path) for path in written]
        rows.append(row)
    return rows


def _print_table(scan: Scan, sightings: list[dict]) -> None:
    for s in sightings:
        window = f"  window {s['window_column']}" if s["window_column"] else ""
        click.echo(
            f"{s['start_s']:8.2f} s – {s['end_s']:8.2f} s  floor {s['floor']:3d}{window}"
            f"  x {s['x']:7.1f}  confidence {s['confidence']:.2f}"
        )
    video = scan.video
    click.echo(
        f"{len(sightings)} throw(s) in {scan.frames / video.fps:.1f} s of video "
        f"({scan.frames} frames, {video.width}×{video.height} at {video.fps:g} fps)"
    )

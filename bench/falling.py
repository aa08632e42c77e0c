"""High-altitude throw benchmark: frames/s of the detector next to raw decoding of the same
video, measured in the same run, and recall / false alarms / floor accuracy on seeded
synthetic facades (`ingest.vision.falling.synthetic`).

Throughput: one rendered 20-s facade video (MJPG .avi, drops and every distractor) per
resolution, 1280×720 and 640×360; baseline = OpenCV decoding alone (`VideoCapture.read`),
detector = decoding + background subtraction + tracking + trajectory judgement (what
`pingan vision falling` runs), both in this process with nothing else of ours running.

Quality: `--scenes` (default 120 = one hour) 30-s scenes at 320×240 from seed 4001: held
out — tuning used seeds 1–90, the test uses 101–112; 1001–1120, 2001–2120 and 3001–3120
were earlier held-out hours whose failures (a bird turning, duplicates, a jump onto a rain
streak, a cradle joined to a bird, fits over 8–9 points) were then studied and fixed, so
they no longer count as held out.
Scenes are rendered and scanned by
`--workers` processes (the figures do not depend on it). Matching rules: `Score` in
`ingest.vision.falling.synthetic`. Figures are printed and written to
bench/results/falling-<UTC timestamp>.json.

    .venv/bin/python -m bench.falling [--scenes 120] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import cv2

from ingest.vision.falling.scan import scan_video
from ingest.vision.falling.synthetic import (
    Facade,
    Scene,
    SceneRenderer,
    Score,
    Sighting,
    random_scene,
)

RESULTS = Path(__file__).parent / "results"
HELD_OUT_FROM = 4001


def decode_rate(path: Path) -> float:
    capture = cv2.VideoCapture(str(path))
    frames = 0
    started = time.perf_counter()
    while capture.read()[0]:
        frames += 1
    elapsed = time.perf_counter() - started
    capture.release()
    return frames / elapsed


def detect_rate(path: Path, facade: Facade) -> tuple[float, int]:
    started = time.perf_counter()
    scan = scan_video(path, facade.calibration)
    return scan.frames / (time.perf_counter() - started), len(scan.throws)


def throughput(folder: Path, width: int, height: int) -> dict[str, float]:
    facade = Facade(width=width, height=height)
    scene = random_scene(7, facade, duration_s=20.0, drops=3)
    path = SceneRenderer(scene).write(folder / f"facade-{width}x{height}.avi")
    decode = decode_rate(path)
    detect, throws = detect_rate(path, facade)
    figures = {
        "decode_fps": round(decode, 1),
        "detect_fps": round(detect, 1),
        "ratio": round(detect / decode, 3),
        "throws": throws,
        "drops": len(scene.drops),
    }
    print(
        f"{width}×{height}: decode only {decode:7.1f} frames/s, decode + detect {detect:7.1f} "
        f"frames/s ({detect / decode:.2f} of decoding); {throws}/{len(scene.drops)} throws found"
    )
    return figures


def sightings_of(seed: int, folder: str) -> tuple[Scene, list[Sighting]]:
    """Render one held-out scene to MJPG, scan it as the CLI does, delete the video."""
    scene = random_scene(seed)
    path = SceneRenderer(scene).write(Path(folder) / f"quality-{seed}.avi")
    scan = scan_video(path, scene.facade.calibration)
    path.unlink()
    if scan.error is not None:
        raise RuntimeError(str(scan.error))
    return scene, [
        Sighting(t.fall.release_s, t.fall.end_s, t.fall.floor, t.fall.release_x)
        for t in scan.throws
    ]


def quality(folder: Path, scenes: int, workers: int) -> dict[str, object]:
    score = Score()
    seeds = range(HELD_OUT_FROM, HELD_OUT_FROM + scenes)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for scene, sightings in pool.map(sightings_of, seeds, [str(folder)] * scenes):
            score.add(scene, sightings)
    print(f"quality, held-out seeds {seeds.start}–{seeds.stop - 1}, 320×240: {score.summary()}")
    for seed, drop in score.misses:
        print(f"  missed (seed {seed}): {drop}")
    for seed, sighting in score.unmatched:
        print(f"  false alarm (seed {seed}): {sighting}")
    for seed, drop, sighting in score.floor_misses:
        print(f"  floor off by more than one (seed {seed}): {drop} → {sighting}")
    return {
        "seeds": [seeds.start, seeds.stop - 1],
        "drops": score.drops,
        "caught": score.caught,
        "recall": round(score.recall, 4),
        "false_alarms": score.false_alarms,
        "false_alarms_per_hour": round(score.false_alarms_per_hour, 2),
        "floor_within_one": score.floor_within_one,
        "floor_within_one_share": round(score.floor_accuracy, 4),
        "floor_exact": score.floor_exact,
        "caught_by_size_px": {f"{k:g}": v for k, v in sorted(score.by_size.items())},
        "video_minutes": round(score.video_s / 60, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=120, help="30-s held-out scenes")
    parser.add_argument("--workers", type=int, default=2, help="processes for the scenes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pingan-falling-") as tmp:
        folder = Path(tmp)
        result = {
            "machine": platform.processor() or platform.machine(),
            "opencv": cv2.__version__,
            "throughput": {
                "1280x720": throughput(folder, 1280, 720),
                "640x360": throughput(folder, 640, 360),
            },
            "quality": quality(folder, args.scenes, args.workers),
        }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"falling-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()

"""Synthetic facade videos with labelled drops and distractors, for tests, the benchmark and
demos (no real footage of people's windows is needed to measure the detector).

Objects move in metres (gravity, air drag up to a terminal speed, a throw's sideways or
upward speed) and are drawn in pixels through the same calibration the detector gets,
with motion blur over half the frame time and sensor noise. Distractors: birds (crossing,
climbing, gliding down at constant speed, erratic), sideways and slow vertical movers
(window cleaners), a swaying plant, rain (many constant-velocity streaks) and lighting
changes (sun, dusk ramp, a shadow over half the facade, windows lighting up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ingest.vision.falling.calibration import GRAVITY_MPS2, FacadeCalibration

SHIFT = 4
"""Sub-pixel precision of drawing: coordinates are multiplied by 2**SHIFT."""


@dataclass(frozen=True)
class Facade:
    width: int = 320
    height: int = 240
    fps: float = 25.0
    floors: int = 12
    columns: int = 6

    @property
    def roof_row(self) -> int:
        return round(0.08 * self.height)

    @property
    def ground_row(self) -> int:
        return round(0.92 * self.height)

    @property
    def left_col(self) -> int:
        return round(0.1 * self.width)

    @property
    def right_col(self) -> int:
        return round(0.9 * self.width)

    @property
    def calibration(self) -> FacadeCalibration:
        return FacadeCalibration(
            floors=self.floors,
            roof_row=self.roof_row,
            ground_row=self.ground_row,
            columns=self.columns,
            left_col=self.left_col,
            right_col=self.right_col,
        )

    def window(self, floor: int, column: int) -> tuple[float, float, float, float]:
        """Window rectangle (x0, y0, x1, y1) of a storey and bay."""
        storey = self.calibration.storey_px
        bay = (self.right_col - self.left_col) / self.columns
        top = self.ground_row - floor * storey
        left = self.left_col + (column - 1) * bay
        return left + 0.25 * bay, top + 0.2 * storey, left + 0.75 * bay, top + 0.75 * storey


@dataclass(frozen=True)
class Drop:
    """An object leaving a window sill at `release_s`."""

    release_s: float
    floor: int
    column: int
    size_px: float
    shade: int
    offset: float = 0.0
    """Where along the sill, -1 (left edge) to 1 (right edge)."""
    side_mps: float = 0.0
    up_mps: float = 0.0
    terminal_mps: float = 50.0


@dataclass(frozen=True)
class Bird:
    start_s: float
    duration_s: float
    kind: str
    """cross | climb | glide | erratic"""
    x0: float
    y0: float
    vx: float
    vy: float
    size_px: float
    phase: float = 0.0


@dataclass(frozen=True)
class Mover:
    """A box moving at constant velocity: someone along a balcony, a window cleaner's cradle."""

    start_s: float
    duration_s: float
    x0: float
    y0: float
    vx: float
    vy: float
    w: float
    h: float
    shade: int


@dataclass(frozen=True)
class Plant:
    x: float
    y: float
    size_px: float
    amplitude_px: float
    hz: float


@dataclass(frozen=True)
class Rain:
    start_s: float
    end_s: float
    per_s: float
    """New streaks per second."""


@dataclass(frozen=True)
class Lighting:
    at_s: float
    kind: str
    """step (sun out) | ramp (dusk over `duration_s`) | shadow (half the facade) | windows"""
    gain: float = 1.0
    duration_s: float = 0.0


@dataclass(frozen=True)
class Scene:
    facade: Facade
    duration_s: float
    seed: int
    drops: tuple[Drop, ...] = ()
    birds: tuple[Bird, ...] = ()
    movers: tuple[Mover, ...] = ()
    plants: tuple[Plant, ...] = ()
    rain: tuple[Rain, ...] = ()
    lighting: tuple[Lighting, ...] = ()
    noise_sigma: float = 2.5


@dataclass(frozen=True)
class DropPath:
    """Positions of a drop from release until it reaches the ground line."""

    drop: Drop
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @property
    def release_x(self) -> float:
        return float(self.x[0])

    @property
    def land_s(self) -> float:
        return float(self.drop.release_s + self.t[-1])

    def at(self, t: float) -> tuple[float, float] | None:
        tt = t - self.drop.release_s
        if tt < 0 or tt > self.t[-1]:
            return None
        return float(np.interp(tt, self.t, self.x)), float(np.interp(tt, self.t, self.y))


def drop_path(drop: Drop, facade: Facade, step_s: float = 0.002) -> DropPath:
    """Integrate the fall in metres (gravity minus quadratic drag), sample it in pixels."""
    cal = facade.calibration
    x0, _, x1, sill = facade.window(drop.floor, drop.column)
    x = (x0 + x1) / 2 + drop.offset * (x1 - x0) / 2
    y, vy, t = sill, -drop.up_mps, 0.0
    ts, xs, ys = [0.0], [x], [y]
    while y < facade.ground_row and t < 20.0:
        drag = GRAVITY_MPS2 * vy * abs(vy) / drop.terminal_mps**2
        vy += (GRAVITY_MPS2 - drag) * step_s
        y += vy * step_s * cal.px_per_m
        x += drop.side_mps * step_s * cal.px_per_m
        t += step_s
        ts.append(t)
        xs.append(x)
        ys.append(y)
    return DropPath(drop, np.asarray(ts), np.asarray(xs), np.asarray(ys))


@dataclass
class _Streak:
    born_s: float
    x0: float
    y0: float
    vx: float
    vy: float


@dataclass
class SceneRenderer:
    """Draws frame `i` of a scene; deterministic for the scene's seed."""

    scene: Scene
    paths: list[DropPath] = field(init=False)

    def __post_init__(self) -> None:
        scene, facade = self.scene, self.scene.facade
        self._rng = np.random.default_rng(scene.seed)
        self.paths = [drop_path(d, facade) for d in scene.drops]
        self._base, self._tint, self._windows = _facade_image(facade, self._rng)
        self._streaks = [_rain(r, facade, self._rng) for r in scene.rain]
        lit_at = [light.at_s for light in scene.lighting if light.kind == "windows"]
        self._lit = [
            (at, self._windows[i])
            for at in lit_at
            for i in self._rng.choice(len(self._windows), size=4, replace=False)
        ]
        self._exposure = 0.5 / facade.fps

    @property
    def frame_count(self) -> int:
        return int(self.scene.duration_s * self.scene.facade.fps)

    def frame(self, index: int) -> np.ndarray:
        scene = self.scene
        t = index / scene.facade.fps
        luma = self._base.copy()
        for at, (x0, y0, x1, y1) in self._lit:
            if t >= at:
                luma[round(y0) : round(y1), round(x0) : round(x1)] = 205
        for plant in scene.plants:
            self._plant(luma, plant, t)
        for mover in scene.movers:
            self._mover(luma, mover, t)
        for bird in scene.birds:
            self._bird(luma, bird, t)
        for path in self.paths:
            self._drop(luma, path, t)
        for streaks in self._streaks:
            self._rain(luma, streaks, t)
        gain, offset = self._light(t)
        image = luma.astype(np.float32) * gain + offset
        self._shadow(image, t)
        image += self._rng.normal(0.0, scene.noise_sigma, size=image.shape).astype(np.float32)
        colour = image[..., None] * self._tint
        # A sensor saturates: clipped after the tint, or bright pixels would wrap to black.
        np.clip(colour, 0, 255, out=colour)
        return colour.astype(np.uint8)

    def write(self, path: Path) -> Path:
        facade = self.scene.facade
        writer = cv2.VideoWriter(
            str(path), cv2.VideoWriter_fourcc(*"MJPG"), facade.fps, (facade.width, facade.height)
        )
        if not writer.isOpened():
            raise OSError(f"cannot write {path}")
        try:
            for i in range(self.frame_count):
                writer.write(self.frame(i))
        finally:
            writer.release()
        return path

    def _drop(self, luma: np.ndarray, path: DropPath, t: float) -> None:
        end = path.at(t)
        if end is None:
            return
        start = path.at(max(path.drop.release_s, t - self._exposure)) or end
        _line(luma, start, end, path.drop.shade, path.drop.size_px)

    def _bird(self, luma: np.ndarray, bird: Bird, t: float) -> None:
        tt = t - bird.start_s
        if not 0 <= tt <= bird.duration_s:
            return
        x, y = _bird_position(bird, tt)
        wings_up = math.sin(2 * math.pi * 7 * tt + bird.phase) > 0
        axes = (bird.size_px, bird.size_px * 0.35) if wings_up else (bird.size_px * 0.6,) * 2
        cv2.ellipse(
            luma,
            (round(x * 16), round(y * 16)),
            (max(1, round(axes[0] * 8)), max(1, round(axes[1] * 8))),
            0, 0, 360, 35, -1, cv2.LINE_AA, SHIFT,
        )  # fmt: skip

    def _mover(self, luma: np.ndarray, mover: Mover, t: float) -> None:
        tt = t - mover.start_s
        if not 0 <= tt <= mover.duration_s:
            return
        x, y = mover.x0 + mover.vx * tt, mover.y0 + mover.vy * tt
        corner = (round((x - mover.w / 2) * 16), round((y - mover.h / 2) * 16))
        far = (round((x + mover.w / 2) * 16), round((y + mover.h / 2) * 16))
        cv2.rectangle(luma, corner, far, mover.shade, -1, cv2.LINE_AA, SHIFT)

    def _plant(self, luma: np.ndarray, plant: Plant, t: float) -> None:
        swing = math.sin(2 * math.pi * plant.hz * t)
        centre = (plant.x + plant.amplitude_px * swing, plant.y + 0.3 * plant.amplitude_px * swing)
        axes = (round(plant.size_px * 8), round(plant.size_px * 12))
        centre16 = (round(centre[0] * 16), round(centre[1] * 16))
        cv2.ellipse(luma, centre16, axes, 15 * swing, 0, 360, 70, -1, cv2.LINE_AA, SHIFT)

    def _rain(self, luma: np.ndarray, streaks: list[_Streak], t: float) -> None:
        for s in streaks:
            tt = t - s.born_s
            if tt < 0 or tt > 2.0:
                continue
            end = (s.x0 + s.vx * tt, s.y0 + s.vy * tt)
            begin = (end[0] - s.vx * self._exposure, end[1] - s.vy * self._exposure)
            _line(luma, begin, end, 195, 1)

    def _light(self, t: float) -> tuple[float, float]:
        gain = 1.0
        for light in self.scene.lighting:
            if t < light.at_s:
                continue
            if light.kind == "step":
                gain *= light.gain
            elif light.kind == "ramp":
                done = min(1.0, (t - light.at_s) / max(light.duration_s, 1e-6))
                gain *= 1.0 + (light.gain - 1.0) * done
        return gain, 0.0

    def _shadow(self, image: np.ndarray, t: float) -> None:
        for light in self.scene.lighting:
            if light.kind == "shadow" and t >= light.at_s:
                image[:, : image.shape[1] // 2] *= light.gain


def _line(
    luma: np.ndarray, start: tuple[float, float], end: tuple[float, float], shade: int, size: float
) -> None:
    p0 = (round(start[0] * 16), round(start[1] * 16))
    p1 = (round(end[0] * 16), round(end[1] * 16))
    cv2.line(luma, p0, p1, int(shade), max(1, round(size)), cv2.LINE_AA, SHIFT)


def _bird_position(bird: Bird, tt: float) -> tuple[float, float]:
    if bird.kind == "erratic":
        x = bird.x0 + bird.vx * (math.sin(1.3 * tt + bird.phase) + 0.6 * math.sin(3.1 * tt))
        y = bird.y0 + bird.vy * (math.sin(1.7 * tt + 2 * bird.phase) + 0.5 * math.sin(2.9 * tt))
        return x, y
    bob = 2.0 * math.sin(2 * math.pi * 2 * tt + bird.phase) if bird.kind == "cross" else 0.0
    return bird.x0 + bird.vx * tt, bird.y0 + bird.vy * tt + bob


def _facade_image(
    facade: Facade, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float, float, float]]]:
    """Sky, a textured wall with a grid of windows (some lit), the ground; and a colour tint."""
    h, w = facade.height, facade.width
    rows = np.arange(h, dtype=np.float32)[:, None]
    luma = np.broadcast_to(185 - 25 * rows / h, (h, w)).copy()
    tint = np.empty((h, w, 3), np.float32)
    tint[:] = (1.08, 1.0, 0.9)
    texture = cv2.GaussianBlur(rng.normal(0, 10, (h, w)).astype(np.float32), (0, 0), 2.0)
    wall = (slice(facade.roof_row, facade.ground_row), slice(facade.left_col, facade.right_col))
    luma[wall] = 128 + texture[wall]
    tint[wall] = (0.88, 0.98, 1.08)
    windows = [
        facade.window(floor, column)
        for floor in range(1, facade.floors + 1)
        for column in range(1, facade.columns + 1)
    ]
    for x0, y0, x1, y1 in windows:
        value = 205 if rng.random() < 0.12 else rng.uniform(40, 70)
        luma[round(y0) : round(y1), round(x0) : round(x1)] = value
    luma[facade.ground_row :, :] = 85 + texture[facade.ground_row :, :]
    return np.clip(luma, 0, 255).astype(np.uint8), tint, windows


def _rain(rain: Rain, facade: Facade, rng: np.random.Generator) -> list[_Streak]:
    count = rng.poisson(rain.per_s * (rain.end_s - rain.start_s))
    born = np.sort(rng.uniform(rain.start_s, rain.end_s, count))
    speed = rng.uniform(1.5, 3.0, count) * facade.height
    return [
        _Streak(
            born_s=float(b),
            x0=float(rng.uniform(-0.1, 1.0) * facade.width),
            y0=float(rng.uniform(-0.1, 0.7) * facade.height),
            vx=float(0.15 * v),
            vy=float(v),
        )
        for b, v in zip(born, speed, strict=True)
    ]


def random_scene(
    seed: int,
    facade: Facade | None = None,
    duration_s: float = 30.0,
    drops: int = 4,
    distractors: bool = True,
) -> Scene:
    """A scene with `drops` labelled drops and, unless told otherwise, every kind of distractor.

    Drops avoid rain and sudden lighting changes (during those the detector re-learns or
    rejects, by design), and are at least 3 s apart.
    """
    facade = facade or Facade()
    rng = np.random.default_rng(seed)
    lighting = _random_lighting(rng, duration_s) if distractors else ()
    rain = _random_rain(rng, duration_s) if distractors else ()
    quiet = [(light.at_s - 1.5, light.at_s + 1.5) for light in lighting if light.kind != "ramp"]
    quiet += [(r.start_s - 4.0, r.end_s + 1.0) for r in rain]
    times: list[float] = []
    for _ in range(500):
        if len(times) == drops:
            break
        at = float(rng.uniform(2.0, duration_s - 4.0))
        if all(abs(at - other) >= 3.0 for other in times) and not any(
            lo <= at <= hi for lo, hi in quiet
        ):
            times.append(at)
    return Scene(
        facade=facade,
        duration_s=duration_s,
        seed=seed,
        drops=tuple(_random_drop(rng, facade, at) for at in sorted(times)),
        birds=_random_birds(rng, facade, duration_s) if distractors else (),
        movers=_random_movers(rng, facade, duration_s) if distractors else (),
        plants=(_random_plant(rng, facade),) if distractors else (),
        rain=rain,
        lighting=lighting,
    )


def _random_drop(rng: np.random.Generator, facade: Facade, at: float) -> Drop:
    """Floors 2 to the top. A first-floor sill is a quarter storey (under a metre, 4 px here)
    above the ground line: that fall is over in 0.4 s and shorter than the 0.75 storey of
    descent the trajectory test needs (`FallParams.min_drop_storeys`) to tell a fall from a
    hand putting something down, and it is no high-altitude throw."""
    scale = facade.height / 240
    light = rng.random() < 0.2
    return Drop(
        release_s=at,
        floor=int(rng.integers(2, facade.floors + 1)),
        column=int(rng.integers(1, facade.columns + 1)),
        size_px=float(rng.choice([2.0, 2.0, 3.0, 3.0, 4.0, 6.0, 8.0])) * scale,
        shade=int(rng.uniform(205, 240) if rng.random() < 0.6 else rng.uniform(15, 35)),
        offset=float(rng.uniform(-0.8, 0.8)),
        side_mps=float(rng.uniform(-2.5, 2.5)) if rng.random() < 0.4 else 0.0,
        up_mps=float(rng.uniform(0.5, 3.0)) if rng.random() < 0.3 else 0.0,
        terminal_mps=float(rng.uniform(12, 18) if light else rng.uniform(25, 60)),
    )


def _random_birds(rng: np.random.Generator, facade: Facade, duration_s: float) -> tuple[Bird, ...]:
    scale = facade.height / 240
    birds = []
    for kind in ("cross", "climb", "glide", "erratic"):
        start = float(rng.uniform(0.5, duration_s - 6))
        side = float(rng.choice([-1.0, 1.0]))
        speed = {"cross": (60, 150), "climb": (30, 80), "glide": (30, 80), "erratic": (40, 70)}
        vx = side * float(rng.uniform(*speed[kind])) * scale
        vy = {
            "cross": 0.0,
            "climb": -float(rng.uniform(30, 80)),
            "glide": float(rng.uniform(15, 50)),
            "erratic": float(rng.uniform(25, 45)),
        }[kind] * scale
        x0 = facade.width * (0.5 if kind == "erratic" else (0.0 if side > 0 else 1.0))
        y0 = float(rng.uniform(0.15, 0.55 if kind != "climb" else 0.85)) * facade.height
        birds.append(
            Bird(start, 6.0, kind, x0, y0, vx, vy, float(rng.uniform(2.5, 4.5)) * scale,
                 float(rng.uniform(0, 2 * math.pi)))
        )  # fmt: skip
    return tuple(birds)


def _random_movers(
    rng: np.random.Generator, facade: Facade, duration_s: float
) -> tuple[Mover, ...]:
    scale = facade.height / 240
    storey = facade.calibration.storey_px
    balcony = facade.ground_row - int(rng.integers(2, facade.floors)) * storey + 0.8 * storey
    walker = Mover(
        start_s=float(rng.uniform(0, duration_s / 2)),
        duration_s=duration_s / 2,
        x0=facade.left_col,
        y0=balcony,
        vx=float(rng.uniform(15, 40)) * scale,
        vy=0.0,
        w=4 * scale,
        h=9 * scale,
        shade=60,
    )
    cradle = Mover(
        start_s=0.0,
        duration_s=duration_s,
        x0=float(rng.uniform(facade.left_col, facade.right_col)),
        y0=facade.roof_row + 2 * storey,
        vx=0.0,
        vy=0.3 * facade.calibration.px_per_m,
        w=16 * scale,
        h=4 * scale,
        shade=95,
    )
    return walker, cradle


def _random_plant(rng: np.random.Generator, facade: Facade) -> Plant:
    storey = facade.calibration.storey_px
    floor = int(rng.integers(2, facade.floors))
    return Plant(
        x=float(rng.uniform(facade.left_col, facade.right_col)),
        y=facade.ground_row - floor * storey + 0.7 * storey,
        size_px=3.0 * facade.height / 240,
        amplitude_px=3.0 * facade.height / 240,
        hz=float(rng.uniform(0.5, 1.5)),
    )


def _random_rain(rng: np.random.Generator, duration_s: float) -> tuple[Rain, ...]:
    if rng.random() < 0.5:
        return ()
    start = float(rng.uniform(2.0, duration_s - 10.0))
    return (Rain(start, start + float(rng.uniform(5.0, 8.0)), float(rng.uniform(40, 90))),)


def _random_lighting(rng: np.random.Generator, duration_s: float) -> tuple[Lighting, ...]:
    kinds = rng.choice(["step", "ramp", "shadow", "windows"], size=2, replace=False)
    changes = []
    for kind in kinds:
        at = float(rng.uniform(3.0, duration_s - 3.0))
        gain = {"step": rng.uniform(1.15, 1.35), "ramp": rng.uniform(0.6, 0.8)}
        changes.append(
            Lighting(
                at_s=at,
                kind=str(kind),
                gain=float(gain.get(str(kind), rng.uniform(0.6, 0.75))),
                duration_s=8.0 if kind == "ramp" else 0.0,
            )
        )
    return tuple(sorted(changes, key=lambda light: light.at_s))


@dataclass(frozen=True)
class Sighting:
    """What the detector reported, as the CLI prints it."""

    start_s: float
    end_s: float
    floor: int
    x: float


@dataclass
class Score:
    """Recall, false alarms and floor accuracy of sightings against labelled drops.

    A sighting is the report of a drop when its time span overlaps the fall (release to
    landing, ±`TIME_SLACK_S`) and its column is within half a window bay of where the drop
    left the facade: that is what an officer acts on (which window column, when), and a start
    estimated a few pixels off is still the right incident, not a miss plus a false alarm.
    The floor is judged separately (±1 and exact), and the position and time errors of the
    matches are kept, so an estimate that drifts shows in the figures instead of hiding
    behind the tolerance. Each drop takes at most one sighting (the nearest in column); any
    other sighting is a false alarm, including a second report of a caught drop.
    """

    TIME_SLACK_S = 0.3

    drops: int = 0
    caught: int = 0
    false_alarms: int = 0
    duplicates: int = 0
    """False alarms that were a second report of a caught drop (counted in `false_alarms`)."""
    floor_within_one: int = 0
    floor_exact: int = 0
    video_s: float = 0.0
    x_errors: list[float] = field(default_factory=list)
    start_errors: list[float] = field(default_factory=list)
    misses: list[tuple[int, Drop]] = field(default_factory=list)
    unmatched: list[tuple[int, Sighting]] = field(default_factory=list)
    floor_misses: list[tuple[int, Drop, Sighting]] = field(default_factory=list)
    by_size: dict[float, list[int]] = field(default_factory=dict)
    """Object size in px → [drops, caught]: the tiny ones are the hard ones."""

    @property
    def recall(self) -> float:
        return self.caught / self.drops if self.drops else 1.0

    @property
    def false_alarms_per_hour(self) -> float:
        return self.false_alarms / (self.video_s / 3600.0) if self.video_s else 0.0

    @property
    def floor_accuracy(self) -> float:
        """Share of caught drops placed within one floor of the true one."""
        return self.floor_within_one / self.caught if self.caught else 0.0

    def add(self, scene: Scene, sightings: list[Sighting]) -> None:
        facade = scene.facade
        half_bay = 0.5 * (facade.right_col - facade.left_col) / facade.columns
        left = list(sightings)
        self.video_s += scene.duration_s
        caught: list[DropPath] = []
        for path in (drop_path(d, facade) for d in scene.drops):
            self.drops += 1
            tally = self.by_size.setdefault(path.drop.size_px, [0, 0])
            tally[0] += 1
            near = [s for s in left if _reports(s, path, half_bay, self.TIME_SLACK_S)]
            if not near:
                self.misses.append((scene.seed, path.drop))
                continue
            match = min(near, key=lambda s: abs(s.x - path.release_x))
            left.remove(match)
            caught.append(path)
            self.caught += 1
            tally[1] += 1
            self.x_errors.append(abs(match.x - path.release_x))
            self.start_errors.append(abs(match.start_s - path.drop.release_s))
            self.floor_within_one += abs(match.floor - path.drop.floor) <= 1
            self.floor_exact += match.floor == path.drop.floor
            if abs(match.floor - path.drop.floor) > 1:
                self.floor_misses.append((scene.seed, path.drop, match))
        self.false_alarms += len(left)
        self.duplicates += sum(
            any(_reports(s, path, half_bay, self.TIME_SLACK_S) for path in caught) for s in left
        )
        self.unmatched.extend((scene.seed, s) for s in left)

    def summary(self) -> str:
        """One paragraph of figures with their counts, for tests and the benchmark."""
        x_err = sorted(self.x_errors) or [0.0]
        t_err = sorted(self.start_errors) or [0.0]
        return (
            f"{self.drops} drops in {self.video_s / 60:.1f} min of video: "
            f"recall {self.recall:.3f} ({self.caught}/{self.drops}), "
            f"false alarms {self.false_alarms} = {self.false_alarms_per_hour:.2f}/h "
            f"({self.duplicates} of them second reports of a caught drop), "
            f"floor within ±1 {self.floor_accuracy:.3f} ({self.floor_within_one}/{self.caught}), "
            f"exact {self.floor_exact}/{self.caught}; matched column error median "
            f"{x_err[len(x_err) // 2]:.1f} px, max {x_err[-1]:.1f} px; start time error "
            f"median {t_err[len(t_err) // 2]:.2f} s, max {t_err[-1]:.2f} s; caught by size "
            + ", ".join(f"{size:g} px {c}/{n}" for size, (n, c) in sorted(self.by_size.items()))
        )


def _reports(sighting: Sighting, path: DropPath, half_bay: float, slack_s: float) -> bool:
    """Whether a sighting overlaps the drop's fall in time and starts in its column."""
    return (
        sighting.start_s <= path.land_s + slack_s
        and sighting.end_s >= path.drop.release_s - slack_s
        and abs(sighting.x - path.release_x) <= half_bay
    )

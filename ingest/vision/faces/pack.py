"""The face model pack: a directory with one detector and one recogniser, and its config.

Models are told apart by what `insightface.model_zoo.get_model` makes of them (SCRFD,
ArcFaceONNX), never by file name, so any SCRFD/ArcFace-style pair can replace another
without code changes. The match threshold belongs to the recogniser, so it is read from
the pack: its own `pingan-face.yaml`, else the repo's entry for the recogniser's sha256
(`known_packs.yaml`, for read-only packs such as ../shared/models/face).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

import onnxruntime
import yaml
from insightface.model_zoo import get_model
from insightface.model_zoo.arcface_onnx import ArcFaceONNX
from insightface.model_zoo.scrfd import SCRFD
from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

M = TypeVar("M")
PACK_CONFIG = "pingan-face.yaml"
KNOWN_PACKS = Path(__file__).with_name("known_packs.yaml")

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class PackError(RuntimeError):
    """The model directory cannot be used; the message says what to change."""


class PackConfig(BaseModel):
    """What a recogniser and detector need to be used well; only the threshold is mandatory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    match_threshold: Annotated[float, Field(gt=0.0, lt=1.0)]
    """Cosine similarity at which a face is the enrolled person."""
    det_size: Annotated[int, Field(ge=64, multiple_of=32)] = 640
    """Longest side of the detector input; larger images are scaled down to it."""
    det_threshold: Fraction = 0.5
    min_face_px: Annotated[int, Field(ge=8)] = 40
    """Faces whose shorter box side is smaller are not analysed."""
    good_face_px: Annotated[int, Field(ge=16)] = 112
    """Box side from which size no longer lowers quality (the recogniser's input)."""
    sharp_laplacian_var: Annotated[float, Field(gt=0)] = 120.0
    """Laplacian variance of the aligned grey crop at which a face counts as fully sharp."""
    max_yaw: Annotated[float, Field(gt=0)] = 0.9
    """Nose offset from the eyes' middle, in half inter-ocular distances, at which pose
    quality reaches 0 (a profile)."""
    min_quality: Fraction = 0.5
    """Captures below this quality are not published; enrolment photos must reach it."""


@dataclass(frozen=True)
class ModelPack:
    directory: Path
    detector: SCRFD
    recogniser: ArcFaceONNX
    config: PackConfig
    model_id: str
    """sha256 of the recogniser file: embeddings of different recognisers never meet."""

    @property
    def dims(self) -> int:
        return int(self.recogniser.output_shape[-1])

    @property
    def recogniser_batches(self) -> bool:
        """Whether the recogniser takes more than one face per run (its batch axis is free)."""
        return not isinstance(self.recogniser.input_shape[0], int)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def session_options(threads: int) -> onnxruntime.SessionOptions:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return options


def load_pack(directory: Path, threads: int = 2) -> ModelPack:
    """Load the pack's detector and recogniser on the CPU, with its config."""
    directory = directory.expanduser().resolve()
    if not directory.is_dir():
        raise PackError(
            f"face model directory {directory} does not exist; set PINGAN_FACE_MODEL_DIR to a "
            "directory with an SCRFD detector and an ArcFace-style recogniser (.onnx)"
        )
    detectors: list[tuple[Path, SCRFD]] = []
    recognisers: list[tuple[Path, ArcFaceONNX]] = []
    for path in sorted(directory.glob("*.onnx")):
        model = _model(path, threads)
        if isinstance(model, SCRFD):
            detectors.append((path, model))
        elif isinstance(model, ArcFaceONNX):
            recognisers.append((path, model))
        else:
            log.info("face pack: ignoring %s (%s)", path.name, type(model).__name__)
    _, detector = _one("SCRFD face detector", detectors, directory)
    recogniser_path, recogniser = _one("ArcFace-style recogniser", recognisers, directory)
    model_id = file_sha256(recogniser_path)
    config = pack_config(directory, model_id, recogniser_path.name)
    return ModelPack(directory, detector, recogniser, config, model_id)


def _model(path: Path, threads: int) -> object:
    try:
        return get_model(
            str(path), providers=["CPUExecutionProvider"], sess_options=session_options(threads)
        )
    except Exception as exc:  # onnxruntime raises its own types for a broken file
        raise PackError(f"cannot load {path}: {exc}") from None


def _one(what: str, found: list[tuple[Path, M]], directory: Path) -> tuple[Path, M]:
    if len(found) != 1:
        names = ", ".join(p.name for p, _ in found) or "none"
        raise PackError(f"{directory} must hold exactly one {what} (.onnx), found: {names}")
    return found[0]


def pack_config(directory: Path, model_id: str, recogniser_name: str) -> PackConfig:
    """The pack's own config file, else the repo's known config for this recogniser."""
    own = directory / PACK_CONFIG
    if own.exists():
        return _parse(yaml.safe_load(own.read_text(encoding="utf-8")), str(own))
    known = yaml.safe_load(KNOWN_PACKS.read_text(encoding="utf-8"))["packs"]
    if model_id in known:
        return _parse(known[model_id], f"{KNOWN_PACKS.name} entry {model_id[:12]}…")
    raise PackError(
        f"no config for the face model pack in {directory}: add {PACK_CONFIG} to it (at least "
        f"`match_threshold: <cosine>`), or, if the directory is read-only, an entry for "
        f"{recogniser_name} (sha256 {model_id}) to {KNOWN_PACKS}"
    )


def _parse(data: object, source: str) -> PackConfig:
    try:
        return PackConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(config)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise PackError(f"invalid face pack config in {source}: {problems}") from None

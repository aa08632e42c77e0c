"""The face model pack: a directory with one detector and one recogniser, and its config.

Models are told apart by what `insightface.model_zoo.get_model` makes of them (SCRFD,
ArcFaceONNX), never by file name, so any SCRFD/ArcFace-style pair can replace another
without code changes. The match threshold belongs to the recogniser, so it is read from
the pack's config (`pingan/platform/face_pack.py`, which the API reads too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import onnxruntime
from insightface.model_zoo import get_model
from insightface.model_zoo.arcface_onnx import ArcFaceONNX
from insightface.model_zoo.scrfd import SCRFD

from pingan.platform.face_pack import PackConfig, PackError, file_sha256, pack_config

log = logging.getLogger(__name__)

M = TypeVar("M")


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

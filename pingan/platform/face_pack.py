"""The face model pack's config, read without loading its models: the face pipeline matches
with it, and the API's face searches use the same threshold, so it lives below both.

The match threshold belongs to the recogniser, so it is read from the pack: its own
`pingan-face.yaml`, else the repo's entry for the recogniser's sha256 (`known_packs.yaml`,
for read-only packs such as ../shared/models/face).
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


@cache
def pack_match_threshold(directory: Path) -> float | None:
    """From the pack's config without loading its models: its own `pingan-face.yaml`, else
    the known entry for whichever of its .onnx files is a known recogniser."""
    try:
        if (directory / PACK_CONFIG).exists():
            return pack_config(directory, "", "").match_threshold
        for model in sorted(directory.glob("*.onnx")):
            try:
                return pack_config(directory, file_sha256(model), model.name).match_threshold
            except PackError:
                continue
    except (OSError, PackError) as exc:
        log.error("cannot read the face model pack's match threshold in %s: %s", directory, exc)
        return None
    log.error("no config for the face model pack in %s: no match threshold", directory)
    return None

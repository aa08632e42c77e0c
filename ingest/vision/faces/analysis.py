"""Image → faces: detect, align (insightface `norm_crop`), score quality, embed in batches.

The detector runs once per image (SCRFD exports have a fixed batch of 1) at an input just
large enough for the image, capped at the pack's `det_size`: a 200-px door-camera crop is
not scaled up to 640×640, which is what makes door crops fast. The recogniser runs on
many aligned faces at once when its batch axis is free (buffalo_l), else one by one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from insightface.utils import face_align

from ingest.vision.faces.pack import ModelPack
from ingest.vision.faces.quality import Quality, face_quality

warnings.filterwarnings("ignore", message=r"`estimate` is deprecated", category=FutureWarning)
"""insightface's norm_crop calls scikit-image's deprecated `estimate`; the result is the same."""

EMBED_BATCH = 32
DETECTOR_STRIDE = 32


@dataclass(frozen=True)
class DetectedFace:
    box: np.ndarray
    """x1, y1, x2, y2 in image pixels."""
    keypoints: np.ndarray
    """5 × 2: eyes, nose, mouth corners."""
    det_score: float
    aligned: np.ndarray
    """The recogniser's input: the face warped onto the canonical 5-point template."""
    quality: Quality


@dataclass(frozen=True)
class AnalysedFace:
    face: DetectedFace
    embedding: np.ndarray
    """L2-normalised, float32."""


def detector_input(height: int, width: int, det_size: int) -> tuple[int, int]:
    """(width, height) of the detector input: the image scaled down to fit `det_size`,
    rounded up to the detector's stride."""
    scale = min(1.0, det_size / max(height, width))

    def fit(side: int) -> int:
        return max(DETECTOR_STRIDE, math.ceil(side * scale / DETECTOR_STRIDE) * DETECTOR_STRIDE)

    return fit(width), fit(height)


class FaceAnalyser:
    """The pack's models behind one small API. Holds no state of its own, so several model
    threads may call it at once (onnxruntime sessions run concurrently)."""

    def __init__(self, pack: ModelPack) -> None:
        self.pack = pack
        self.config = pack.config
        self._align_size = int(pack.recogniser.input_size[0])

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        """Faces of at least the pack's minimum size, largest first, with their quality."""
        height, width = image.shape[:2]
        boxes, keypoints = self.pack.detector.detect(
            image,
            input_size=detector_input(height, width, self.config.det_size),
            det_thresh=self.config.det_threshold,
        )
        if keypoints is None:
            raise RuntimeError("the face detector gives no keypoints, which alignment needs")
        faces = []
        for row, points in zip(boxes, keypoints, strict=True):
            box = row[:4].astype(np.float32)
            if min(box[2] - box[0], box[3] - box[1]) < self.config.min_face_px:
                continue
            aligned = face_align.norm_crop(image, landmark=points, image_size=self._align_size)
            quality = face_quality(box, points, float(row[4]), aligned, self.config)
            faces.append(
                DetectedFace(box, points.astype(np.float32), float(row[4]), aligned, quality)
            )
        faces.sort(key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        return faces

    def embed(self, faces: Sequence[DetectedFace]) -> list[AnalysedFace]:
        if not faces:
            return []
        vectors = self.embed_aligned([f.aligned for f in faces])
        return [AnalysedFace(f, v) for f, v in zip(faces, vectors, strict=True)]

    def embed_aligned(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Normalised embeddings (n × dims) of aligned crops, in batches where possible."""
        recogniser = self.pack.recogniser
        batch = EMBED_BATCH if self.pack.recogniser_batches else 1
        parts = [
            recogniser.get_feat(list(crops[i : i + batch])) for i in range(0, len(crops), batch)
        ]
        vectors = np.concatenate(parts).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def analyse(self, image: np.ndarray) -> list[AnalysedFace]:
        return self.embed(self.detect(image))

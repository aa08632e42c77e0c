"""How usable a detected face is for recognition: size, sharpness, pose and detector score.

Each part is a factor in 0..1; the quality is their geometric mean, so one poor part
lowers it clearly without a single mediocre part sinking an otherwise good face. The
tracker keeps the best-quality frame of a face, and captures below the pack's
`min_quality` are not published.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pingan.platform.face_pack import PackConfig

FRONTAL_PITCH = 0.55
PITCH_SLACK = 0.15
"""Frontal faces put the nose 0.4–0.7 of the way from eyes to mouth (measured on the sample
photos); only beyond that does a raised or lowered head cost pose quality."""


@dataclass(frozen=True)
class Quality:
    score: float
    size: float
    sharpness: float
    pose: float
    detector: float


def size_factor(box: np.ndarray, config: PackConfig) -> float:
    """0 at the minimum face size, 1 from the recogniser's input size up."""
    side = float(min(box[2] - box[0], box[3] - box[1]))
    span = max(config.good_face_px - config.min_face_px, 1)
    return float(np.clip((side - config.min_face_px) / span, 0.0, 1.0))


def sharpness_factor(aligned: np.ndarray, config: PackConfig) -> float:
    """Variance of the Laplacian of the aligned crop: low when blurred or out of focus."""
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)
    variance = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    return float(min(1.0, variance / config.sharp_laplacian_var))


def yaw_ratio(keypoints: np.ndarray) -> float:
    """Nose offset from the eyes' middle across the face, in half inter-ocular distances,
    measured along the eye line (so a tilted head is not mistaken for a turned one)."""
    left_eye, right_eye, nose = keypoints[0], keypoints[1], keypoints[2]
    across = right_eye - left_eye
    distance = float(np.linalg.norm(across))
    if distance < 1e-6:
        return float("inf")
    offset = float(np.dot(nose - (left_eye + right_eye) / 2, across / distance))
    return offset / (distance / 2)


def pitch_ratio(keypoints: np.ndarray) -> float:
    """Where the nose sits between the eye line (0) and the mouth line (1); 0.4–0.7 frontal."""
    eyes = (keypoints[0] + keypoints[1]) / 2
    mouth = (keypoints[3] + keypoints[4]) / 2
    down = mouth - eyes
    length = float(np.linalg.norm(down))
    if length < 1e-6:
        return float("inf")
    return float(np.dot(keypoints[2] - eyes, down / length)) / length


def pose_factor(keypoints: np.ndarray, config: PackConfig) -> float:
    yaw = 1.0 - abs(yaw_ratio(keypoints)) / config.max_yaw
    pitch = 1.0 - max(0.0, abs(pitch_ratio(keypoints) - FRONTAL_PITCH) - PITCH_SLACK) / 0.35
    return float(np.clip(min(yaw, pitch), 0.0, 1.0))


def face_quality(
    box: np.ndarray,
    keypoints: np.ndarray,
    det_score: float,
    aligned: np.ndarray,
    config: PackConfig,
) -> Quality:
    size = size_factor(box, config)
    sharpness = sharpness_factor(aligned, config)
    pose = pose_factor(keypoints, config)
    detector = float(np.clip(det_score, 0.0, 1.0))
    score = float(np.prod([size, sharpness, pose, detector]) ** 0.25)
    return Quality(score, size, sharpness, pose, detector)

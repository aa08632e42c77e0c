"""Pure logic of the face pipeline: pack configs, detector sizing, pose, gallery, tracking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from ingest.vision.faces.analysis import AnalysedFace, DetectedFace, detector_input
from ingest.vision.faces.gallery import Gallery
from ingest.vision.faces.quality import Quality, pitch_ratio, pose_factor, yaw_ratio
from ingest.vision.faces.tracking import FaceTracker, iou
from pingan.platform.face_pack import PACK_CONFIG, PackConfig, PackError, pack_config
from schemas.faces import ResidentFace, gallery_key

SHARED_RECOGNISER = "e72a5710cce378dc46472b6b845cb90647634f2738d8c3e581735cf195b9866f"
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
FRONTAL = np.array([[40, 50], [72, 50], [56, 66], [44, 84], [68, 84]], dtype=np.float32)


def test_known_pack_config_is_found_by_the_recogniser_sha(tmp_path: Path) -> None:
    config = pack_config(tmp_path, SHARED_RECOGNISER, "mobilefacenet_128.onnx")
    assert config.match_threshold == 0.4


def test_a_packs_own_config_wins_over_the_known_one(tmp_path: Path) -> None:
    (tmp_path / PACK_CONFIG).write_text("match_threshold: 0.55\ndet_size: 320\n")
    config = pack_config(tmp_path, SHARED_RECOGNISER, "mobilefacenet_128.onnx")
    assert (config.match_threshold, config.det_size) == (0.55, 320)


def test_unknown_pack_without_config_names_what_to_add(tmp_path: Path) -> None:
    with pytest.raises(PackError) as error:
        pack_config(tmp_path, "ab" * 32, "new_recogniser.onnx")
    message = str(error.value)
    assert PACK_CONFIG in message and "match_threshold" in message
    assert "new_recogniser.onnx" in message and "ab" * 32 in message


def test_invalid_pack_config_names_the_field(tmp_path: Path) -> None:
    (tmp_path / PACK_CONFIG).write_text("match_threshold: 1.5\nthreshhold: 0.3\n")
    with pytest.raises(PackError) as error:
        pack_config(tmp_path, SHARED_RECOGNISER, "r.onnx")
    assert "match_threshold" in str(error.value) and "threshhold" in str(error.value)


def test_detector_input_fits_small_crops_and_caps_large_frames() -> None:
    assert detector_input(200, 180, 640) == (192, 224)
    assert detector_input(1080, 1920, 640) == (640, 384)
    assert detector_input(20, 20, 640) == (32, 32)


def test_frontal_face_has_full_pose_and_a_turned_one_less() -> None:
    config = PackConfig(match_threshold=0.4)
    turned = FRONTAL.copy()
    turned[2, 0] += 12  # nose towards the right eye: head turned
    assert abs(yaw_ratio(FRONTAL)) < 0.01 and 0.4 < pitch_ratio(FRONTAL) < 0.7
    assert pose_factor(FRONTAL, config) == 1.0
    assert pose_factor(turned, config) < 0.5


def test_tilted_frontal_face_is_not_mistaken_for_a_turned_one() -> None:
    angle = np.radians(25)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tilted = (FRONTAL - FRONTAL.mean(axis=0)) @ rotation.T + 60
    assert abs(yaw_ratio(tilted)) < 0.01


def _unit(seed: int, dims: int = 128) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dims).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _enrolled(person: str, vector: np.ndarray, model_id: str = "a" * 64) -> ResidentFace:
    return ResidentFace(
        face_id=gallery_key(person, model_id),
        person_id=person,
        community_id="c01",
        embedding=vector.tolist(),
        model_id=model_id,
        enrolled_at=T0,
        enrolled_by="test",
    )


def test_gallery_matches_at_the_threshold_and_forgets_removed_people() -> None:
    gallery = Gallery("a" * 64, 128)
    alice, bob = _unit(1), _unit(2)
    gallery.apply("alice", _enrolled("alice", alice))
    gallery.apply("bob", _enrolled("bob", bob))
    near_alice = alice * 0.8 + _unit(3) * 0.6
    near_alice /= np.linalg.norm(near_alice)
    matches = gallery.match(np.stack([near_alice, _unit(4)]), threshold=0.4)
    assert matches[0] is not None and matches[0].person_id == "alice"
    assert matches[1] is None
    gallery.apply("alice", None)
    assert gallery.match(np.stack([alice]), threshold=0.4) == [None]


def test_gallery_ignores_another_recognisers_embeddings() -> None:
    gallery = Gallery("a" * 64, 128)
    gallery.apply("alice", _enrolled("alice", _unit(1), model_id="b" * 64))
    assert len(gallery) == 0


def _face(
    box: tuple[float, float, float, float], vector: np.ndarray, quality: float
) -> AnalysedFace:
    q = Quality(quality, 1.0, quality, 1.0, 0.9)
    detected = DetectedFace(
        np.array(box, dtype=np.float32), FRONTAL, 0.9, np.zeros((112, 112, 3), np.uint8), q
    )
    return AnalysedFace(detected, vector)


def test_iou_of_overlapping_and_disjoint_boxes() -> None:
    a = np.array([0, 0, 10, 10])
    assert iou(a, a) == 1.0
    assert iou(a, np.array([5, 0, 15, 10])) == pytest.approx(50 / 150)
    assert iou(a, np.array([20, 20, 30, 30])) == 0.0


def test_one_person_walking_past_is_one_sighting_from_the_best_frame() -> None:
    tracker = FaceTracker("cam", similarity=0.4, gap=timedelta(seconds=1))
    person = _unit(7)
    frame = np.zeros((10, 10, 3), np.uint8)
    qualities = [0.5, 0.7, 0.9, 0.6, 0.55]
    passed = []
    for step, quality in enumerate(qualities):
        at = T0 + timedelta(seconds=0.2 * step)
        box = (100 + 15 * step, 100, 180 + 15 * step, 190)
        passed += tracker.update(at, [_face(box, person, quality)], frame)
    assert passed == []
    passed += tracker.update(T0 + timedelta(seconds=3), [], frame)
    assert len(passed) == 1
    assert passed[0].face.face.quality.score == 0.9
    assert passed[0].at == T0 + timedelta(seconds=0.4)


def test_a_face_jumping_across_the_frame_continues_its_track_by_similarity() -> None:
    tracker = FaceTracker("cam", similarity=0.4, gap=timedelta(seconds=1))
    person = _unit(8)
    frame = np.zeros((10, 10, 3), np.uint8)
    tracker.update(T0, [_face((0, 0, 80, 80), person, 0.6)], frame)
    tracker.update(T0 + timedelta(seconds=0.2), [_face((400, 0, 480, 80), person, 0.8)], frame)
    assert len(tracker.finish()) == 1


def test_two_people_side_by_side_are_two_sightings() -> None:
    tracker = FaceTracker("cam", similarity=0.4, gap=timedelta(seconds=1))
    frame = np.zeros((10, 10, 3), np.uint8)
    for step in range(3):
        at = T0 + timedelta(seconds=0.2 * step)
        faces = [
            _face((10 + step, 10, 90 + step, 100), _unit(1), 0.6),
            _face((300 - step, 10, 380 - step, 100), _unit(2), 0.6),
        ]
        tracker.update(at, faces, frame)
    assert len(tracker.finish()) == 2

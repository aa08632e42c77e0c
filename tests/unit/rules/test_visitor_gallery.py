"""The visitor gallery, and `Faces`: synthetic people for the face rules' tests."""

import zlib

import numpy as np

from schemas.events import DeviceKind
from schemas.places import camera_place, unit_door_of
from schemas.reference import Device
from streams.rules.visitor_gallery import VisitorGallery, listed, visitor_id
from tests.unit.rules.harness import StaticReference

NOISE = 0.03
"""Per-dimension capture noise: two captures of one face score ≈ 0.9, two faces ≈ 0."""


class Faces:
    """A person is a random unit vector seeded by their name; a capture adds noise."""

    def __init__(self, seed: int = 7, dims: int = 128) -> None:
        self.rng = np.random.default_rng(seed)
        self.dims = dims

    def person(self, name: str) -> np.ndarray:
        vector = np.random.default_rng(zlib.crc32(name.encode())).normal(size=self.dims)
        return vector / np.linalg.norm(vector)

    def capture(self, name: str) -> list[float]:
        noisy = self.person(name) + self.rng.normal(scale=NOISE, size=self.dims)
        return (noisy / np.linalg.norm(noisy)).tolist()


def test_captures_of_one_face_are_close_and_of_two_faces_far() -> None:
    faces = Faces()
    same = np.dot(faces.capture("ann"), faces.capture("ann"))
    other = np.dot(faces.capture("ann"), faces.capture("bob"))
    assert 0.85 < same < 0.95
    assert abs(other) < 0.3


def identify(gallery: VisitorGallery, names: list[str], faces: Faces) -> VisitorGallery:
    for i, name in enumerate(names):
        gallery, _ = gallery.identified(faces.capture(name), f"e{i}", 0.4)
    return gallery


def test_same_face_keeps_its_id_and_new_faces_get_new_ones() -> None:
    faces, gallery = Faces(), VisitorGallery()
    gallery, ann = gallery.identified(faces.capture("ann"), "e1", 0.4)
    gallery, bob = gallery.identified(faces.capture("bob"), "e2", 0.4)
    assert ann == visitor_id("e1") and bob == visitor_id("e2") and ann != bob
    again = []
    for i in range(3, 8):
        gallery, visitor = gallery.identified(faces.capture("ann"), f"e{i}", 0.4)
        again.append(visitor)
    assert again == [ann] * 5
    assert [v.captures for v in gallery.visitors] == [6, 1]


def test_a_capture_gives_a_new_gallery_and_leaves_the_old_one_as_it_was() -> None:
    faces = Faces()
    before = identify(VisitorGallery(), ["ann", "bob"], faces)
    kept = before.model_dump()
    after, ann = before.identified(faces.capture("ann"), "e9", 0.4)
    assert before.model_dump() == kept
    assert [v.captures for v in after.visitors] == [2, 1]
    assert after.visitors[1] is before.visitors[1]
    assert before.retained({ann}).visitors == before.visitors[:1] and len(before.visitors) == 2


def test_ids_derive_from_the_first_capture_so_a_replay_names_the_same_visitors() -> None:
    names = ["ann", "bob", "ann", "cy"]
    first = identify(VisitorGallery(), names, Faces(seed=3))
    replay = identify(VisitorGallery(), names, Faces(seed=3))
    assert first == replay
    assert visitor_id("e0").startswith("v-") and len(visitor_id("e0")) == 10


def test_centroids_are_stored_as_base64_float16() -> None:
    gallery, _ = VisitorGallery().identified(Faces().capture("ann"), "e1", 0.4)
    assert len(gallery.visitors[0].centroid) == 344


def test_faces_of_another_embedding_size_never_match() -> None:
    gallery, small = VisitorGallery().identified(Faces(dims=128).capture("ann"), "e1", 0.4)
    _, large = gallery.identified(Faces(dims=512).capture("ann"), "e2", 0.4)
    assert small != large


def test_retained_forgets_visitors_no_longer_referred_to() -> None:
    faces = Faces()
    gallery, ann = VisitorGallery().identified(faces.capture("ann"), "e1", 0.4)
    gallery, _ = gallery.identified(faces.capture("bob"), "e2", 0.4)
    assert [v.visitor_id for v in gallery.retained({ann}).visitors] == [ann]


def test_cameras_map_to_the_unit_door_they_watch() -> None:
    reference = StaticReference(
        devices=[
            Device(
                device_id="lobby-7",
                community_id="c01",
                device_kind=DeviceKind.CAMERA,
                place="c01-b02-u4",
            )
        ]
    )
    assert unit_door_of("c01-b03-u2-cam", reference) == "c01-b03-u2"
    assert unit_door_of("lobby-7", reference) == "c01-b02-u4"
    assert unit_door_of("c01-pg1-cam", reference) is None
    assert unit_door_of("c01-b03-elev", reference) is None
    assert camera_place("c01-pg1-cam", reference) == "c01-pg1"


def test_listed_names_the_first_ids_and_counts_the_rest() -> None:
    assert listed(["a", "b"]) == "a, b"
    assert listed([f"v{i}" for i in range(12)]).endswith("v9 +2 more")

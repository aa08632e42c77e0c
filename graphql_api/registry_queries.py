"""The registry's stores outside GraphQL: the face gallery topic, and erasing a person's face
data from the warehouse and the crops directory.

The gallery is only on its compacted Kafka topic, so it is read to its end on each call, as
rule settings are: the API holds no copy that could go stale or outlive an erasure. The
erasure runs on the warehouse's own (pipeline) thread, so no insert of this process lands
between collecting a person's crop references and deleting their rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from pingan.platform.settings import kafka_security
from pingan.platform.warehouse import Warehouse
from schemas.codec import DecodeError, decode
from schemas.faces import ResidentFace
from schemas.topics import FACE_GALLERY

log = logging.getLogger(__name__)

MUTATION_SETTINGS = "SETTINGS mutations_sync = 2"
"""ClickHouse mutations are asynchronous by default: wait until every replica has rewritten
its parts, so an answered erasure is done, not merely scheduled."""

CAPTURES_OF = (
    "SELECT DISTINCT event_id, crop_ref FROM face_captures "
    "WHERE matched_person_id = {person:String}"
)
COUNT_CAPTURES_OF = (
    "SELECT count(DISTINCT event_id) AS n FROM face_captures "
    "WHERE matched_person_id = {person:String}"
)
COUNT_FACE_DOORS_OF = (
    "SELECT count(DISTINCT event_id) AS n FROM door_access "
    "WHERE method = 'face' AND person_id = {person:String}"
)
COUNT_SEARCHES_FINDING = (
    "SELECT count(DISTINCT search_id) AS n FROM biometric_searches "
    "WHERE has(matched_person_ids, {person:String})"
)
DELETE_CAPTURES_OF = (
    "ALTER TABLE face_captures DELETE WHERE matched_person_id = {person:String} "
    + MUTATION_SETTINGS
)
DELETE_SEARCH_VECTORS_OF = (
    "ALTER TABLE face_search_vectors DELETE WHERE matched_person_id = {person:String} "
    + MUTATION_SETTINGS
)
ANONYMISE_FACE_DOORS_OF = (
    "ALTER TABLE door_access UPDATE person_id = NULL "
    "WHERE method = 'face' AND person_id = {person:String} " + MUTATION_SETTINGS
)
REDACT_SEARCHES_FINDING = (
    "ALTER TABLE biometric_searches "
    "UPDATE matched_person_ids = arrayFilter(x -> x != {person:String}, matched_person_ids) "
    "WHERE has(matched_person_ids, {person:String}) " + MUTATION_SETTINGS
)


@dataclass(frozen=True)
class GalleryEntries:
    """The gallery's current entries (every recogniser's), by topic key."""

    faces: dict[str, ResidentFace] = field(default_factory=dict)
    unreadable: frozenset[str] = frozenset()
    """Keys whose record cannot be decoded: still someone's embedding, so still erasable."""

    def keys_of(self, person_id: str) -> list[str]:
        """Every entry of the person, whichever recogniser made it (see `gallery_key`)."""
        prefix = f"{person_id}@"
        readable = [key for key, face in self.faces.items() if face.person_id == person_id]
        return sorted(readable + [key for key in self.unreadable if key.startswith(prefix)])

    def communities_of(self, person_id: str) -> frozenset[str]:
        return frozenset(f.community_id for f in self.faces.values() if f.person_id == person_id)

    def enrolled_people(self) -> int:
        """People, not embeddings: a person enrolled by two recognisers is one face held."""
        people = {face.person_id for face in self.faces.values()}
        return len(people | {key.rsplit("@", 1)[0] for key in self.unreadable})


async def read_gallery(bootstrap: str, timeout: float) -> GalleryEntries:
    """The gallery topic read once to its end without a consumer group.

    Raises aiokafka's KafkaError, or TimeoutError when Kafka does not answer in time."""
    faces: dict[str, ResidentFace] = {}
    unreadable: set[str] = set()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, **kafka_security(), group_id=None, enable_auto_commit=False
    )
    try:
        async with asyncio.timeout(timeout):
            await consumer.start()
            partitions = [
                TopicPartition(FACE_GALLERY.name, p) for p in range(FACE_GALLERY.partitions)
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            while not all([await consumer.position(tp) >= offset for tp, offset in end.items()]):
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                for messages in batches.values():
                    for message in messages:
                        _apply(faces, unreadable, message.key, message.value)
    finally:
        await consumer.stop()
    return GalleryEntries(faces, frozenset(unreadable))


def _apply(
    faces: dict[str, ResidentFace], unreadable: set[str], key: bytes | None, value: bytes | None
) -> None:
    """One gallery message: a newer record replaces its key's, a tombstone removes it."""
    if key is None:
        return
    name = key.decode(errors="replace")
    faces.pop(name, None)
    unreadable.discard(name)
    if value is None:
        return
    try:
        faces[name] = decode(value, ResidentFace)
    except DecodeError as exc:
        log.error("unreadable gallery entry %r: %s", name, exc.reason)
        unreadable.add(name)


@dataclass(frozen=True)
class StoredFaceData:
    """How much of a person's face data the warehouse holds (the erasure's audited count)."""

    captures: int
    face_door_accesses: int
    searches_finding: int


def stored_face_data(warehouse: Warehouse, person_id: str) -> StoredFaceData:
    """Blocking; run it through `Warehouse.run`."""
    params = {"person": person_id}

    def count(sql: str) -> int:
        return int(warehouse.query(sql, params)[0]["n"])

    return StoredFaceData(
        captures=count(COUNT_CAPTURES_OF),
        face_door_accesses=count(COUNT_FACE_DOORS_OF),
        searches_finding=count(COUNT_SEARCHES_FINDING),
    )


class CropNotErasable(RuntimeError):
    """A crop file exists but could not be deleted: the rows that point to it are kept, so
    a repeated erasure still finds it."""


@dataclass(frozen=True)
class WarehouseErasure:
    stored: StoredFaceData
    crops_deleted: int


def erase_face_data(warehouse: Warehouse, person_id: str, data_dir: Path) -> WarehouseErasure:
    """Delete the person's captures (embeddings, their face-search vectors, matches, crop
    files), take their id off
    face-method door accesses and off the biometric searches that found them.

    Blocking; run it through `Warehouse.run` (the pipeline's thread). Crop files go first:
    once the rows are gone nothing would say where the crops were. Every step is idempotent,
    so an interrupted erasure is completed by running it again."""
    params = {"person": person_id}
    stored = stored_face_data(warehouse, person_id)
    crop_refs = [r["crop_ref"] for r in warehouse.query(CAPTURES_OF, params) if r["crop_ref"]]
    deleted = delete_crops(data_dir, crop_refs)
    warehouse.command(DELETE_CAPTURES_OF, params)
    warehouse.command(DELETE_SEARCH_VECTORS_OF, params)
    warehouse.command(ANONYMISE_FACE_DOORS_OF, params)
    warehouse.command(REDACT_SEARCHES_FINDING, params)
    return WarehouseErasure(stored, deleted)


def delete_crops(data_dir: Path, crop_refs: Iterable[str]) -> int:
    """Delete crop files; returns how many existed. A reference that resolves outside
    `data_dir/crops` (symlinks followed) is never touched, whatever the stored text says."""
    root = (data_dir / "crops").resolve()
    deleted = 0
    for ref in crop_refs:
        path = (data_dir / ref).resolve()
        if path == root or not path.is_relative_to(root):
            log.warning("not deleting a crop reference outside %s: %r", root, ref)
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise CropNotErasable(f"cannot delete crop {path}: {exc.strerror}") from None
        deleted += 1
    return deleted

"""What a process analysing faces holds: the model pack, the live gallery, the devices
(which camera watches which door), the crop store — and the model threads.

`FaceService.snapshot(image bytes, camera id, at)` is the uploaded-snapshot path (the
`/ingest/v1/face-snapshots` webhook calls it and publishes the events it returns); the video
watcher analyses each round's frames on the same threads.

The face models are small: one single-threaded onnxruntime run per core (`face_workers`
analyses at once, `face_threads` = 1) does about twice the work of one run spread over
every core, whose intra-op threads mostly wait on each other (bench.faces measures both).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

import numpy as np

from ingest.vision.faces.analysis import AnalysedFace, FaceAnalyser
from ingest.vision.faces.captures import CaptureRecorder, CropStore, Sighting
from ingest.vision.faces.gallery import Gallery, GalleryFollower
from ingest.vision.faces.images import decode_image
from ingest.vision.faces.pack import ModelPack, load_pack
from pingan.platform.face_pack import PackError
from pingan.platform.images import ImageLimits
from pingan.platform.reference_data import ReferenceData, ReferenceFollower
from pingan.platform.settings import Settings
from schemas.events import Event
from schemas.reference import Device

T = TypeVar("T")

log = logging.getLogger(__name__)


class FaceService:
    def __init__(self, settings: Settings, pack: ModelPack | None = None) -> None:
        self.settings = settings
        self.pack = pack or load_pack(settings.face_model_dir, settings.face_threads)
        self.analyser = FaceAnalyser(self.pack)
        self.gallery = Gallery(self.pack.model_id, self.pack.dims)
        self.reference = ReferenceData()
        self.image_limits = ImageLimits.of(settings)
        self.recorder = CaptureRecorder(
            self.gallery,
            self.reference,
            CropStore(settings.data_dir),
            self.pack.config,
        )
        self._models = ThreadPoolExecutor(
            max_workers=settings.face_workers, thread_name_prefix="face-models"
        )
        self._gallery_follower = GalleryFollower(settings.bootstrap, self.gallery)
        self._reference_follower = ReferenceFollower(settings.bootstrap, self.reference)
        self._following: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Returns once the gallery and the devices are read to their current end."""
        await self._gallery_follower.start()
        self._following = asyncio.create_task(self._gallery_follower.follow())
        await self._reference_follower.start()
        await asyncio.gather(
            self._gallery_follower.loaded.wait(), self._reference_follower.loaded.wait()
        )

    async def stop(self) -> None:
        if self._following is not None:
            self._following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._following
        await self._gallery_follower.stop()
        await self._reference_follower.stop()
        self._models.shutdown(wait=True)

    async def __aenter__(self) -> FaceService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def on_models(self, work: Callable[[], T]) -> T:
        """Run model work on a model thread; up to `face_workers` of them run at once."""
        return await asyncio.get_running_loop().run_in_executor(self._models, work)

    def analyse_all(self, images: Sequence[np.ndarray]) -> list[list[AnalysedFace]]:
        """The faces of each image, the images analysed in parallel on the model threads.
        Blocks; never call it from a model thread (it would wait on its own pool)."""
        return list(self._models.map(self.analyser.analyse, images))

    async def snapshot(self, image: bytes, camera_id: str, at: datetime) -> list[Event]:
        return await self.on_models(lambda: self.snapshot_events(image, camera_id, at))

    async def upload(
        self, image: bytes, camera_id: str, camera: Device, at: datetime
    ) -> list[Event]:
        """A camera's uploaded snapshot (the webhook's analyser), taken at `at`."""
        return await self.snapshot(image, camera_id, at)

    def snapshot_events(self, image: bytes, camera_id: str, at: datetime) -> list[Event]:
        """Events of one uploaded snapshot. Raises UnreadableImage or UnknownCamera (both
        ValueError) with a message for the device's operator. A retried upload of the same
        image taken at the same time yields the same events, ids and times alike, so the
        event tables (ordered by time and id) collapse the retry."""
        camera = self.recorder.camera(camera_id)
        frame = decode_image(image, self.image_limits)
        digest = hashlib.sha256(image).hexdigest()
        faces = self.analyser.analyse(frame)
        taken = at.isoformat()
        sightings = [Sighting(f, frame, at, f"{digest}|{taken}|{i}") for i, f in enumerate(faces)]
        return self.recorder.records(camera, sightings)


async def started_for_uploads(settings: Settings) -> FaceService | None:
    """The face pipeline behind snapshot uploads, started; None (and said so in the log)
    when no usable model pack is installed, so the other webhooks still serve."""
    try:
        service = FaceService(settings)
    except PackError as exc:
        log.warning("face snapshot uploads are off: %s", exc)
        return None
    await service.start()
    return service

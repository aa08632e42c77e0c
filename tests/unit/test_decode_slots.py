"""One decode cap per process: webhooks and the API's photos share it, and beyond it a
photo is refused with a time to retry instead of queueing behind the models."""

from __future__ import annotations

import asyncio
import threading

import pytest

from graphql_api.errors import Busy
from graphql_api.faces import CappedFaceEngine, PhotoFace
from pingan.platform.images import IMAGE_DECODES, DecodesBusy, DecodeSlots


def test_slots_up_to_the_cap_then_busy_until_one_is_released() -> None:
    slots = DecodeSlots()
    with slots.slot(2), slots.slot(2):
        with pytest.raises(DecodesBusy) as busy, slots.slot(2):
            pass
        assert busy.value.cap == 2
        assert slots.in_use == 2
    assert slots.in_use == 0
    with slots.slot(1):
        assert slots.in_use == 1


class HeldModel:
    """A face model that holds each photo until released (the models' slow part)."""

    model_id = "test-model"
    match_threshold = 0.5

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def photo_face(self, image: bytes) -> PhotoFace:
        await self.release.wait()
        return PhotoFace([0.0] * 128, 0.9, self.model_id)


async def _three_photos_with_a_cap_of_two() -> tuple[list[object], int]:
    model = HeldModel()
    faces = CappedFaceEngine(model, cap=2, retry_after_seconds=3)
    held = [asyncio.create_task(faces.photo_face(b"photo")) for _ in range(2)]
    while IMAGE_DECODES.in_use < 2:
        await asyncio.sleep(0)
    with pytest.raises(Busy, match="2 images are being analysed; retry in 3 s"):
        await faces.photo_face(b"photo")
    model.release.set()
    done = await asyncio.gather(*held)
    return done, IMAGE_DECODES.in_use


def test_the_api_refuses_a_photo_beyond_the_cap_and_frees_its_slots() -> None:
    done, in_use = asyncio.run(_three_photos_with_a_cap_of_two())
    assert [face.model_id for face in done] == ["test-model", "test-model"]  # type: ignore[attr-defined]
    assert in_use == 0


def test_a_webhook_decode_on_another_thread_takes_the_api_s_slot() -> None:
    taken, release = threading.Event(), threading.Event()

    def webhook() -> None:
        with IMAGE_DECODES.slot(1):
            taken.set()
            release.wait(timeout=30)

    thread = threading.Thread(target=webhook)
    thread.start()
    try:
        assert taken.wait(timeout=30)
        faces = CappedFaceEngine(HeldModel(), cap=1, retry_after_seconds=3)
        with pytest.raises(Busy):
            asyncio.run(faces.photo_face(b"photo"))
    finally:
        release.set()
        thread.join()
    assert IMAGE_DECODES.in_use == 0

"""The registries lookups need, as the API process holds them: followed live from their
compacted topics (devices; resident vehicles and monthly passes).

A trajectory asks which cameras watch the doors opened by face, a vehicle lookup for the
plate's registration and passes. Reading a topic from its beginning on each call cost a
Kafka consumer's start and the whole topic every time (most of the 180 ms between a
trajectory's API and SQL time in bench/api.py). The follower reads the topics once, on first
need, and then applies each change as it is published (within the follower's 0.5 s poll), so
a camera or vehicle registered a moment ago is known without a reread. It is stopped with
the web app (`build_web_app`'s cleanup).
"""

from __future__ import annotations

import asyncio
import logging

from pingan.platform.reference_data import ReferenceData, ReferenceFollower
from pingan.platform.settings import get_settings
from schemas.topics import DEVICES, PARKING_PASSES, RESIDENT_VEHICLES, Topic

log = logging.getLogger(__name__)

FOLLOWED: tuple[Topic, ...] = (DEVICES, RESIDENT_VEHICLES, PARKING_PASSES)
WAIT_SECONDS = 10.0
"""How long a call waits for the registry's first read (Kafka unreachable: each call)."""


class ReferenceRegistry:
    """The followed topics, read once and then followed, for the process's lifetime."""

    def __init__(self, bootstrap: str | None = None, wait_seconds: float = WAIT_SECONDS) -> None:
        self._bootstrap = bootstrap
        """None: the configured Kafka, looked up when the follower starts."""
        self._wait_seconds = wait_seconds
        self._follower: ReferenceFollower | None = None
        self._starting = asyncio.Lock()

    async def current(self) -> ReferenceData | None:
        """The registry as last published, or None if it could not be read within the wait.
        Started on the first call; a follower that crashed (Kafka down) is started again."""
        follower = await self._running()
        try:
            async with asyncio.timeout(self._wait_seconds):
                await follower.loaded.wait()
        except TimeoutError:
            return None
        return follower.data

    async def _running(self) -> ReferenceFollower:
        async with self._starting:
            if self._follower is not None and self._follower.crashed:
                log.warning("the reference registry follower stopped; starting it again")
                await self.close()
            if self._follower is None:
                bootstrap = self._bootstrap or get_settings().bootstrap
                follower = ReferenceFollower(bootstrap, ReferenceData(), topics=list(FOLLOWED))
                await follower.start()
                self._follower = follower
            return self._follower

    async def close(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None:
            await follower.stop()

"""Live alerts for subscriptions, read from the alerts topic by one consumer per process.

The consumer joins no group: every API process must see every alert, and none should
replay history. Without a group aiokafka assigns it every partition of the topic (and
any added later), and start() positions it at their ends. Each subscriber gets a
bounded queue; one that cannot keep up loses its oldest alerts instead of holding back
the others.

The feed also remembers the alerts of the last few minutes. A client that reads its first
page from ClickHouse as it subscribes would otherwise miss an alert raised in between:
already past the subscription, not yet stored by the sink. Subscribing with a replay
window closes that gap; the client keeps the newest version of each alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from graphql_api.errors import PublicError
from pingan.platform.settings import kafka_security
from schemas.alerts import Alert
from schemas.codec import DecodeError, decode
from schemas.topics import ALERTS

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 256
DROP_LOG_EVERY = 100
REPLAY_MAX_SECONDS = 300
"""How far back a subscriber may ask to be replayed: minutes cover a sink that is slow to
store, and an API restart forgets them anyway (the stored alerts are the record)."""
REPLAY_MAX_ALERTS = 5000


class FeedUnavailable(PublicError):
    """The feed stopped; subscribers should subscribe again later."""

    def __init__(self) -> None:
        super().__init__("the live alert feed is unavailable; subscribe again later")


class AlertSubscription:
    """One subscriber's bounded queue of alerts; iterate it to receive them."""

    _ids = itertools.count(1)

    def __init__(self, queue_size: int) -> None:
        self.id = next(self._ids)
        self.dropped = 0
        self._queue: asyncio.Queue[Alert | None] = asyncio.Queue(queue_size)
        self._failed = False

    def offer(self, alert: Alert) -> None:
        """Enqueue without waiting, dropping the oldest alert if the queue is full."""
        self._put(alert)

    def end(self, failed: bool) -> None:
        """Finish the stream after what is queued; a failure surfaces as FeedUnavailable."""
        self._failed = failed
        self._put(None)

    def _put(self, alert: Alert | None) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
            if self.dropped % DROP_LOG_EVERY == 1:
                log.warning(
                    "alert subscriber %d is too slow: dropped %d oldest alert(s) so far",
                    self.id,
                    self.dropped,
                )
        self._queue.put_nowait(alert)

    def __aiter__(self) -> AsyncIterator[Alert]:
        return self

    async def __anext__(self) -> Alert:
        alert = await self._queue.get()
        if alert is None:
            if self._failed:
                raise FeedUnavailable
            raise StopAsyncIteration
        return alert


class AlertFeed:
    """Fans the alerts topic out to subscribers; `start()` before subscribing."""

    def __init__(self, bootstrap: str, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._bootstrap = bootstrap
        self._queue_size = queue_size
        self._subscriptions: set[AlertSubscription] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._pump: asyncio.Task[None] | None = None
        self._recent: deque[tuple[float, Alert]] = deque(maxlen=REPLAY_MAX_ALERTS)

    @property
    def running(self) -> bool:
        return self._pump is not None and not self._pump.done()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    async def start(self) -> None:
        """Return once positioned at the end, so any alert published afterwards is delivered."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            **kafka_security(),
            group_id=None,
            enable_auto_commit=False,
            client_id="pingan-api-alert-feed",
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(ALERTS.name, p) for p in range(ALERTS.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for partition in partitions:
                await consumer.position(partition)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        self._pump = asyncio.create_task(self._run(consumer), name="alert-feed")
        log.info("alert feed reading %d partition(s) of %s", len(partitions), ALERTS.name)

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        self._end_all(failed=False)

    async def __aenter__(self) -> AlertFeed:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @contextlib.asynccontextmanager
    async def subscribe(self, replay_seconds: float = 0) -> AsyncIterator[AlertSubscription]:
        """Receive the alerts of the last `replay_seconds` this process saw, then every alert
        published from now on until the block exits, with no gap between the two."""
        if not self.running:
            raise FeedUnavailable
        subscription = AlertSubscription(self._queue_size)
        for alert in self._replay(replay_seconds):
            subscription.offer(alert)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            async for message in consumer:
                self._dispatch(message)
        except Exception:
            log.exception("alert feed stopped reading %s", ALERTS.name)
            self._end_all(failed=True)

    def _dispatch(self, message: ConsumerRecord) -> None:
        try:
            alert = decode(message.value, Alert)
        except DecodeError as exc:
            log.warning(
                "skipping %s[%d]@%d: %s",
                message.topic,
                message.partition,
                message.offset,
                exc.reason,
            )
            return
        self._remember(alert)
        for subscription in self._subscriptions:
            subscription.offer(alert)

    def _remember(self, alert: Alert) -> None:
        now = time.monotonic()
        self._recent.append((now, alert))
        while self._recent[0][0] < now - REPLAY_MAX_SECONDS:
            self._recent.popleft()

    def _replay(self, seconds: float) -> list[Alert]:
        """The newest alerts within `seconds`, as many as a subscriber's queue holds."""
        if seconds <= 0:
            return []
        since = time.monotonic() - min(seconds, REPLAY_MAX_SECONDS)
        recent = [alert for seen, alert in self._recent if seen >= since]
        return recent[-self._queue_size :]

    def _end_all(self, failed: bool) -> None:
        for subscription in self._subscriptions:
            subscription.end(failed)
        self._subscriptions.clear()

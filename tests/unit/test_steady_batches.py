"""A batch whose handling raises is retried until it succeeds, and a stall is raised once it
has failed for the configured time; the pipeline health follows. Pure asyncio: the clock
and the sleep are the test's."""

from __future__ import annotations

import asyncio

from pingan.platform.health import PIPELINE_HEALTH, Stall
from streams.steady_batches import SteadyBatches


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"broker away ({self.calls})")


def _run(failures: int, stall_after: float) -> tuple[Flaky, list[Stall], list[float], bool]:
    now = [0.0]
    slept: list[float] = []
    stalls: list[Stall] = []
    stalled_meanwhile = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        stalled_meanwhile.append(bool(PIPELINE_HEALTH.stalls()))

    async def on_stall(stall: Stall) -> None:
        stalls.append(stall)

    steady = SteadyBatches(stall_after, on_stall, clock=lambda: now[0], sleep=sleep)
    flaky = Flaky(failures)
    asyncio.run(steady.handle("pingan.events.door-access", "door_access", [3, 1, 3], flaky))
    return flaky, stalls, slept, any(stalled_meanwhile)


def test_a_failing_batch_is_retried_until_handled_with_backoff() -> None:
    flaky, stalls, slept, _ = _run(failures=4, stall_after=60.0)
    assert flaky.calls == 5
    assert slept == [0.2, 0.4, 0.8, 1.6]
    assert stalls == []


def test_a_batch_failing_past_the_limit_raises_one_stall_then_recovers() -> None:
    flaky, stalls, slept, stalled_meanwhile = _run(failures=12, stall_after=30.0)
    assert flaky.calls == 13
    assert max(slept) == 10.0
    (stall,) = stalls
    assert stall.topic == "pingan.events.door-access"
    assert stall.partitions == (1, 3)
    assert "ConnectionError: broker away" in stall.error
    assert stalled_meanwhile, "/healthz is red while the batch is held"
    assert PIPELINE_HEALTH.stalls() == [], "and green once it went through"

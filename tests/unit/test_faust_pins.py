"""What `streams/faust_internals.py` takes from faust-streaming 0.15.3, pinned: each override
and each private name it reaches, and the upstream behaviour it works around. After an
upgrade a failure here names the coupling to revisit before anything runs; the behaviour
itself is pinned on a real broker (`tests/integration/test_faust_behaviour.py`, the
restart, kill and scale-out tests).
"""

from __future__ import annotations

import inspect
import re
from contextvars import ContextVar

import faust.streams
from aiokafka.consumer.fetcher import Fetcher
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer as BaseConsumer
from faust.transport.drivers import aiokafka as kafka_driver

from streams.faust_internals import RefetchingConsumer, SettledRecovery, UrgentFirstConsumer


def _parameters(function: object) -> list[tuple[str, object]]:
    """Names and defaults: annotations differ as text under `from __future__ import`."""
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    return [(p.name, p.default) for p in parameters]


def _order(source: str, *calls: str) -> list[int]:
    return [source.index(call) for call in calls]


def test_faust_still_resumes_stream_partitions_before_seeking_them() -> None:
    """The recovery order SettledRecovery works around. If upstream now seeks first and
    resumes after emptying the queues, SettledRecovery may go."""
    for exit_ in (Recovery.on_recovery_completed, Recovery._resume_streams):
        source = inspect.getsource(exit_)
        resumed, sought, emptied = _order(
            source, "resume_partitions(", "perform_seek()", "resume_flow()"
        )
        assert resumed < sought < emptied, exit_.__qualname__


def test_the_recovery_exits_overridden_keep_their_signatures_and_steps() -> None:
    """SettledRecovery replaces both exits whole: it must still do every step they do."""
    for name in ("on_recovery_completed", "_resume_streams"):
        upstream, ours = getattr(Recovery, name), getattr(SettledRecovery, name)
        assert _parameters(upstream) == _parameters(ours), name
    steps = {
        "on_rebalance_complete.send()",
        "_set_recovery_ended()",
        "table.on_recovery_completed(",
        "perform_seek()",
        "completed.set()",
        "flow_control.resume()",
        "resume_flow()",
        "_fetcher.maybe_start()",
        "on_actives_ready()",
        "on_standbys_ready()",
        "on_rebalance_end()",
    }
    upstream = inspect.getsource(Recovery.on_recovery_completed)
    ours = "".join(
        inspect.getsource(method)
        for method in (
            SettledRecovery.on_recovery_completed,
            SettledRecovery._seek_then_resume,
            SettledRecovery._resume_settled_streams,
        )
    )
    assert {step for step in steps if step in upstream} == steps
    assert {step for step in steps if step in ours} == steps


def test_the_table_manager_still_builds_its_recovery_lazily() -> None:
    assert "_recovery" in inspect.getsource(TableManager.recovery.fget)  # type: ignore[union-attr]


def test_the_consumer_hook_for_fetched_records_is_still_there() -> None:
    upstream = kafka_driver.Consumer._wait_next_records
    assert RefetchingConsumer._wait_next_records is not upstream
    assert list(inspect.signature(upstream).parameters) == ["self", "timeout"]
    assert "_buffered_partitions" in BaseConsumer.__annotations__


def test_the_consumer_hook_for_one_fetch_is_still_there() -> None:
    """UrgentFirstConsumer asks Faust's `_getmany` twice per fetch, the first time for the
    urgent partitions only and without waiting."""
    upstream = BaseConsumer._getmany
    assert UrgentFirstConsumer._getmany is not upstream
    assert _parameters(upstream) == [
        ("self", inspect.Parameter.empty),
        ("active_partitions", inspect.Parameter.empty),
        ("timeout", inspect.Parameter.empty),
    ]
    assert "_getmany(" in inspect.getsource(BaseConsumer._wait_next_records)


def test_faust_still_asks_for_the_next_fetch_only_once_the_last_is_handed_out() -> None:
    """Why an urgent record waited behind whole fetches of other topics, and why
    `broker_max_poll_records` keeps each fetch small."""
    source = inspect.getsource(BaseConsumer._drain_messages)
    fetched, handed_out = _order(source, "getmany(timeout=", "callback(message)")
    assert fetched < handed_out
    assert "max_records=_consumer._max_poll_records" in inspect.getsource(
        kafka_driver.AIOKafkaConsumerThread.getmany
    )


def test_aiokafka_still_returns_at_once_when_told_not_to_wait() -> None:
    """The urgent partitions are asked with a timeout of 0: nothing buffered, no wait."""
    source = inspect.getsource(Fetcher.fetched_records)
    assert re.search(r"if drained or not timeout:\s+return drained", source), source[:1200]


def test_aiokafka_still_drains_every_partition_when_given_none() -> None:
    """Why a paused partition's records come back at all (RefetchingConsumer)."""
    source = inspect.getsource(Fetcher.fetched_records)
    assert re.search(r"if partitions and tp not in partitions:", source), source[:800]


def test_the_current_event_is_still_a_context_variable_of_a_weak_reference() -> None:
    """`acting_for` sets it: the partition a table write goes to."""
    assert isinstance(faust.streams._current_event, ContextVar)
    assert "eventref()" in inspect.getsource(faust.streams.current_event)

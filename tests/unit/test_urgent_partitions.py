"""Which partitions a fetch asks for first: the urgent topics' active ones."""

from __future__ import annotations

from faust.types import TP

from streams.faust_internals import urgent_partitions

FENCE_0 = TP("pingan.events.perimeter-alarms", 0)
FENCE_1 = TP("pingan.events.perimeter-alarms", 1)
PASSAGES_0 = TP("pingan.events.vehicle-passages", 0)
URGENT = frozenset({"pingan.events.perimeter-alarms", "pingan.events.bracelet-readings"})


def test_the_active_partitions_of_urgent_topics_go_first() -> None:
    active = {FENCE_0, FENCE_1, PASSAGES_0}
    assert urgent_partitions(active, URGENT) == {FENCE_0, FENCE_1}


def test_a_paused_urgent_partition_is_not_asked_for() -> None:
    """Faust leaves paused partitions out of the active set; they stay out."""
    assert urgent_partitions({FENCE_1, PASSAGES_0}, URGENT) == {FENCE_1}


def test_nothing_goes_first_without_urgent_partitions() -> None:
    assert urgent_partitions({PASSAGES_0}, URGENT) == set()
    assert urgent_partitions({FENCE_0}, frozenset()) == set()


def test_an_app_that_asks_for_everything_favours_nothing() -> None:
    """`None` is a client-only app's fetch of everything; an empty set is nothing active."""
    assert urgent_partitions(None, URGENT) == set()
    assert urgent_partitions(set(), URGENT) == set()

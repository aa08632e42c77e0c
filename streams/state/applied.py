"""What a stored value has folded in: per source topic, the last offset. Every store keeps it
the same way (rule states, alert book entries, parking ledgers), so a batch replayed after a
crash changes nothing it already changed."""

from __future__ import annotations

from collections.abc import Mapping

Applied = dict[str, int]


def already_applied(applied: Mapping[str, int], topic: str, offset: int) -> bool:
    return applied.get(topic, -1) >= offset


def applying(applied: Mapping[str, int], topic: str, offset: int) -> Applied:
    """`applied` with this offset folded in, as a new mapping: the old one may be cached."""
    return {**applied, topic: max(offset, applied.get(topic, -1))}

"""Faust's table recovery, with stream partitions resumed only after they are settled.

faust-streaming 0.15 ends a recovery by resuming the stream partitions, then seeking them
to their committed offsets, then resuming flow, which empties the stream queues. Messages
fetched in between are either acknowledged and committed during the seek (which then
restores the older offset) or dropped by the emptying after the fetch position has passed
them; either way the consumer's ack bookkeeping is left with a hole no commit can pass,
and a restarted worker stops committing its backlog for good. Here the partitions stay
paused until the seek is done and the queues are emptied, so the first message fetched
is the committed one. Nothing else changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.tables import TableManager
from faust.tables.recovery import Recovery


class SettledRecovery(Recovery):
    async def _resume_streams(self, generation_id: int = 0) -> None:
        app = self.app
        consumer = app.consumer
        await app.on_rebalance_complete.send()
        assignment = consumer.assignment()
        if app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        if assignment:
            self.log.info("Seek stream partitions to committed offsets.")
            await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
        else:
            self.log.info("Resuming streams with empty assignment")
        self._resume_settled_streams(assignment)
        await app._fetcher.maybe_start()  # type: ignore[attr-defined]
        self.tables.on_actives_ready()
        self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        app = self.app
        consumer = app.consumer
        self.log.info("Restore complete!")
        await app.on_rebalance_complete.send()
        self._set_recovery_ended()
        done = [
            asyncio.ensure_future(
                table.on_recovery_completed(
                    self.actives_for_table[table], self.standbys_for_table[table]
                )
            )
            for table in self.tables.values()
        ]
        if done:
            await asyncio.wait(done)
        assignment = consumer.assignment()
        if app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        if assignment:
            self.log.info("Seek stream partitions to committed offsets.")
            await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
        self._resume_settled_streams(assignment)
        await app._fetcher.maybe_start()  # type: ignore[attr-defined]
        self.tables.on_actives_ready()
        if not app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")

    def _resume_settled_streams(self, assignment: Any) -> None:
        """Flow first (emptying the queues), the stream partitions after it."""
        self.completed.set()
        self.app.flow_control.resume()
        self.app.consumer.resume_flow()
        self.app.consumer.resume_partitions(
            {tp for tp in assignment if not self._is_changelog_tp(tp)}
        )


class SettledTableManager(TableManager):
    """Faust's table manager, recovering with `SettledRecovery`."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SettledRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery

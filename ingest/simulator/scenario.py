"""The labelled scenario: a small district over a few days whose alerts are known.

Incidents of every alert type are injected (3-6 of each at the default four days, spread
over communities and time) with labels saying which alert should fire and when;
near-misses come close to a threshold without crossing it; background life is kept
coherent with every rule, so any other alert is a false positive. `pingan evaluate`
publishes `reference` then `events()` and scores the alerts against `labels`.

The district is the first communities of the reference list (real coordinates, 1-10 km
apart) at a reduced size, so six communities over four days stay within EVENT_BUDGET:
the pipeline takes a few thousand events a second.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from operator import attrgetter

from ingest.simulator.district import District, DistrictSize
from ingest.simulator.scenario_incidents import INCIDENTS, NEAR_MISSES
from ingest.simulator.scenario_life import plan_bracelets, plan_devices, plan_everyday_life
from ingest.simulator.scenario_world import (
    BraceletSource,
    DeviceSource,
    EventMaker,
    Plan,
    Source,
    ms,
)
from ingest.simulator.scoring import Label
from pingan.platform.district import load_communities
from schemas.events import Event, Record

SCENARIO_SIZE = DistrictSize(
    unit_doors=3,
    residents_per_door=5,
    bracelets=4,
    watchlist=8,
    watchlist_faces=5,
    elderly_alone_doors=1 / 3,
    units_per_building=(3, 3),
    gates=(2, 2),
    pedestrian_gates=(1, 1),
    fence_zones=(1, 1),
    fire_passages=(1, 1),
    smoke_detectors_per_building=(1, 1),
    sheds=(1, 1),
    slots_per_shed=(2, 2),
)
"""19 devices per community (every one beats 720 times a day): one building of three
units (one an elderly person living alone), two gates, one fence zone, two slots."""
DEFAULT_DURATION = timedelta(days=4)
INSTANCES = 4
"""Incidents planned per alert type; fewer where the span or free entities run out."""
EVENT_BUDGET = 400_000
"""Six communities over four days must stay under this."""


class Scenario:
    """A built scenario; `events()` builds the events anew on each call, identically."""

    def __init__(
        self,
        district: District,
        start: datetime,
        end: datetime,
        reference: list[Record],
        labels: list[Label],
        near_misses: list[str],
        sources: list[Source],
    ) -> None:
        self.district = district
        self.start = start
        self.end = end
        self.reference = reference
        self.labels = labels
        self.near_misses = near_misses
        self._sources = sources
        self.run_id = f"scn-{district.seed}-{end:%Y%m%dT%H%M%S}"

    @classmethod
    def build(cls, seed: int, duration: timedelta, end: datetime, communities: int = 6) -> Scenario:
        """The same seed, duration, end and communities give the same scenario."""
        if duration <= timedelta(0):
            raise ValueError(f"duration must be positive, got {duration}")
        if end.tzinfo is None:
            raise ValueError("the scenario's end must carry a timezone")
        every = load_communities()
        if not 1 <= communities <= len(every):
            raise ValueError(f"communities must be 1..{len(every)}, got {communities}")
        end = ms(end.astimezone(UTC))
        start = end - duration
        district = District.build(seed, every[:communities], SCENARIO_SIZE)
        plan = Plan(district, start, end)
        plan_devices(plan)
        plan_bracelets(plan)
        for planner in INCIDENTS.values():
            planner(plan, INSTANCES)
        for near_miss in NEAR_MISSES:
            description = near_miss(plan)
            if description:
                plan.near_misses.append(description)
        plan_everyday_life(plan)
        sources: list[Source] = []
        for site in district.sites:
            cid = site.community_id
            devices = [plan.devices[d.device_id] for d in site.devices]
            bracelets = [plan.bracelets[b.bracelet_id] for b in site.bracelets]
            sources += [DeviceSource(f"{cid}-devices", devices)]
            sources += [BraceletSource(f"{cid}-bracelets", bracelets)]
        sources += plan.scripts.values()
        return cls(
            district,
            start,
            end,
            district.reference_records(added_at=start),
            sorted(plan.labels, key=lambda label: (label.start, label.alert_type, label.subject)),
            plan.near_misses,
            sources,
        )

    def events(self) -> Iterator[Event]:
        """Every event in occurred_at order, built lazily, source by source."""
        streams = [
            source.events(EventMaker(self.run_id, source.name, self.district), self.start, self.end)
            for source in self._sources
        ]
        return heapq.merge(*streams, key=attrgetter("occurred_at"))

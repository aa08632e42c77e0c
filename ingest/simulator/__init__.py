"""The district simulator: a seeded model of the district's communities publishing their events.

`District.build` makes the world, `Simulator.batch` draws events from it without Kafka,
and `Simulator.run` publishes them at a steady rate with injected, labelled incidents.
"""

from ingest.simulator.clock import SimClock
from ingest.simulator.district import District, DistrictSize
from ingest.simulator.incidents import IncidentLabel
from ingest.simulator.malformed import Malformation, MalformedMessage
from ingest.simulator.simulation import Batch, SimulationReport, Simulator

__all__ = [
    "Batch",
    "District",
    "DistrictSize",
    "IncidentLabel",
    "Malformation",
    "MalformedMessage",
    "SimClock",
    "SimulationReport",
    "Simulator",
]

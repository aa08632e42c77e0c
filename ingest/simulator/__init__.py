"""The district simulator: a seeded model of the district's communities publishing their events.

`District.build` makes the world, `Simulator.batch` draws events from it without Kafka,
and `Simulator.run` publishes them at a steady rate with injected, labelled incidents.
`Scenario.build` makes a small labelled district over a few days for measuring the rules,
and `score` compares the alerts they raised with its labels.
"""

from ingest.simulator.clock import SimClock
from ingest.simulator.district import District, DistrictSize
from ingest.simulator.incidents import IncidentLabel
from ingest.simulator.malformed import Malformation, MalformedMessage
from ingest.simulator.scenario import Scenario
from ingest.simulator.scoring import Label, RuleScore, score
from ingest.simulator.simulation import Batch, SimulationReport, Simulator

__all__ = [
    "Batch",
    "District",
    "DistrictSize",
    "IncidentLabel",
    "Label",
    "Malformation",
    "MalformedMessage",
    "RuleScore",
    "Scenario",
    "SimClock",
    "SimulationReport",
    "Simulator",
    "score",
]

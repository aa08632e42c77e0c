"""Deliberately broken vehicle-passage messages, so the dead-letter path has something to show.

The variants rotate through what real gate cameras get wrong: garbage bytes, a missing
field, a community that is not ours and a clock far ahead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import orjson

from ingest.simulator.district import District
from schemas.codec import encode
from schemas.events import Direction, PlateColour, VehiclePassage

UNKNOWN_COMMUNITY = "c99"
MALFORMED_HEADER = "pingan-simulator-malformed"


class Malformation(StrEnum):
    NOT_JSON = "not_json"
    MISSING_OCCURRED_AT = "missing_occurred_at"
    UNKNOWN_COMMUNITY = "unknown_community"
    FUTURE_OCCURRED_AT = "future_occurred_at"


@dataclass(frozen=True)
class MalformedMessage:
    malformation: Malformation
    key: bytes
    value: bytes

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        """Marks the message as deliberate, for anyone reading the dead letters."""
        return [(MALFORMED_HEADER, self.malformation.value.encode())]


class MalformedSource:
    """Every call yields the next variant in turn, from its own seeded generator."""

    def __init__(self, district: District) -> None:
        self._district = district
        self._rng = random.Random(f"{district.seed}:malformed")
        self._count = 0

    def next(self, event_id: str, at: datetime, received_at: datetime) -> MalformedMessage:
        malformation = list(Malformation)[self._count % len(Malformation)]
        self._count += 1
        passage = self._passage(event_id, at, received_at)
        key = passage.community_id.encode()
        if malformation is Malformation.NOT_JSON:
            return MalformedMessage(malformation, key, b"\x00\x17 plate=" + passage.plate.encode())
        if malformation is Malformation.MISSING_OCCURRED_AT:
            document = passage.model_dump()
            del document["occurred_at"]
            return MalformedMessage(malformation, key, orjson.dumps(document))
        if malformation is Malformation.UNKNOWN_COMMUNITY:
            stray = passage.model_copy(update={"community_id": UNKNOWN_COMMUNITY})
            return MalformedMessage(malformation, UNKNOWN_COMMUNITY.encode(), encode(stray))
        ahead = passage.model_copy(update={"occurred_at": at + timedelta(days=1)})
        return MalformedMessage(malformation, key, encode(ahead))

    def _passage(self, event_id: str, at: datetime, received_at: datetime) -> VehiclePassage:
        rng = self._rng
        site = rng.choice(self._district.sites)
        gate = rng.choice(site.gates)
        return VehiclePassage(
            event_id=event_id,
            community_id=site.community_id,
            occurred_at=at,
            received_at=received_at,
            plate=self._district.visitor_plate(rng),
            plate_colour=PlateColour.BLUE,
            direction=Direction.IN,
            gate_id=gate.gate_id,
            camera_id=gate.camera_id,
            confidence=round(rng.uniform(0.8, 0.99), 3),
        )

"""Reference data records: the district's communities."""

from __future__ import annotations

from schemas.events import NonEmpty, Record


class Community(Record):
    community_id: NonEmpty
    name: str
    district: str
    lat: float
    lon: float

"""The district's reference data, shipped with the code and loaded at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from schemas.reference import Community

COMMUNITIES_FILE = Path(__file__).with_name("communities.yaml")


@lru_cache(maxsize=1)
def load_communities(path: Path = COMMUNITIES_FILE) -> tuple[Community, ...]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    district = document["district"]
    return tuple(
        Community(
            community_id=c["id"], name=c["name"], district=district, lat=c["lat"], lon=c["lon"]
        )
        for c in document["communities"]
    )


def community_ids() -> frozenset[str]:
    return frozenset(c.community_id for c in load_communities())

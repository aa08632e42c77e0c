"""Every rule the engine runs, in one list: adding a rule module means adding it here."""

from __future__ import annotations

from typing import Any

from streams.rules.rule import Rule
from streams.rules.watchlist_plate import WatchlistPlateRule


def all_rules() -> list[Rule[Any, Any]]:
    return [
        WatchlistPlateRule(),
    ]

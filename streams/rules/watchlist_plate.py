"""WATCHLIST_PLATE: a plate on the police watchlist passes any gate of the district."""

from __future__ import annotations

from datetime import datetime

from schemas.alerts import (
    WATCHLIST_SEVERITY,
    Alert,
    AlertType,
    Evidence,
    WatchlistPlate,
)
from schemas.events import VehiclePassage, normalise_plate


def watchlist_key(plate: str) -> bytes:
    return normalise_plate(plate).encode()


def watchlist_alert(passage: VehiclePassage, entry: WatchlistPlate, now: datetime) -> Alert:
    """One alert per passage; its id derives from the passage so a replay rewrites, not duplicates.

    `updated_at` is the passage's receipt time, not now, so a replayed alert never
    overrides an officer's later acknowledgement.
    """
    direction = "entered" if passage.direction == "in" else "left"
    return Alert(
        alert_id=f"{AlertType.WATCHLIST_PLATE}:{passage.event_id}",
        alert_type=AlertType.WATCHLIST_PLATE,
        severity=WATCHLIST_SEVERITY[entry.category],
        community_id=passage.community_id,
        subject=passage.plate,
        first_seen=passage.occurred_at,
        last_seen=passage.occurred_at,
        explanation=(
            f"Plate {passage.plate} ({entry.category} on the police watchlist"
            f"{': ' + entry.note if entry.note else ''}) {direction} community "
            f"{passage.community_id} at gate {passage.gate_id} "
            f"(camera {passage.camera_id}, read confidence {passage.confidence:.2f})."
        ),
        evidence=[
            Evidence(
                event_id=passage.event_id,
                event_kind=VehiclePassage.kind,
                occurred_at=passage.occurred_at,
                summary=f"{passage.plate} {passage.direction} at gate {passage.gate_id}",
            )
        ],
        raised_at=now,
        updated_at=passage.received_at,
        source_received_at=passage.received_at,
    )

"""Every rule the engine runs, in one list: adding a rule module means adding it here."""

from __future__ import annotations

from typing import Any

from streams.rules.blocked_fire_passage import BlockedFirePassageRule
from streams.rules.bracelet_geofence_exit import BraceletGeofenceExitRule
from streams.rules.bracelet_inactive import BraceletInactiveRule
from streams.rules.bracelet_low_battery import BraceletLowBatteryRule
from streams.rules.bracelet_sos import BraceletSosRule
from streams.rules.charging_overheat import ChargingOverheatRule
from streams.rules.cloned_plate import ClonedPlateRule
from streams.rules.device_offline import DeviceOfflineRule
from streams.rules.ebike_in_elevator import EbikeInElevatorRule
from streams.rules.elderly_not_seen import ElderlyNotSeenRule
from streams.rules.group_renting import GroupRentingRule
from streams.rules.high_altitude_throw import HighAltitudeThrowRule
from streams.rules.known_mlm_return import KnownMlmReturnRule
from streams.rules.mlm_gathering import MlmGatheringRule
from streams.rules.overstay_vehicle import OverstayVehicleRule
from streams.rules.perimeter_intrusion import PerimeterIntrusionRule
from streams.rules.possible_watchlist_plate import PossibleWatchlistPlateRule
from streams.rules.roaming_vehicle import RoamingVehicleRule
from streams.rules.rule import Rule
from streams.rules.stray_dog import StrayDogRule
from streams.rules.watchlist_plate import WatchlistPlateRule


def all_rules() -> list[Rule[Any, Any, Any]]:
    return [
        WatchlistPlateRule(),
        PossibleWatchlistPlateRule(),
        ClonedPlateRule(),
        RoamingVehicleRule(),
        OverstayVehicleRule(),
        MlmGatheringRule(),
        GroupRentingRule(),
        KnownMlmReturnRule(),
        ChargingOverheatRule(),
        EbikeInElevatorRule(),
        BlockedFirePassageRule(),
        HighAltitudeThrowRule(),
        PerimeterIntrusionRule(),
        DeviceOfflineRule(),
        BraceletSosRule(),
        BraceletGeofenceExitRule(),
        BraceletInactiveRule(),
        BraceletLowBatteryRule(),
        ElderlyNotSeenRule(),
        StrayDogRule(),
    ]

"""Background life of the labelled scenario, coherent with every rule so it raises nothing.

Devices beat every two minutes; slots warm slowly and stay below 50 °C; bracelets wander
inside their geofence, move at least every two hours by day and are charged nightly;
residents keep daily routines (the elderly living alone are seen several times a day)
and are home before 22:00; residents' cars leave and return daily; visitors' cars stay
a few hours; strangers at a unit door are a handful a day and never return; riders
deliver at the pedestrian gate; a guard's hourly round keeps every event stream moving
at night. No camera analytics, perimeter alarms or SOS: those come only from incidents.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta

from ingest.simulator.district import (
    ELDERLY_AGE,
    Bracelet,
    ChargingSlot,
    Resident,
    Site,
    metres_between,
    offset,
)
from ingest.simulator.everyday import VISITOR_PLATE_COLOUR_WEIGHTS, VISITOR_PLATE_COLOURS
from ingest.simulator.scenario_world import (
    BRACELET_EVERY_S,
    HEARTBEAT_S,
    BraceletModel,
    DeviceModel,
    Plan,
    Script,
    SlotModel,
    Track,
    local_at,
    local_days,
    ts,
)
from schemas.events import AccessMethod, Direction, Wearer

WANDER_M = (80.0, 300.0)
"""Where a wearer with a 400 m home circle goes: well inside it, GPS jitter included."""
STAY_MIN = (50.0, 100.0)
MOVE_M = 100.0
"""Each daytime move of an elderly wearer goes at least this far: clearly not still."""
WALK_MIN = (8.0, 15.0)
DRAIN_PER_HOUR = (0.02, 0.026)
"""A bracelet charged nightly never drops below 0.3; one left uncharged runs low."""
VISITORS_PER_DAY = (12, 20)
STRANGERS_PER_UNIT_DAY = (0, 3)
DELIVERIES_PER_DAY = (6, 10)
LATEST_RETURN_H = 21.5
"""Residents are home by 21:30: entering a unit door after 22:00 belongs to incidents
(group renting) and near-misses (the night-shift worker)."""


def plan_devices(plan: Plan) -> None:
    """Each device's heartbeat phase; each charging slot's charging sessions."""
    rng = plan.rng("devices")
    start = ts(plan.start)
    days = local_days(plan.start, plan.end)
    for site in plan.sites:
        for device in site.devices:
            model = DeviceModel(site.community_id, device, start + rng.uniform(0.0, HEARTBEAT_S))
            if isinstance(device, ChargingSlot):
                model.slot = SlotModel(device, _charging_sessions(days, rng))
            plan.devices[device.device_id] = model


def _charging_sessions(days: list[date], rng: random.Random) -> list[tuple[float, float]]:
    """Overnight charging most evenings, sometimes a top-up by day."""
    sessions = []
    for day in days:
        if rng.random() < 0.2:
            begin = ts(local_at(day, rng.uniform(10.0, 14.0)))
            sessions.append((begin, begin + rng.uniform(1.5, 3.0) * 3600.0))
        if rng.random() < 0.55:
            begin = ts(local_at(day, rng.uniform(18.5, 21.5)))
            sessions.append((begin, begin + rng.uniform(3.0, 6.0) * 3600.0))
    return sessions


def plan_bracelets(plan: Plan) -> None:
    """Each wearer's daily track, the bracelet's drain and its nightly charges."""
    rng = plan.rng("bracelets")
    start = ts(plan.start)
    days = local_days(plan.start, plan.end)
    for site in plan.sites:
        for bracelet in site.bracelets:
            plan.bracelets[bracelet.bracelet_id] = BraceletModel(
                community_id=site.community_id,
                bracelet=bracelet,
                first_reading=start + rng.uniform(0.0, BRACELET_EVERY_S),
                drain_per_hour=rng.uniform(*DRAIN_PER_HOUR),
                charges=[ts(local_at(day, rng.uniform(21.0, 22.5))) for day in days],
                track=Track(_daily_track(bracelet, days, rng)),
            )


def _daily_track(
    bracelet: Bracelet, days: list[date], rng: random.Random
) -> list[tuple[float, float, float]]:
    home = (bracelet.home_lat, bracelet.home_lon)
    points = [(ts(local_at(days[0], 0.0)), *home)]
    for day in days:
        if bracelet.wearer is Wearer.ELDERLY:
            points += _elderly_day(day, home, rng)
        elif bracelet.wearer is Wearer.PET:
            points += _pet_day(day, home, rng)
        else:
            points += _child_day(bracelet, day, home, rng)
    return points


def wander_spot(home: tuple[float, float], rng: random.Random) -> tuple[float, float]:
    return offset(*home, rng.uniform(*WANDER_M), rng.uniform(0.0, 2 * math.pi))


def _outing(
    at: float, home: tuple[float, float], spot: tuple[float, float], walk_s: float, stay_s: float
) -> list[tuple[float, float, float]]:
    return [
        (at, *home),
        (at + walk_s, *spot),
        (at + walk_s + stay_s, *spot),
        (at + 2 * walk_s + stay_s, *home),
    ]


def _elderly_day(
    day: date, home: tuple[float, float], rng: random.Random
) -> list[tuple[float, float, float]]:
    """A morning walk before 07:30, then a new spot at least every two hours until 20:00."""
    points = _outing(
        ts(local_at(day, rng.uniform(6.3, 6.8))),
        home,
        wander_spot(home, rng),
        15 * 60.0,
        rng.uniform(5, 15) * 60.0,
    )
    at, here = ts(local_at(day, 8.0)), home
    evening = ts(local_at(day, 20.0))
    while at < evening:
        spot = home if here != home and rng.random() < 0.4 else wander_spot(home, rng)
        while metres_between(*here, *spot) < MOVE_M:
            spot = wander_spot(home, rng)
        walk = rng.uniform(*WALK_MIN) * 60.0
        points += [(at, *here), (at + walk, *spot)]
        at, here = at + walk + rng.uniform(*STAY_MIN) * 60.0, spot
    points += [(at, *here), (at + 15 * 60.0, *home)]
    return points


def _pet_day(
    day: date, home: tuple[float, float], rng: random.Random
) -> list[tuple[float, float, float]]:
    points = []
    for hour in (7.0, 12.5, 18.5):
        at = ts(local_at(day, hour + rng.uniform(0.0, 0.5)))
        points += _outing(at, home, wander_spot(home, rng), 12 * 60.0, rng.uniform(5, 15) * 60.0)
    return points


def _child_day(
    bracelet: Bracelet, day: date, home: tuple[float, float], rng: random.Random
) -> list[tuple[float, float, float]]:
    """School days along the route (the geofence chain), play near home at weekends."""
    if day.weekday() >= 5:
        at = ts(local_at(day, rng.uniform(10.0, 15.0)))
        return _outing(at, home, wander_spot(home, rng), 10 * 60.0, rng.uniform(30, 90) * 60.0)
    route = [(c.lat, c.lon) for c in bracelet.geofence]
    leave = ts(local_at(day, rng.uniform(7.2, 7.4)))
    back = ts(local_at(day, rng.uniform(16.4, 16.7)))
    leg = 30 * 60.0 / (len(route) - 1)
    points = [(leave + k * leg, *point) for k, point in enumerate(route)]
    points += [(back + k * leg, *point) for k, point in enumerate(reversed(route))]
    return points


def plan_everyday_life(plan: Plan) -> None:
    """People and cars of every community, around the incidents' blackouts."""
    days = local_days(plan.start, plan.end)
    for site in plan.sites:
        script = plan.script(f"{site.community_id}-life")
        rng = plan.rng(f"life:{site.community_id}")
        for resident in site.residents:
            for day in days:
                for leave, back in _outings(resident, day, rng):
                    trip = (local_at(day, leave), local_at(day, back))
                    _outing_events(plan, script, site, resident, *trip, rng)
        _resident_cars(plan, script, site, days, rng)
        _visitors(plan, script, site, days, rng)
        _guard_rounds(script, site, days, rng)
        _strangers_and_riders(plan, script, site, days, rng)


def _outings(resident: Resident, day: date, rng: random.Random) -> list[tuple[float, float]]:
    """(leave, return) in local hours, all back by LATEST_RETURN_H. The elderly living
    alone go out morning, afternoon and evening: never unseen for more than ~12 h."""
    weekday = day.weekday() < 5
    if resident.age >= ELDERLY_AGE:
        morning, afternoon = rng.uniform(7.0, 8.5), rng.uniform(15.0, 16.0)
        outings = [
            (morning, morning + rng.uniform(1.0, 2.0)),
            (afternoon, afternoon + rng.uniform(0.5, 1.5)),
        ]
        if resident.lives_alone:
            evening = rng.uniform(19.0, 19.5)
            outings.append((evening, evening + rng.uniform(0.3, 0.7)))
        return outings
    if resident.age < 18 and weekday:
        return [(rng.uniform(7.1, 7.6), rng.uniform(16.3, 17.2))]
    if resident.age >= 18 and weekday and rng.random() < 0.85:
        return [(rng.uniform(7.0, 9.0), rng.uniform(17.5, LATEST_RETURN_H))]
    if rng.random() < 0.6:
        leave = rng.uniform(9.5, 14.0)
        return [(leave, leave + rng.uniform(2.0, 5.0))]
    return []


def _outing_events(
    plan: Plan,
    script: Script,
    site: Site,
    resident: Resident,
    leave: datetime,
    back: datetime,
    rng: random.Random,
) -> None:
    """Out through the pedestrian gate; back through it, then in at the unit door."""
    cid, pid, door = site.community_id, resident.person_id, resident.door_id
    gate = rng.choice(site.pedestrian_gates)
    home = back + timedelta(minutes=rng.uniform(2.0, 5.0))
    moments = [
        (leave, "access", (cid, gate, False, pid)),
        (leave, "capture", (cid, f"{gate}-cam", pid, pid)),
        (back, "access", (cid, gate, False, pid)),
        (home, "access", (cid, door, True, pid)),
        (home, "capture", (cid, f"{door}-cam", pid, pid)),
    ]
    for at, kind, args in moments:
        if not plan.away(pid, at):
            script.add(at, kind, *args)


def _resident_cars(
    plan: Plan, script: Script, site: Site, days: list[date], rng: random.Random
) -> None:
    """Out in the morning and back in the evening on most weekdays, by their usual gate."""
    for vehicle in site.vehicles:
        gate = rng.choice(site.gates)
        for day in days:
            if day.weekday() < 5 and rng.random() < 0.75:
                out, back = rng.uniform(7.0, 9.5), rng.uniform(17.0, 20.5)
            elif day.weekday() >= 5 and rng.random() < 0.5:
                out = rng.uniform(10.0, 12.0)
                back = out + rng.uniform(3.0, 7.0)
            else:
                continue
            for hour, direction in ((out, Direction.OUT), (back, Direction.IN)):
                at = local_at(day, hour)
                if not plan.away(vehicle.plate, at):
                    crossing = (gate, vehicle.plate, vehicle.colour, direction)
                    script.add(at, "passage", site.community_id, *crossing)


def _visitors(plan: Plan, script: Script, site: Site, days: list[date], rng: random.Random) -> None:
    """Strangers' cars, each plate once in the whole scenario, gone within eight hours."""
    for day in days:
        for _ in range(rng.randint(*VISITORS_PER_DAY)):
            plate = plan.visitor_plate(rng)
            colour = rng.choices(VISITOR_PLATE_COLOURS, VISITOR_PLATE_COLOUR_WEIGHTS)[0]
            arrive = rng.uniform(8.0, 20.5)
            stay = rng.uniform(*rng.choices(((10, 60), (60, 240), (240, 480)), (60, 35, 5))[0])
            leave = min(arrive + stay / 60.0, 23.5)
            for hour, direction in ((arrive, Direction.IN), (leave, Direction.OUT)):
                crossing = (rng.choice(site.gates), plate, colour, direction)
                script.add(local_at(day, hour), "passage", site.community_id, *crossing)


def _guard_rounds(script: Script, site: Site, days: list[date], rng: random.Random) -> None:
    """The guard badges through the pedestrian gate every hour, day and night."""
    cid = site.community_id
    guard, gate = f"{cid}-guard", site.pedestrian_gates[0]
    for day in days:
        for hour in range(24):
            at = local_at(day, hour + rng.uniform(5.0, 15.0) / 60.0)
            script.add(at, "access", cid, gate, False, guard, AccessMethod.CARD)
            script.add(at, "capture", cid, f"{gate}-cam", guard, guard)


def _strangers_and_riders(
    plan: Plan, script: Script, site: Site, days: list[date], rng: random.Random
) -> None:
    """A few one-off visitors at unit doors; riders deliver at the pedestrian gates."""
    cid = site.community_id
    for day in days:
        for door in site.unit_doors:
            for _ in range(rng.randint(*STRANGERS_PER_UNIT_DAY)):
                at = local_at(day, rng.uniform(9.0, 20.0))
                script.add(at, "capture", cid, f"{door}-cam", None)
                script.add(at + timedelta(seconds=20), "access", cid, door, True)
        for _ in range(rng.randint(*DELIVERIES_PER_DAY)):
            rider = f"rider-{rng.randrange(plan.district.riders)}"
            gate = rng.choice(site.pedestrian_gates)
            at = local_at(day, rng.uniform(10.0, 20.5))
            script.add(at, "capture", cid, f"{gate}-cam", rider)
            script.add(
                at + timedelta(seconds=15), "access", cid, gate, False, None, AccessMethod.QR
            )

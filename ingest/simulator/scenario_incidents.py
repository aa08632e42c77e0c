"""Injected incidents of the labelled scenario, each with its label, and the near-misses.

Each planner places up to `count` instances spread over the span and across communities,
and skips what does not fit: a span too short for the pattern (three nights, 24 hours
inside) or no free entity (a unit, a slot, a bracelet already in another incident).
A label bounds when the alert may first fire: the event that completes the rule's
condition, or the moment an absence becomes long enough. Near-misses come close to a
rule's threshold without crossing it and carry no label.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from ingest.simulator.district import (
    OCR_CONFUSIONS,
    Bracelet,
    CameraRole,
    ChargingSlot,
    Gate,
    Site,
    metres_between,
    offset,
    plates_resemble,
)
from ingest.simulator.everyday import slot_metrics
from ingest.simulator.scenario_life import wander_spot
from ingest.simulator.scenario_world import (
    HEARTBEAT_S,
    BraceletModel,
    Plan,
    Script,
    SlotEpisode,
    SlotModel,
    Track,
    hhmm,
    local_at,
    local_day,
    local_days,
    ts,
    utc,
    when,
)
from schemas.alerts import AlertType
from schemas.events import (
    AccessMethod,
    CameraAnalyticsKind,
    Direction,
    PerimeterAlarmKind,
    PlateColour,
    Wearer,
)
from schemas.reference import distance_km

T = TypeVar("T")
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
CONFUSABLE_SWAPS = dict(zip("0D8B12Z5S", "D0B8IZ2S5", strict=True))
"""How a plate reader misreads: 0 as D, 8 as B, 1 as I, 2 as Z, 5 as S, and back."""
CLONE_KMH = 200.0
LEGAL_KMH = 18.0
SLOT_HOT_C = 60.0
WALK_OUT_M = 150.0
"""A geofence exit ends this far beyond the nearest circle's edge."""
EDGE_M = 20.0
"""Readings this close to a geofence edge may read either way once GPS jitters."""

Planner = Callable[[Plan, int], None]


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def rotated(items: list[T], first: int) -> list[T]:
    first %= max(1, len(items))
    return items[first:] + items[:first]


def candidates(sites: list[Site], i: int, pick: Callable[[Site], Iterable[T]]) -> list[T]:
    """Entities of the i-th site of the rotation first, then of the following ones."""
    return [entity for site in rotated(sites, i) for entity in pick(site)]


def free(
    plan: Plan, options: Iterable[T], key: Callable[[T], str], start: datetime, end: datetime
) -> T | None:
    """The first option whose entity can be claimed for [start, end]."""
    return next((option for option in options if plan.claim(key(option), start, end)), None)


def drive(
    script: Script, site: Site, gate: Gate, plate: str, at: datetime, direction: Direction
) -> None:
    script.add(at, "passage", site.community_id, gate, plate, PlateColour.BLUE, direction)


def visit(
    script: Script,
    site: Site,
    plate: str,
    arrive: datetime,
    leave: datetime,
    rng: random.Random,
) -> None:
    """A car in through one gate of `site` and out through another."""
    drive(script, site, rng.choice(site.gates), plate, arrive, Direction.IN)
    drive(script, site, rng.choice(site.gates), plate, leave, Direction.OUT)


def gate_km(a: Gate, b: Gate) -> float:
    return distance_km(a.lat, a.lon, b.lat, b.lon)


def family_units(site: Site) -> list[str]:
    alone = {r.door_id for r in site.residents if r.lives_alone}
    return [door for door in site.unit_doors if door not in alone]


def residents_of(site: Site, door: str) -> list[str]:
    return [r.person_id for r in site.residents if r.door_id == door]


def public_cameras(plan: Plan, site: Site, place_prefix: str) -> list[str]:
    """Public cameras whose place starts with e.g. `c01-fz1` (a fence zone) or `c01-fp`."""
    return [
        camera
        for camera in site.cameras[CameraRole.PUBLIC]
        if (plan.devices[camera].device.place or "").startswith(place_prefix)
    ]


def community_of(entity_id: str) -> str:
    """Every id in the district starts with its community's: c01-b02-u1, c03-shed1-s02."""
    return entity_id.split("-", 1)[0]


# Vehicles


def watchlist_plate(plan: Plan, count: int) -> None:
    """A watchlisted car enters, and leaves within the hour: alert on entry."""
    rng = plan.rng("watchlist_plate")
    entries = plan.district.watchlist[: (len(plan.district.watchlist) + 1) // 2]
    sites = plan.rotation(rng)
    windows = plan.windows(10 * MINUTE, 10 * MINUTE, (7.0, 23.0))
    onsets = plan.spread(min(count, len(entries)), windows, rng)
    for i, (at, entry) in enumerate(zip(onsets, entries, strict=False)):
        site = sites[i % len(sites)]
        gate = rng.choice(site.gates)
        script = plan.script(f"watchlist-plate-{i + 1}")
        drive(script, site, gate, entry.plate, at, Direction.IN)
        leave = at + minutes(rng.uniform(15, 50))
        drive(script, site, rng.choice(site.gates), entry.plate, leave, Direction.OUT)
        plan.label(
            AlertType.WATCHLIST_PLATE,
            site.community_id,
            entry.plate,
            at,
            at,
            f"watchlisted {entry.plate} ({entry.category}) enters at {gate.gate_id} {when(at)}",
        )


def misread(plan: Plan, plate: str, confusion: bool, rng: random.Random) -> tuple[str, str] | None:
    """The plate as a reader gets it wrong: an OCR-confusable character swapped (8 as B),
    or one character plainly wrong; never a plate in use, nor like another watchlisted one."""
    positions = list(range(2, len(plate)))
    rng.shuffle(positions)
    others = [e.plate for e in plan.district.watchlist if e.plate != plate]
    for p in positions:
        char = plate[p]
        if confusion and char not in CONFUSABLE_SWAPS:
            continue
        if confusion:
            wrong = CONFUSABLE_SWAPS[char]
        else:
            canonical = OCR_CONFUSIONS.get(char, char)
            wrong = rng.choice([d for d in "0123456789" if OCR_CONFUSIONS.get(d, d) != canonical])
        read = plate[:p] + wrong + plate[p + 1 :]
        if read in plan.plates or any(plates_resemble(read, other) for other in others):
            continue
        plan.plates.add(read)
        return read, f"{char} read as {wrong}" + (", an OCR confusion" if confusion else "")
    return None


def possible_watchlist_plate(plan: Plan, count: int) -> None:
    """A watchlisted car read one character off on the way in and out: a possible match,
    never an exact one (those plates get no exact sighting in this scenario)."""
    rng = plan.rng("possible_watchlist_plate")
    watchlist = plan.district.watchlist
    entries = watchlist[(len(watchlist) + 1) // 2 :] or watchlist
    sites = plan.rotation(rng)
    windows = plan.windows(10 * MINUTE, 10 * MINUTE, (7.0, 23.0))
    for i, at in enumerate(plan.spread(count, windows, rng)):
        entry = entries[i % len(entries)]
        read = misread(plan, entry.plate, i % 2 == 0, rng) or misread(plan, entry.plate, False, rng)
        if read is None:
            continue
        plate, how = read
        site = sites[i % len(sites)]
        gate = rng.choice(site.gates)
        script = plan.script(f"possible-watchlist-{i + 1}")
        drive(script, site, gate, plate, at, Direction.IN)
        leave = at + minutes(rng.uniform(20, 45))
        drive(script, site, rng.choice(site.gates), plate, leave, Direction.OUT)
        plan.label(
            AlertType.POSSIBLE_WATCHLIST_PLATE,
            site.community_id,
            plate,
            at,
            at,
            f"read {plate} at {gate.gate_id} {when(at)}: watchlisted {entry.plate} ({how})",
        )


def farthest(sites: list[Site], site: Site) -> Site:
    def km(other: Site) -> float:
        a, b = site.community, other.community
        return distance_km(a.lat, a.lon, b.lat, b.lon)

    return max((other for other in sites if other is not site), key=km)


def cloned_plate(plan: Plan, count: int) -> None:
    """One plate on two cars. Either the car leaves one community and "the same" plate
    enters another minutes later, too far for the time (> 120 km/h): alert at that entry.
    Or it enters one community while still inside another: a rule may raise that on the
    entry or wait for the exit that proves the stay, so the label spans both."""
    if len(plan.sites) < 2:
        return
    rng = plan.rng("cloned_plate")
    sites = plan.rotation(rng)
    fast = plan.spread((count + 1) // 2, plan.windows(HOUR, 15 * MINUTE, (8, 20)), rng)
    twice = plan.spread(count // 2, plan.windows(10 * MINUTE, 5 * HOUR, (17, 19)), rng)
    for i, at in enumerate(sorted(fast + twice)):
        first = sites[i % len(sites)]
        second = farthest(sites, first)
        gate_a, gate_b = rng.choice(first.gates), rng.choice(second.gates)
        km = gate_km(gate_a, gate_b)
        plate = plan.visitor_plate(rng)
        script = plan.script(f"cloned-plate-{i + 1}")
        if at in fast:
            seen = at + timedelta(seconds=max(20.0, km / CLONE_KMH * 3600.0))
            entered = at - minutes(rng.uniform(30, 60))
            drive(script, first, rng.choice(first.gates), plate, entered, Direction.IN)
            drive(script, first, gate_a, plate, at, Direction.OUT)
            drive(script, second, gate_b, plate, seen, Direction.IN)
            leave = seen + minutes(rng.uniform(20, 40))
            drive(script, second, rng.choice(second.gates), plate, leave, Direction.OUT)
            gap = (seen - at).total_seconds() / 60
            how = f"leaves {gate_a.gate_id} {hhmm(at)}, enters {gate_b.gate_id} {hhmm(seen)}: "
            how += f"{km:.1f} km in {gap:.1f} min"
            latest = seen
        else:
            seen = at + minutes(rng.uniform(60, 100))
            latest = at + minutes(rng.uniform(180, 240))
            drive(script, first, gate_a, plate, at, Direction.IN)
            drive(script, second, gate_b, plate, seen, Direction.IN)
            leave = seen + minutes(rng.uniform(30, 50))
            drive(script, second, rng.choice(second.gates), plate, leave, Direction.OUT)
            drive(script, first, rng.choice(first.gates), plate, latest, Direction.OUT)
            how = f"inside {first.community_id} {hhmm(at)}-{hhmm(latest)}, enters "
            how += f"{gate_b.gate_id} {hhmm(seen)}"
        note = f"cloned plate {plate}: {how}"
        plan.label(AlertType.CLONED_PLATE, second.community_id, plate, seen, latest, note)


def roaming_vehicle(plan: Plan, count: int) -> None:
    """A stranger's car casing the district: three communities within two hours, or one
    community between 00:00 and 05:00 on three nights. Alert on the third entry."""
    rng = plan.rng("roaming_vehicle")
    sites = plan.rotation(rng)
    tour_windows = plan.windows(10 * MINUTE, 2 * HOUR, (9, 16)) if len(sites) >= 3 else []
    night_windows = plan.windows(10 * MINUTE, 2 * DAY + 4 * HOUR, (1.0, 3.5))
    tours = (count + 1) // 2 if night_windows else count
    nights = count - tours if tour_windows else count
    starts = [(at, True) for at in plan.spread(tours, tour_windows, rng)]
    starts += [(at, False) for at in plan.spread(nights, night_windows, rng)]
    for i, (at, tour) in enumerate(sorted(starts)):
        plate = plan.visitor_plate(rng)
        script = plan.script(f"roaming-{i + 1}")
        if tour:
            route = rotated(sites, i)[:3]
            entry = last = at
            for site in route:
                leave = entry + minutes(rng.uniform(12, 18))
                visit(script, site, plate, entry, leave, rng)
                last, entry = entry, leave + minutes(rng.uniform(20, 30))
            where = route[-1]
            names = ", ".join(s.community_id for s in route)
            note = f"{plate} enters {names} within {(last - at).total_seconds() / 60:.0f} min"
        else:
            where = sites[i % len(sites)]
            last = at
            for night in range(3):
                if night:
                    last = local_at(local_day(at) + timedelta(days=night), rng.uniform(1.0, 3.5))
                visit(script, where, plate, last, last + minutes(rng.uniform(20, 40)), rng)
            note = f"{plate} enters {where.community_id} at night 3 times, last {when(last)}"
        plan.label(AlertType.ROAMING_VEHICLE, where.community_id, plate, last, last, note)


def overstay_vehicle(plan: Plan, count: int) -> None:
    """A stranger's car inside for more than a day (it leaves after 26-30 h)."""
    rng = plan.rng("overstay_vehicle")
    sites = plan.rotation(rng)
    windows = plan.windows(10 * MINUTE, DAY + 90 * MINUTE, (10, 15))
    for i, at in enumerate(plan.spread(count, windows, rng)):
        site = sites[i % len(sites)]
        plate = plan.visitor_plate(rng)
        leave = at + timedelta(hours=rng.uniform(26.0, 30.0))
        visit(plan.script(f"overstay-{i + 1}"), site, plate, at, leave, rng)
        hours = (leave - at).total_seconds() / 3600
        plan.label(
            AlertType.OVERSTAY_VEHICLE,
            site.community_id,
            plate,
            at + DAY,
            at + DAY + 30 * MINUTE,
            f"visitor car {plate} enters {site.community_id} {when(at)}, stays {hours:.0f} h",
        )


# People


def mlm_gathering(plan: Plan, count: int) -> None:
    """A pyramid-selling meeting at a unit: 16-20 unknown visitors on three days running,
    most within the same two hours, seven of them every day. Alert on the third day."""
    rng = plan.rng("mlm_gathering")
    sites = plan.rotation(rng)
    windows = plan.windows(HOUR, 2 * DAY + 4 * HOUR, (9, 18))
    for i, at in enumerate(plan.spread(count, windows, rng)):
        units = candidates(sites, i, family_units)
        door = free(plan, units, lambda d: f"unit:{d}", plan.start, plan.end)
        if door is None:
            return
        cid, camera = community_of(door), f"{door}-cam"
        script = plan.script(f"mlm-{i + 1}")
        pool = [f"mlm-{door}-{n}" for n in range(24)]
        regulars, others = pool[:7], pool[7:]
        counts = []
        for day in range(3):
            meeting = at + day * DAY
            visitors = regulars + rng.sample(others, rng.randint(9, 13))
            counts.append(str(len(visitors)))
            for visitor in visitors:
                late = rng.uniform(0, 120)
                if rng.random() < 0.15:
                    late = rng.choice((rng.uniform(-60, 0), rng.uniform(120, 180)))
                arrive = meeting + minutes(late)
                script.add(arrive, "capture", cid, camera, visitor)
                if rng.random() < 0.5:
                    script.add(arrive + timedelta(seconds=10), "access", cid, door, True)
        last = at + 2 * DAY
        plan.label(
            AlertType.MLM_GATHERING,
            cid,
            door,
            last - HOUR,
            last + 3 * HOUR,
            f"{door}: {'/'.join(counts)} unknown visitors on 3 days from {when(at)}, mostly "
            "within 2 h, 7 of them every day",
        )


def group_renting(plan: Plan, count: int) -> None:
    """A unit sleeping nine: its registered residents and four unregistered tenants come
    in after 22:00 on three nights and are seen nowhere else before 06:30."""
    rng = plan.rng("group_renting")
    sites = plan.rotation(rng)
    windows = plan.windows(HOUR, 2 * DAY + 10 * HOUR, (21.95, 22.05))

    def large(site: Site) -> list[str]:
        return [d for d in family_units(site) if len(residents_of(site, d)) >= 4]

    for i, at in enumerate(plan.spread(count, windows, rng)):
        door = free(plan, candidates(sites, i, large), lambda d: f"unit:{d}", plan.start, plan.end)
        if door is None:
            return
        plan.renting_units.add(door)
        site = plan.site(community_of(door))
        cid, camera = site.community_id, f"{door}-cam"
        residents = residents_of(site, door)
        tenants = [f"tenant-{door}-{n}" for n in range(4)]
        script = plan.script(f"group-renting-{i + 1}")
        first_night = local_day(at)
        for night in range(3):
            day = first_night + timedelta(days=night)
            for resident in residents:
                plan.blackouts[resident].append((local_at(day, 17.0), local_at(day, 30.5)))
                home = local_at(day, rng.uniform(22.1, 23.8))
                script.add(home, "access", cid, door, True, resident)
                script.add(home, "capture", cid, camera, resident, resident)
            for tenant in tenants:
                home = local_at(day, rng.uniform(22.15, 23.9))
                script.add(home, "capture", cid, camera, tenant)
                script.add(home, "access", cid, door, True, None, AccessMethod.PASSWORD)
                out = local_at(day, rng.uniform(30.5, 32.0))
                script.add(out, "capture", cid, f"{site.pedestrian_gates[0]}-cam", tenant)
        last = local_at(first_night + timedelta(days=2), 22.0)
        plan.label(
            AlertType.GROUP_RENTING,
            cid,
            door,
            last,
            last + timedelta(hours=8.5),
            f"{door}: {len(residents)} residents and {len(tenants)} unregistered people come in "
            f"after 22:00 on 3 nights from {first_night:%m-%d}",
        )


def known_mlm_return(plan: Plan, count: int) -> None:
    """Someone photographed at a past pyramid-selling raid walks in at a pedestrian gate."""
    rng = plan.rng("known_mlm_return")
    sites = plan.rotation(rng)
    faces = plan.district.watchlist_faces
    windows = plan.windows(10 * MINUTE, 10 * MINUTE, (9, 20))
    onsets = plan.spread(min(count, len(faces)), windows, rng)
    for i, (at, face) in enumerate(zip(onsets, faces, strict=False)):
        site = sites[i % len(sites)]
        cid = site.community_id
        camera = f"{rng.choice(site.pedestrian_gates)}-cam"
        script = plan.script(f"known-mlm-{i + 1}")
        script.add(at, "capture", cid, camera, face.face_id)
        if rng.random() < 0.5:
            door = rng.choice(site.unit_doors)
            script.add(at + minutes(rng.uniform(2, 4)), "capture", cid, f"{door}-cam", face.face_id)
        note = f"{face.face_id} (case {face.case}) at {camera} {when(at)}"
        plan.label(AlertType.KNOWN_MLM_RETURN, cid, face.face_id, at, at, note)


def elderly_not_seen(plan: Plan, count: int) -> None:
    """An elderly resident living alone comes home one evening and is not seen for 27 h."""
    rng = plan.rng("elderly_not_seen")
    sites = plan.rotation(rng)
    windows = plan.windows(2 * HOUR, DAY + 90 * MINUTE, (17.5, 19.5))
    for i, at in enumerate(plan.spread(count, windows, rng)):
        alone = [
            r
            for r in candidates(sites, i, lambda s: s.residents)
            if r.elderly_alone and not plan.labelled(AlertType.ELDERLY_NOT_SEEN, r.person_id)
        ]
        resident = free(plan, alone, lambda r: f"person:{r.person_id}", at - HOUR, at + 27 * HOUR)
        if resident is None:
            return
        pid, door = resident.person_id, resident.door_id
        cid = community_of(door)
        back = at + 27 * HOUR
        plan.blackouts[pid].append((at + timedelta(seconds=1), back - timedelta(seconds=1)))
        script = plan.script(f"elderly-{i + 1}")
        for moment in (at, back):
            script.add(moment, "access", cid, door, True, pid)
            script.add(moment, "capture", cid, f"{door}-cam", pid, pid)
        plan.label(
            AlertType.ELDERLY_NOT_SEEN,
            cid,
            pid,
            at + DAY,
            at + DAY + 30 * MINUTE,
            f"{pid} (aged {resident.age}, alone at {door}) last seen {when(at)}, next {when(back)}",
        )


# Devices and cameras


def charging_overheat(plan: Plan, count: int) -> None:
    """A faulty charge: temperature jumping 7 °C/min, creeping past 60 °C at 4 °C/min,
    current above the slot's rating, or smoke; then the breaker trips and it cools."""
    rng = plan.rng("charging_overheat")
    sites = plan.rotation(rng)
    faults = ("jump", "creep", "current", "smoke")
    for i, at in enumerate(plan.spread(count, plan.windows(30 * MINUTE, 30 * MINUTE), rng)):
        found = slot_for(plan, sites, i, at, 3 * HOUR)
        if found is None:
            continue
        model, onset = found
        fault = faults[i % len(faults)]
        readings, trigger = fault_readings(model, onset, fault, rng)
        model.episodes.append(SlotEpisode(onset, readings))
        model.trip(onset)
        start, device = utc(onset), model.slot.device_id
        first, last = readings[0]["temperature_c"], readings[-1]["temperature_c"]
        plan.label(
            AlertType.CHARGING_OVERHEAT,
            community_of(device),
            device,
            start,
            max(start + 10 * MINUTE, utc(trigger) + 2 * MINUTE),
            f"{device}: {fault} from {when(start)} ({first:.0f} → {last:.0f} °C)",
        )


def slot_for(
    plan: Plan, sites: list[Site], i: int, at: datetime, span: timedelta
) -> tuple[SlotModel, float] | None:
    """A free charging slot never overheated before, and the heartbeat at or after `at`
    when its episode starts."""
    slots = candidates(sites, i, lambda s: [d for d in s.devices if isinstance(d, ChargingSlot)])
    for slot in slots:
        if plan.labelled(AlertType.CHARGING_OVERHEAT, slot.device_id):
            continue
        model = plan.devices[slot.device_id]
        onset = model.beat_at_or_after(ts(at))
        key = f"device:{slot.device_id}"
        if model.slot and plan.claim(key, utc(onset) - 10 * MINUTE, utc(onset) + span):
            return model.slot, onset
    return None


def fault_readings(
    model: SlotModel, onset: float, fault: str, rng: random.Random
) -> tuple[list[dict[str, float]], float]:
    """The fault's readings, one per heartbeat from `onset`, and when the rule's threshold
    is first crossed."""
    base = model.background_c(onset)

    def reading(temperature: float, current: float, smoke: bool = False) -> dict[str, float]:
        voltage = rng.gauss(220.0, 2.0)
        return slot_metrics(model.slot.slot, temperature, current, voltage, True, smoke)

    if fault == "jump":
        return [reading(min(base + 14.0 * k, 95.0), 3.0) for k in range(1, 7)], onset
    if fault == "creep":
        temps = [base + 8.0 * k for k in range(1, math.floor((SLOT_HOT_C - base) / 8.0) + 4)]
        crossed = next(k for k, t in enumerate(temps) if round(t, 1) > SLOT_HOT_C)
        return [reading(t, 3.2) for t in temps], onset + crossed * HEARTBEAT_S
    if fault == "current":
        return [reading(base + 1.5 * k, rng.uniform(9.2, 10.8)) for k in range(1, 4)], onset
    return [reading(base + 2.0 * k, 2.8, smoke=True) for k in range(1, 4)], onset


def camera_incidents(
    plan: Plan,
    count: int,
    alert_type: AlertType,
    cameras: Callable[[Site], list[str]],
    hours: tuple[float, float],
    reports: Callable[[datetime, random.Random], list[datetime]],
    window: tuple[timedelta, timedelta] = (timedelta(0), timedelta(0)),
    details: Callable[[random.Random], dict[str, int]] = lambda rng: {},
) -> None:
    """Camera analytics of `alert_type`'s kind: `reports` gives the detections' times,
    `window` the label's offsets from the first one."""
    kind = CameraAnalyticsKind(alert_type.value.lower())
    rng = plan.rng(kind.value)
    sites = plan.rotation(rng)
    windows = plan.windows(10 * MINUTE, 15 * MINUTE + window[1], hours)
    for i, at in enumerate(plan.spread(count, windows, rng)):
        times = reports(at, rng)
        options = [c for c in candidates(sites, i, cameras) if not plan.labelled(alert_type, c)]
        camera = free(plan, options, lambda c: f"camera:{c}", at, times[-1])
        if camera is None:
            continue
        cid = community_of(camera)
        script = plan.script(f"{kind.value}-{i + 1}")
        extra = details(rng)
        for moment in times:
            script.add(moment, "analytics", cid, camera, kind, **extra)
        where = "".join(f", {name} {value}" for name, value in extra.items())
        note = f"{kind.value} at {camera} from {when(at)}{where}: {len(times)} reports"
        plan.label(alert_type, cid, camera, at + window[0], at + window[1], note)


def minute_reports(at: datetime, count: int, rng: random.Random) -> list[datetime]:
    """A standing condition reported about once a minute."""
    later = [at + timedelta(seconds=60 * k + rng.uniform(-3, 3)) for k in range(1, count)]
    return [at, *later]


def ebike_in_elevator(plan: Plan, count: int) -> None:
    camera_incidents(
        plan,
        count,
        AlertType.EBIKE_IN_ELEVATOR,
        lambda site: site.cameras[CameraRole.ELEVATOR],
        (7, 22),
        lambda at, rng: [at, at + timedelta(seconds=rng.uniform(25, 40))],
    )


def blocked_fire_passage(plan: Plan, count: int) -> None:
    """Reported every minute for 20-35 min: the alert once it has lasted over 10 min."""
    camera_incidents(
        plan,
        count,
        AlertType.BLOCKED_FIRE_PASSAGE,
        lambda site: public_cameras(plan, site, f"{site.community_id}-fp"),
        (8, 20),
        lambda at, rng: minute_reports(at, rng.randint(20, 35), rng),
        window=(10 * MINUTE, 12 * MINUTE),
    )


def high_altitude_throw(plan: Plan, count: int) -> None:
    camera_incidents(
        plan,
        count,
        AlertType.HIGH_ALTITUDE_THROW,
        lambda site: site.cameras[CameraRole.FACADE],
        (7, 22),
        lambda at, rng: [at],
        details=lambda rng: {"floor": rng.randint(3, 18), "window_column": rng.randint(1, 6)},
    )


def dog_key(site: Site) -> str:
    """One stray-dog incident per community: the alert's subject is the community."""
    return f"dogs:{site.community_id}"


def stray_dog(plan: Plan, count: int) -> None:
    """A stray dog crossing a community: three cameras see it within two hours."""
    rng = plan.rng("stray_dog")
    sites = plan.rotation(rng)
    windows = plan.windows(10 * MINUTE, 3 * HOUR, (7, 16))
    for i, at in enumerate(plan.spread(count, windows, rng)):
        site = free(plan, rotated(sites, i), dog_key, plan.start, plan.end)
        if site is None:
            return
        cid = site.community_id
        cameras = [*site.cameras[CameraRole.PUBLIC], *(f"{g}-cam" for g in site.pedestrian_gates)]
        first, second, third = rng.sample(cameras, 3)
        times = [at]
        for _ in range(3):
            times.append(times[-1] + minutes(rng.uniform(20, 35)))
        script = plan.script(f"stray-dog-{i + 1}")
        for camera, moment in zip((first, second, third, first), times, strict=True):
            script.add(moment, "analytics", cid, camera, CameraAnalyticsKind.STRAY_DOG)
        note = f"stray dog on {first}, {second}, {third} from {when(at)}"
        plan.label(AlertType.STRAY_DOG, cid, cid, times[2], times[2], note)


def perimeter_intrusion(plan: Plan, count: int) -> None:
    """Someone climbs the fence at night; the zone's camera catches faces within 2 min."""
    rng = plan.rng("perimeter_intrusion")
    sites = plan.rotation(rng)
    windows = plan.windows(10 * MINUTE, 10 * MINUTE, (21, 29))
    for i, at in enumerate(plan.spread(count, windows, rng)):
        zones = [
            z
            for z in candidates(sites, i, lambda s: s.fence_zones)
            if not plan.labelled(AlertType.PERIMETER_INTRUSION, z)
        ]
        zone = free(plan, zones, lambda z: f"device:{z}-ctl", at - 10 * MINUTE, at + 10 * MINUTE)
        if zone is None:
            continue
        site = plan.site(community_of(zone))
        cid, camera = site.community_id, public_cameras(plan, site, zone)[0]
        script = plan.script(f"perimeter-{i + 1}")
        script.add(at, "alarm", cid, zone, PerimeterAlarmKind.CROSS)
        for intruder in range(rng.randint(1, 2)):
            for seconds in (rng.uniform(15, 50), rng.uniform(60, 110)):
                face = f"intruder-{zone}-{i}-{intruder}"
                script.add(at + timedelta(seconds=seconds), "capture", cid, camera, face)
        note = f"fence crossed at {zone} {when(at)}, faces on {camera}"
        plan.label(AlertType.PERIMETER_INTRUSION, cid, zone, at, at, note)


def device_offline(plan: Plan, count: int) -> None:
    """A smoke detector or fence controller silent for 15 min, then back after a reboot."""
    rng = plan.rng("device_offline")
    sites = plan.rotation(rng)
    kinds = ("smoke_detector", "fence_controller")
    for i, at in enumerate(plan.spread(count, plan.windows(20 * MINUTE, 40 * MINUTE), rng)):
        devices = candidates(sites, i, lambda s: [d for d in s.devices if d.kind in kinds])
        for device in devices:
            if plan.labelled(AlertType.DEVICE_OFFLINE, device.device_id):
                continue
            model = plan.devices[device.device_id]
            last = model.beat_at_or_after(ts(at))
            span = (utc(last) - 5 * MINUTE, utc(last) + 20 * MINUTE)
            if plan.claim(f"device:{device.device_id}", *span):
                break
        else:
            continue
        model.silences.append((last, last + 15 * 60.0))
        model.boots.append(last + 15 * 60.0)
        silent = utc(last)
        plan.label(
            AlertType.DEVICE_OFFLINE,
            model.community_id,
            device.device_id,
            silent + 5 * MINUTE,
            silent + 6 * MINUTE,
            f"{device.device_id} ({device.kind} at {device.place}) silent after {when(silent)}: "
            "16 min between reports",
        )


# Bracelets


def bracelet_models(
    plan: Plan,
    sites: list[Site],
    i: int,
    alert_type: AlertType | None,
    wearers: Iterable[Wearer] = tuple(Wearer),
) -> list[BraceletModel]:
    """Bracelets of the allowed wearers not yet in an incident of `alert_type`."""
    allowed = set(wearers)
    bracelets = candidates(sites, i, lambda s: s.bracelets)
    return [
        plan.bracelets[b.bracelet_id]
        for b in bracelets
        if b.wearer in allowed and not (alert_type and plan.labelled(alert_type, b.bracelet_id))
    ]


def track_key(model: BraceletModel) -> str:
    """Position and SOS share one claim: an SOS reading during a walk-out would count."""
    return f"track:{model.bracelet.bracelet_id}"


def bracelet_sos(plan: Plan, count: int) -> None:
    """The wearer presses SOS, twice within the minute."""
    rng = plan.rng("bracelet_sos")
    sites = plan.rotation(rng)
    windows = plan.windows(10 * MINUTE, 10 * MINUTE, (7, 21))
    for i, at in enumerate(plan.spread(count, windows, rng)):
        models = bracelet_models(plan, sites, i, AlertType.BRACELET_SOS)
        model = free(plan, models, track_key, at - 10 * MINUTE, at + 10 * MINUTE)
        if model is None:
            continue
        model.sos += [ts(at), ts(at) + rng.uniform(20, 40)]
        bracelet = model.bracelet
        note = f"SOS on {bracelet.bracelet_id} ({bracelet.wearer}) {when(at)}"
        plan.label(AlertType.BRACELET_SOS, model.community_id, bracelet.bracelet_id, at, at, note)


def beyond_edge_m(bracelet: Bracelet, lat: float, lon: float) -> float:
    """Metres outside the nearest geofence circle (negative inside)."""
    return min(metres_between(c.lat, c.lon, lat, lon) - c.radius_m for c in bracelet.geofence)


def outside_point(bracelet: Bracelet, rng: random.Random) -> tuple[float, float]:
    bearing = rng.uniform(0.0, 2 * math.pi)
    metres = 500.0
    while True:
        point = offset(bracelet.home_lat, bracelet.home_lon, metres, bearing)
        if beyond_edge_m(bracelet, *point) >= WALK_OUT_M:
            return point
        metres += 50.0


def second_outside(readings: list[float], outside: list[bool]) -> float | None:
    """When the second of two consecutive readings outside comes, as the rule counts."""
    for k in range(1, len(readings)):
        if outside[k - 1] and outside[k]:
            return readings[k]
    return None


def bracelet_geofence_exit(plan: Plan, count: int) -> None:
    """The wearer wanders out of the geofence for 40 min, then comes back (or is brought)."""
    rng = plan.rng("bracelet_geofence_exit")
    sites = plan.rotation(rng)
    windows = plan.windows(30 * MINUTE, 2 * HOUR, (9, 17))
    for i, at in enumerate(plan.spread(count, windows, rng)):
        models = bracelet_models(plan, sites, i, AlertType.BRACELET_GEOFENCE_EXIT)
        model = free(plan, models, track_key, at - 20 * MINUTE, at + 100 * MINUTE)
        if model is None:
            continue
        bracelet, start = model.bracelet, ts(at)
        away = outside_point(bracelet, rng)
        back = start + 4800.0
        walk = [(start, *model.track.position(start)), (start + 1200.0, *away)]
        walk += [(start + 3600.0, *away), (back, *model.track.position(back))]
        model.detours.append(Track(walk))
        readings = [t for t in model.grid(back) if t >= start]
        margins = [beyond_edge_m(bracelet, *model.position(t)[:2]) for t in readings]
        earliest = second_outside(readings, [m > -EDGE_M for m in margins])
        latest = second_outside(readings, [m > EDGE_M for m in margins])
        if earliest is None or latest is None:
            continue
        beyond = beyond_edge_m(bracelet, *away)
        plan.label(
            AlertType.BRACELET_GEOFENCE_EXIT,
            model.community_id,
            bracelet.bracelet_id,
            utc(earliest),
            utc(latest),
            f"{bracelet.bracelet_id} ({bracelet.wearer}) walks {beyond:.0f} m beyond its "
            f"geofence from {when(at)} for 40 min",
        )


def bracelet_inactive(plan: Plan, count: int) -> None:
    """An elderly wearer stops moving mid-morning (a fall, or the bracelet left on a
    table): the same fix for 5 h while readings continue."""
    rng = plan.rng("bracelet_inactive")
    sites = plan.rotation(rng)
    windows = plan.windows(HOUR, 5 * HOUR + 40 * MINUTE, (8.5, 10.5))
    for i, at in enumerate(plan.spread(count, windows, rng)):
        models = bracelet_models(plan, sites, i, AlertType.BRACELET_INACTIVE, (Wearer.ELDERLY,))
        model = free(plan, models, track_key, at - 30 * MINUTE, at + 5 * HOUR + 10 * MINUTE)
        if model is None:
            continue
        bracelet, start = model.bracelet, ts(at)
        here = model.track.position(start - 1200.0)
        home = (bracelet.home_lat, bracelet.home_lon)
        spot = wander_spot(home, rng)
        while metres_between(*here, *spot) < 120.0:
            spot = wander_spot(home, rng)
        model.detours.append(Track([(start - 1200.0, *here), (start, *spot)]))
        model.detours.append(Track([(start, *spot), (start + 5 * 3600.0, *spot)], still=True))
        still = utc(next(t for t in model.grid(start + 600.0) if t >= start))
        plan.label(
            AlertType.BRACELET_INACTIVE,
            model.community_id,
            bracelet.bracelet_id,
            still + 4 * HOUR - 10 * MINUTE,
            still + 4 * HOUR + 10 * MINUTE,
            f"{bracelet.bracelet_id} motionless at {spot[0]:.5f}, {spot[1]:.5f} from "
            f"{when(still)} for 5 h",
        )


def drained(model: BraceletModel, charged: float, at: float) -> bool:
    """Whether the bracelet, last charged at `charged`, reads below 15% at `at`."""
    return round(1.0 - model.drain_per_hour * (at - charged) / 3600.0, 3) < 0.15


def bracelet_low_battery(plan: Plan, count: int) -> None:
    """The bracelet is not charged one evening: it runs below 15% before the next charge."""
    rng = plan.rng("bracelet_low_battery")
    sites = plan.rotation(rng)
    windows = plan.windows(HOUR, 20 * HOUR, (20.5, 23.0))
    for i, at in enumerate(plan.spread(count, windows, rng)):
        for model in bracelet_models(plan, sites, i, AlertType.BRACELET_LOW_BATTERY):
            skipped = min(model.charges, key=lambda c: abs(c - ts(at)))
            previous = max(c for c in model.charges if c < skipped)
            recharged = previous + 0.92 / model.drain_per_hour * 3600.0
            low = next(
                t for t in model.grid(recharged) if t > previous and drained(model, previous, t)
            )
            key = f"battery:{model.bracelet.bracelet_id}"
            fits = utc(low) <= plan.end - 10 * MINUTE
            if fits and plan.claim(key, utc(previous), utc(recharged)):
                break
        else:
            continue
        kept = [c for c in model.charges if not previous < c < recharged]
        model.charges = sorted([*kept, recharged])
        bracelet_id = model.bracelet.bracelet_id
        plan.label(
            AlertType.BRACELET_LOW_BATTERY,
            model.community_id,
            bracelet_id,
            utc(low),
            utc(low),
            f"{bracelet_id} not charged {when(utc(skipped))}: "
            f"{model.battery(low):.0%} at {when(utc(low))}",
        )


INCIDENTS: dict[AlertType, Planner] = {
    AlertType.WATCHLIST_PLATE: watchlist_plate,
    AlertType.POSSIBLE_WATCHLIST_PLATE: possible_watchlist_plate,
    AlertType.CLONED_PLATE: cloned_plate,
    AlertType.ROAMING_VEHICLE: roaming_vehicle,
    AlertType.OVERSTAY_VEHICLE: overstay_vehicle,
    AlertType.MLM_GATHERING: mlm_gathering,
    AlertType.GROUP_RENTING: group_renting,
    AlertType.KNOWN_MLM_RETURN: known_mlm_return,
    AlertType.CHARGING_OVERHEAT: charging_overheat,
    AlertType.EBIKE_IN_ELEVATOR: ebike_in_elevator,
    AlertType.BLOCKED_FIRE_PASSAGE: blocked_fire_passage,
    AlertType.HIGH_ALTITUDE_THROW: high_altitude_throw,
    AlertType.PERIMETER_INTRUSION: perimeter_intrusion,
    AlertType.DEVICE_OFFLINE: device_offline,
    AlertType.BRACELET_SOS: bracelet_sos,
    AlertType.BRACELET_GEOFENCE_EXIT: bracelet_geofence_exit,
    AlertType.BRACELET_INACTIVE: bracelet_inactive,
    AlertType.BRACELET_LOW_BATTERY: bracelet_low_battery,
    AlertType.ELDERLY_NOT_SEEN: elderly_not_seen,
    AlertType.STRAY_DOG: stray_dog,
}
"""One planner per alert type, in planning order (earlier ones take entities first)."""


# Near-misses: close to a rule's threshold, on the right side of it.


def night_shift(plan: Plan) -> str | None:
    """A resident drives home at 02:00 every night: a registered car and one person at
    the door after 22:00, neither roaming nor group renting."""
    rng = plan.rng("night_shift")
    for site in plan.rotation(rng):
        owners = {r.person_id: r for r in site.residents if r.door_id not in plan.renting_units}
        for vehicle in site.vehicles:
            resident = owners.get(vehicle.owner_id)
            if resident and plan.claim(f"person:{resident.person_id}", plan.start, plan.end):
                break
        else:
            continue
        break
    else:
        return None
    cid, pid, door = site.community_id, resident.person_id, resident.door_id
    for key in (pid, vehicle.plate):
        plan.blackouts[key].append((plan.start, plan.end))
    gate = rng.choice(site.gates)
    script = plan.script("night-shift")
    nights = 0
    for day in local_days(plan.start, plan.end):
        home = local_at(day, rng.uniform(1.75, 2.25))
        nights += plan.start <= home <= plan.end
        script.add(home, "passage", cid, gate, vehicle.plate, vehicle.colour, Direction.IN)
        door_at = home + minutes(rng.uniform(3, 6))
        script.add(door_at, "access", cid, door, True, pid)
        script.add(door_at, "capture", cid, f"{door}-cam", pid, pid)
        out = local_at(day, rng.uniform(16.75, 17.5))
        script.add(out, "passage", cid, gate, vehicle.plate, vehicle.colour, Direction.OUT)
    if not nights:
        return None
    return (
        f"night shift: {pid} drives {vehicle.plate} (registered) home to {door} at about 02:00 "
        f"on {nights} nights — no roaming vehicle, one person after 22:00 is no group renting"
    )


def delivery_rider(plan: Plan) -> str | None:
    """A rider visits three units in each of two communities, by car, within two hours."""
    rng = plan.rng("delivery_rider")
    windows = plan.windows(10 * MINUTE, 2 * HOUR, (10, 12))
    if len(plan.sites) < 2 or not windows:
        return None
    at = plan.spread(1, windows, rng)[0]
    first, second = plan.rotation(rng)[:2]
    rider = f"rider-{rng.randrange(plan.district.riders)}"
    plate = plan.visitor_plate(rng)
    script = plan.script("delivery-rider")
    visited = []
    for site, arrive in ((first, at), (second, at + HOUR)):
        cid = site.community_id
        units = rng.sample(site.unit_doors, min(3, len(site.unit_doors)))
        for k, door in enumerate(units, start=1):
            moment = arrive + minutes(8 * k)
            script.add(moment, "capture", cid, f"{door}-cam", rider)
            qr = AccessMethod.QR
            script.add(moment + timedelta(seconds=10), "access", cid, door, True, None, qr)
        visited += units
        visit(script, site, plate, arrive, arrive + minutes(35), rng)
    return (
        f"delivery rider {rider} ({plate}) visits {len(visited)} units once each in "
        f"{first.community_id} and {second.community_id} from {when(at)} — 2 communities in 2 h"
    )


def family_gathering(plan: Plan) -> str | None:
    """Spring Festival: sixteen relatives at one unit, on one day only."""
    rng = plan.rng("family_gathering")
    windows = plan.windows(HOUR, 12 * HOUR, (10, 11))
    if not windows:
        return None
    at = plan.spread(1, windows, rng)[0]
    units = candidates(plan.rotation(rng), 0, family_units)
    door = free(plan, units, lambda d: f"unit:{d}", plan.start, plan.end)
    if door is None:
        return None
    site = plan.site(community_of(door))
    cid = site.community_id
    script = plan.script("family-gathering")
    for n in range(16):
        arrive = at + minutes(rng.uniform(0, 120))
        script.add(arrive, "capture", cid, f"{door}-cam", f"relative-{door}-{n}")
        if rng.random() < 0.4:
            script.add(arrive + timedelta(seconds=10), "access", cid, door, True)
    for _ in range(3):
        arrive = at + minutes(rng.uniform(-10, 90))
        visit(script, site, plan.visitor_plate(rng), arrive, local_at(local_day(at), 20.5), rng)
    return (
        f"Spring Festival family gathering: 16 relatives at {door} on {local_day(at):%m-%d} "
        "only — one day is no MLM gathering"
    )


def legal_speed(plan: Plan) -> str | None:
    """A car leaves one community and enters a nearby one at city speed."""
    rng = plan.rng("legal_speed")
    windows = plan.windows(HOUR, 2 * HOUR, (9, 18))
    if len(plan.sites) < 2 or not windows:
        return None
    at = plan.spread(1, windows, rng)[0]
    pairs = [
        (a, b, gate_a, gate_b)
        for a, b in itertools.permutations(plan.sites, 2)
        for gate_a, gate_b in itertools.product(a.gates, b.gates)
    ]
    first, second, gate_a, gate_b = min(pairs, key=lambda p: abs(gate_km(p[2], p[3]) - 3.0))
    km = gate_km(gate_a, gate_b)
    entry = at + timedelta(hours=km / LEGAL_KMH)
    plate = plan.visitor_plate(rng)
    script = plan.script("legal-speed")
    drive(script, first, rng.choice(first.gates), plate, at - minutes(40), Direction.IN)
    drive(script, first, gate_a, plate, at, Direction.OUT)
    drive(script, second, gate_b, plate, entry, Direction.IN)
    drive(script, second, rng.choice(second.gates), plate, entry + minutes(30), Direction.OUT)
    gap = (entry - at).total_seconds() / 60
    return (
        f"{plate} leaves {gate_a.gate_id} {hhmm(at)} and enters {gate_b.gate_id} "
        f"{hhmm(entry)}: {km:.1f} km in {gap:.0f} min ({LEGAL_KMH:.0f} km/h) — no cloned plate"
    )


def slow_charge_rise(plan: Plan) -> str | None:
    """A hot summer afternoon: a slot warms from its level to 55 °C over an hour."""
    rng = plan.rng("slow_charge_rise")
    windows = plan.windows(30 * MINUTE, 2 * HOUR, (12, 15))
    if not windows:
        return None
    at = plan.spread(1, windows, rng)[0]
    found = slot_for(plan, plan.rotation(rng), 0, at, 3 * HOUR)
    if found is None:
        return None
    model, onset = found
    base = model.background_c(onset)

    def reading(temperature: float) -> dict[str, float]:
        current, voltage = rng.uniform(2.5, 3.0), rng.gauss(220.0, 2.0)
        return slot_metrics(model.slot.slot, temperature, current, voltage, True)

    rising = [reading(base + (55.0 - base) * k / 30) for k in range(1, 31)]
    steady = [reading(55.0 + rng.uniform(-0.2, 0.2)) for _ in range(10)]
    model.episodes.append(SlotEpisode(onset, rising + steady))
    model.trip(onset)
    return (
        f"{model.slot.device_id} warms from {base:.0f} to 55 °C over an hour from "
        f"{when(utc(onset))} (summer afternoon) — under 60 °C, under 5 °C/min"
    )


def normal_walk(plan: Plan) -> str | None:
    """An elderly wearer (or a dog) walks to 340 m from home, inside the 400 m geofence."""
    rng = plan.rng("normal_walk")
    windows = plan.windows(30 * MINUTE, HOUR, (9, 17))
    if not windows:
        return None
    at = plan.spread(1, windows, rng)[0]
    models = bracelet_models(plan, plan.rotation(rng), 0, None, (Wearer.ELDERLY, Wearer.PET))
    model = free(plan, models, track_key, at - 10 * MINUTE, at + 50 * MINUTE)
    if model is None:
        return None
    bracelet, start = model.bracelet, ts(at)
    far = offset(bracelet.home_lat, bracelet.home_lon, rng.uniform(330, 350), rng.uniform(0, 6.28))
    walk = [(start, *model.track.position(start)), (start + 900.0, *far)]
    walk += [(start + 1500.0, *far), (start + 2400.0, *model.track.position(start + 2400.0))]
    model.detours.append(Track(walk))
    away = metres_between(bracelet.home_lat, bracelet.home_lon, *far)
    return (
        f"{bracelet.bracelet_id} ({bracelet.wearer}) walks to {away:.0f} m from home at "
        f"{when(at)}, inside its 400 m geofence — no geofence exit"
    )


def school_route(plan: Plan) -> str | None:
    """Children walk to school along their geofence chain on weekdays (background life)."""
    children = [b for s in plan.sites for b in s.bracelets if b.wearer is Wearer.CHILD]
    mornings = [
        day
        for day in local_days(plan.start, plan.end)
        if day.weekday() < 5 and plan.start <= local_at(day, 7.2) <= local_at(day, 8.0) <= plan.end
    ]
    if not children or not mornings:
        return None
    return (
        f"{len(children)} children walk 1-1.6 km to school along their geofence chain on "
        f"{len(mornings)} weekday mornings — inside every circle, no geofence exit"
    )


def camera_reboot(plan: Plan) -> str | None:
    """A camera reboots: one heartbeat missed, 4 min between reports (limit 5)."""
    rng = plan.rng("camera_reboot")
    windows = plan.windows(20 * MINUTE, 20 * MINUTE)
    if not windows:
        return None
    at = plan.spread(1, windows, rng)[0]
    roles = (CameraRole.ELEVATOR, CameraRole.FACADE, CameraRole.PUBLIC)
    cameras = candidates(plan.rotation(rng), 0, lambda s: [c for r in roles for c in s.cameras[r]])
    for camera in cameras:
        model = plan.devices[camera]
        last = model.beat_at_or_after(ts(at))
        if plan.claim(f"device:{camera}", utc(last) - 5 * MINUTE, utc(last) + 10 * MINUTE):
            break
    else:
        return None
    model.silences.append((last, last + 150.0))
    model.boots.append(last + 150.0)
    return (
        f"{camera} reboots after {when(utc(last))}: silent 2 min, 4 min between reports "
        "— under DEVICE_OFFLINE's 5 min"
    )


def brief_blockage(plan: Plan) -> str | None:
    """A van blocks a fire passage for six minutes, reported each minute."""
    rng = plan.rng("brief_blockage")
    windows = plan.windows(10 * MINUTE, 20 * MINUTE, (8, 20))
    if not windows:
        return None
    at = plan.spread(1, windows, rng)[0]
    times = minute_reports(at, 7, rng)
    cameras = candidates(
        plan.rotation(rng), 0, lambda s: public_cameras(plan, s, f"{s.community_id}-fp")
    )
    camera = free(plan, cameras, lambda c: f"camera:{c}", at - HOUR, times[-1] + HOUR)
    if camera is None:
        return None
    script = plan.script("brief-blockage")
    for moment in times:
        script.add(
            moment,
            "analytics",
            community_of(camera),
            camera,
            CameraAnalyticsKind.BLOCKED_FIRE_PASSAGE,
        )
    return f"fire passage at {camera} blocked 6 min from {when(at)} (7 reports) — under 10 min"


NEAR_MISSES: tuple[Callable[[Plan], str | None], ...] = (
    night_shift,
    delivery_rider,
    family_gathering,
    legal_speed,
    slow_charge_rise,
    normal_walk,
    school_route,
    camera_reboot,
    brief_blockage,
)
"""Planned after the incidents, on what they left free."""

"""`pingan parking`: a community's tariff and its monthly passes, from the terminal.

Both live on compacted topics the workers follow (`pingan.config.parking-tariffs` keyed by
community, `*` the district default; `pingan.reference.parking-passes` keyed
`community:plate`), so a change applies to the next passage without a restart. A session
keeps the fee it was priced at; changes apply to sessions closing later. Records are
validated here, before they are published.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import date, datetime, time, timedelta
from typing import Any, NoReturn

import click
import orjson
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from pingan.platform.district import community_ids
from pingan.platform.publisher import Publisher, publish_now
from pingan.platform.reference_data import ReferenceData, read_reference
from pingan.platform.rule_settings import READ_TIMEOUT_SECONDS, RuleSettingsError, checked_community
from pingan.platform.settings import get_settings
from pingan.rule_settings_cli import parse_assignments
from schemas.events import Record, normalise_plate, utc_now
from schemas.parking import ParkingPass, ParkingTariff, pass_key
from schemas.reference import DISTRICT_DEFAULT, DISTRICT_TZ
from schemas.topics import PARKING_PASSES, PARKING_TARIFFS, Topic
from streams.parking.book import BUILT_IN, DEFAULT_TARIFF

BOOKKEEPING = {"community_id", "updated_by", "updated_at"}
"""Tariff fields the command fills in itself."""


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _community(community_id: str) -> str:
    try:
        return checked_community(community_id, community_ids())
    except RuleSettingsError as exc:
        _fail(str(exc))


def _read(topic: Topic) -> ReferenceData:
    bootstrap = get_settings().bootstrap
    try:
        return asyncio.run(read_reference(bootstrap, [topic], READ_TIMEOUT_SECONDS))
    except (KafkaError, TimeoutError) as exc:
        _fail(f"could not read {topic.name} from Kafka at {bootstrap}: {exc!r}", code=1)


def _publish(topic: Topic, record: Record | None, key: str) -> None:
    """A record, or with None a tombstone that removes `key` from the compacted topic."""
    bootstrap = get_settings().bootstrap
    try:
        if record is not None:
            publish_now(bootstrap, record)
        else:
            asyncio.run(_tombstone(bootstrap, topic, key))
    except KafkaError as exc:
        _fail(f"could not publish to {topic.name} at {bootstrap}: {exc!r}", code=1)


async def _tombstone(bootstrap: str, topic: Topic, key: str) -> None:
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_raw(topic, key.encode(), None)


def _updated_by() -> str:
    return os.environ.get("USER") or "cli"


def effective_tariff(
    tariffs: dict[str, ParkingTariff], community_id: str
) -> tuple[str, ParkingTariff]:
    """What the worker prices a community's sessions by: its own, the district's, built-in."""
    for key in (community_id, DISTRICT_DEFAULT):
        if key in tariffs:
            return key, tariffs[key]
    return BUILT_IN, DEFAULT_TARIFF


def tariff_fields(tariff: ParkingTariff) -> dict[str, Any]:
    return tariff.model_dump(mode="json", exclude=BOOKKEEPING)


def render_tariff(community_id: str, source: str, tariff: ParkingTariff) -> str:
    """Fen shown as yuan too: ¥ is what the officer at the gate quotes."""
    fields = tariff_fields(tariff)
    origin = {BUILT_IN: "built-in defaults", DISTRICT_DEFAULT: "district default (*)"}
    lines = [f"{community_id}: {origin.get(source, f'own tariff of {source}')}"]
    width = max(len(name) for name in fields)
    for name, value in fields.items():
        shown = "none" if value is None else str(value)
        if name.endswith("_fen") and value is not None:
            shown += f"  (¥{value / 100:.2f})"
        lines.append(f"  {name.ljust(width)}  {shown}")
    if source != BUILT_IN and tariff.updated_at is not None:
        lines.append(f"  updated by {tariff.updated_by} at {tariff.updated_at.isoformat()}")
    return "\n".join(lines)


def updated_tariff(
    base: ParkingTariff, community_id: str, assignments: dict[str, Any]
) -> ParkingTariff:
    """`base` with `assignments` applied, as the community's record, validated whole."""
    settable = set(ParkingTariff.model_fields) - BOOKKEEPING
    unknown = sorted(set(assignments) - settable)
    if unknown:
        known = ", ".join(n for n in ParkingTariff.model_fields if n in settable)
        raise ValueError(f"not a tariff field: {', '.join(unknown)} (fields: {known})")
    return ParkingTariff.model_validate(
        {
            **tariff_fields(base),
            **assignments,
            "community_id": community_id,
            "updated_by": _updated_by(),
            "updated_at": utc_now(),
        }
    )


def moment(text: str, end_of_day: bool) -> datetime:
    """An ISO date or time; a bare date is that day in the district, from its start or, for
    an end, through its end (a pass `--until 2026-12-31` still holds on the 31st)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise click.BadParameter(f"{text!r} is not a date (2026-12-31) or time") from None
        return at if at.tzinfo else at.replace(tzinfo=DISTRICT_TZ)
    start = datetime.combine(day, time(0, 0), tzinfo=DISTRICT_TZ)
    return start + timedelta(days=1) if end_of_day else start


def day_or_time(at: datetime, last: bool = False) -> str:
    """District time as written on a pass: a day, or a day and time when not at midnight.
    `last`: an end at midnight is shown as the day before, the last day the pass holds."""
    local = at.astimezone(DISTRICT_TZ)
    if local.time() != time(0, 0):
        return f"{local:%Y-%m-%d %H:%M}"
    return f"{(local - timedelta(days=1)) if last else local:%Y-%m-%d}"


def pass_status(parking_pass: ParkingPass, now: datetime) -> str:
    if now < parking_pass.valid_from:
        return "not yet valid"
    return "valid" if now < parking_pass.valid_until else "expired"


def pass_json(parking_pass: ParkingPass, now: datetime) -> dict[str, Any]:
    return {**parking_pass.model_dump(mode="json"), "status": pass_status(parking_pass, now)}


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'record'}: {error['msg']}"
        for error in exc.errors()
    )


@click.group()
def parking() -> None:
    """Parking tariffs per community and monthly passes per plate."""


@parking.group()
def tariff() -> None:
    """A community's price list: its own ← district default (*) ← built-in."""


@tariff.command("show")
@click.option("--community", "community_id", default=DISTRICT_DEFAULT, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tariff_show(community_id: str, as_json: bool) -> None:
    """Show the tariff a community's sessions are priced by, and where it comes from."""
    community_id = _community(community_id)
    tariffs = _read(PARKING_TARIFFS).records(PARKING_TARIFFS)
    source, current = effective_tariff(tariffs, community_id)
    own = sorted(c for c in tariffs if c != DISTRICT_DEFAULT)
    if as_json:
        document = {
            "community_id": community_id,
            "tariff_id": source,
            "tariff": tariff_fields(current),
            "communities_with_own_tariff": own,
        }
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(render_tariff(community_id, source, current))
    if own:
        click.echo(f"\ncommunities with their own tariff: {', '.join(own)}")


@tariff.command("set")
@click.option("--community", "community_id", required=True, help="Community id, or *.")
@click.argument("assignments", metavar="FIELD=VALUE...", nargs=-1, required=True)
def tariff_set(community_id: str, assignments: tuple[str, ...]) -> None:
    """Change FIELDs of a community's own tariff (money in fen, times as "22:00").

    A community without its own tariff starts from the one it is priced by now (the
    district's, else built-in), so only the FIELDs given differ; from then on it is the
    community's own, whole.
    """
    community_id = _community(community_id)
    try:
        changes = parse_assignments(assignments)
    except RuleSettingsError as exc:
        _fail(str(exc))
    tariffs = _read(PARKING_TARIFFS).records(PARKING_TARIFFS)
    try:
        base = tariffs.get(community_id) or effective_tariff(tariffs, community_id)[1]
        record = updated_tariff(base, community_id, changes)
    except ValidationError as exc:
        _fail(f"invalid tariff: {_validation_message(exc)}")
    except ValueError as exc:
        _fail(str(exc))
    _publish(PARKING_TARIFFS, record, community_id)
    click.echo(f"published the tariff of {community_id}")
    click.echo(render_tariff(community_id, community_id, record))


@tariff.command("reset")
@click.option("--community", "community_id", required=True, help="Community id, or *.")
def tariff_reset(community_id: str) -> None:
    """Remove a community's own tariff: it is priced by the district's (or built-in) again."""
    community_id = _community(community_id)
    tariffs = _read(PARKING_TARIFFS).records(PARKING_TARIFFS)
    if community_id not in tariffs:
        click.echo(f"{community_id} has no tariff of its own; nothing changed")
        return
    _publish(PARKING_TARIFFS, None, community_id)
    del tariffs[community_id]
    source, current = effective_tariff(tariffs, community_id)
    click.echo(f"removed the tariff of {community_id}")
    click.echo(render_tariff(community_id, source, current))


@parking.group("pass")
def pass_() -> None:
    """Monthly passes (月卡): a plate parks free in one community while its pass holds."""


@pass_.command("add")
@click.option("--community", "community_id", required=True)
@click.option("--plate", required=True)
@click.option("--until", "until", required=True, help="Last day (2026-12-31) or an ISO time.")
@click.option("--from", "since", default=None, help="First day or ISO time [default: now].")
@click.option("--person", "person_id", default=None, help="The resident the pass is for.")
def pass_add(
    community_id: str, plate: str, until: str, since: str | None, person_id: str | None
) -> None:
    """Issue or renew a plate's pass in a community (a renewal replaces the old one)."""
    community_id = _community(community_id)
    if community_id == DISTRICT_DEFAULT:
        _fail("a pass belongs to one community, not the district (*)")
    try:
        record = ParkingPass(
            community_id=community_id,
            plate=plate,
            valid_from=moment(since, end_of_day=False) if since else utc_now(),
            valid_until=moment(until, end_of_day=True),
            person_id=person_id,
        )
    except ValidationError as exc:
        _fail(f"invalid pass: {_validation_message(exc)}")
    _publish(PARKING_PASSES, record, record.pass_key)
    click.echo(
        f"published the pass of {record.plate} in {community_id}: "
        f"{day_or_time(record.valid_from)} – {day_or_time(record.valid_until, last=True)}"
    )


@pass_.command("revoke")
@click.option("--community", "community_id", required=True)
@click.option("--plate", required=True)
def pass_revoke(community_id: str, plate: str) -> None:
    """Withdraw a plate's pass: its later stays are charged by the tariff."""
    community_id = _community(community_id)
    key = pass_key(community_id, normalise_plate(plate))
    if key not in _read(PARKING_PASSES).records(PARKING_PASSES):
        click.echo(f"{normalise_plate(plate)} has no pass in {community_id}; nothing changed")
        return
    _publish(PARKING_PASSES, None, key)
    click.echo(f"revoked the pass of {normalise_plate(plate)} in {community_id}")


@pass_.command("list")
@click.option("--community", "community_id", default=None, help="Only this community.")
@click.option("--plate", default=None, help="Only this plate.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def pass_list(community_id: str | None, plate: str | None, as_json: bool) -> None:
    """Current passes, with whether each holds now."""
    if community_id is not None:
        community_id = _community(community_id)
    wanted = normalise_plate(plate) if plate else None
    passes = sorted(
        (
            p
            for p in _read(PARKING_PASSES).records(PARKING_PASSES).values()
            if (community_id is None or p.community_id == community_id)
            and (wanted is None or p.plate == wanted)
        ),
        key=lambda p: (p.community_id, p.plate),
    )
    now = utc_now()
    if as_json:
        document = [pass_json(p, now) for p in passes]
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    if not passes:
        click.echo("no passes")
        return
    for p in passes:
        holder = f"  {p.person_id}" if p.person_id else ""
        click.echo(
            f"{p.community_id}  {p.plate:<10}  "
            f"{day_or_time(p.valid_from)} – {day_or_time(p.valid_until, last=True)}  "
            f"{pass_status(p, now)}{holder}"
        )

"""`pingan`: one entry point for operators, developers and analysts."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import NoReturn

import click

from graphql_api.access import Role
from pingan.lazy_commands import LazyCommand, LazyGroup
from pingan.platform.district_time import DistrictTime
from pingan.platform.settings import Settings, get_settings

log = logging.getLogger("pingan")

MAX_TOKEN_LIFETIME = timedelta(days=30)


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _broker(settings: Settings, start_local: bool) -> str:
    """The local broker is started on demand; an external cluster is only waited for."""
    from pingan.platform.stack import kafka

    try:
        if start_local:
            return kafka.up(settings, progress=click.echo)
        kafka.wait_for_broker(settings.bootstrap, timeout=60)
        return settings.bootstrap
    except kafka.MissingPrerequisite as exc:
        _fail(str(exc))
    except kafka.BrokerError as exc:
        _fail(f"Kafka is not reachable at {settings.bootstrap}: {exc}")


# Imported when run, not for `pingan --help`: they load Kafka clients and the vision models.
SUBCOMMANDS = {
    "stack": LazyCommand(
        "pingan.stack_cli:stack",
        "Local Apache Kafka (KRaft) broker, or the cluster named by KAFKA_BOOTSTRAP.",
    ),
    "simulate": LazyCommand(
        "ingest.simulator.cli:simulate",
        "Publish a seeded district's events with labelled watchlist incidents.",
    ),
    "rules": LazyCommand(
        "pingan.rule_settings_cli:rules",
        "Rule thresholds per community: defaults ← district (*) ← community.",
    ),
    "parking": LazyCommand(
        "pingan.parking_cli:parking",
        "Parking tariffs per community and monthly passes per plate.",
    ),
    "ingest": LazyCommand(
        "ingest.cli:ingest", "Device adapters: webhooks (http, keys), Modbus pollers."
    ),
    "faces": LazyCommand(
        "ingest.vision.faces.cli:faces",
        "Face recognition: enrol residents, identify photos, watch camera streams.",
    ),
    "vision": LazyCommand(
        "ingest.vision.falling.cli:vision", "Pingan's own analysis of camera video."
    ),
}


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
@click.version_option(package_name="pingan", prog_name="pingan")
def main() -> None:
    """Pingan (平安): real-time safety platform for residential communities."""
    logging.basicConfig(
        level=get_settings().log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("--communities", type=int, default=42, show_default=True)
@click.option("--rate", type=float, default=200.0, show_default=True, help="Simulated events/s.")
@click.option("--seed", type=int, default=1, show_default=True)
def run(duration: float | None, communities: int, rate: float, seed: int) -> None:
    """Everything on one machine: broker, worker, GraphQL API and the district simulator."""
    from datetime import UTC, datetime

    from ingest.simulator.companion import simulator_companion
    from pingan.run_status import StatusLine, status_companion
    from pingan.summary import summarise
    from pingan.worker import run_worker

    settings = get_settings().model_copy(update={"worker_role": "all"})
    logfile = _log_to_file(settings)
    click.echo(f"Full logs: {logfile}")
    _broker(settings, start_local=settings.kafka_bootstrap is None)
    console = _print_sign_in(settings)
    started = datetime.now(UTC)
    simulator = simulator_companion(settings, communities=communities, rate=rate, seed=seed)
    status = status_companion(settings, StatusLine(sys.stdout), started, console)
    click.echo("Starting the worker (topics, ClickHouse migrations, rule state)...")
    result = run_worker(
        settings,
        host_api=settings.embedded_clickhouse,
        companions=[lambda _run: simulator, status],
        duration=duration,
        logfile=logfile,
    )
    try:
        if result.failure is not None:
            _fail(f"The worker stopped on an error: {result.failure}\nFull logs: {logfile}", 1)
        assert result.warehouse is not None, "a worker of role all holds the warehouse"
        click.echo(summarise(result.warehouse, result.pipeline.stats, started).render())
    finally:
        if result.warehouse is not None:
            result.warehouse.close()


@main.command()
@click.option(
    "--api/--no-api",
    default=None,
    help="Serve GraphQL from this worker (default: yes with embedded chDB, unless --role rules; "
    "no with a server).",
)
@click.option(
    "--role",
    type=click.Choice(["all", "rules", "sink"]),
    default=None,
    help="rules: the rules (one process per partition at most); sink: the ClickHouse writes; "
    "all: both (default, or PINGAN_WORKER_ROLE).",
)
def worker(api: bool | None, role: str | None) -> None:
    """A stream worker (Faust): rules and the ClickHouse sink, or one of them."""
    from pingan.worker import run_worker

    settings = get_settings()
    if role is not None:
        settings = settings.model_copy(update={"worker_role": role})
    if settings.worker_role == "rules" and api:
        _fail("A rules worker holds no ClickHouse: serve the API from the sink (--role sink)", 2)
    _broker(settings, start_local=False)
    if api is None:
        api = settings.embedded_clickhouse and settings.worker_role != "rules"
    result = run_worker(settings, host_api=api)
    if result.warehouse is not None:
        result.warehouse.close()
    if result.failure is not None:
        sys.exit(1)


@main.command()
def api() -> None:
    """The GraphQL API on its own (needs CLICKHOUSE_URL: embedded chDB lives in the worker)."""
    from graphql_api.server import run_api
    from streams.rules.catalogue import all_rules

    settings = get_settings()
    if settings.embedded_clickhouse:
        _fail(
            "With the embedded chDB the API runs inside the worker (`pingan worker`). "
            "Set CLICKHOUSE_URL=clickhouse://host:9000/db to run the API on its own."
        )
    _broker(settings, start_local=False)
    asyncio.run(run_api(settings, all_rules()))


@main.command()
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="What the holder may see and do (see the README's role table).",
)
@click.option(
    "--communities",
    default=None,
    help="Comma-separated community ids, for community officers and property managers.",
)
@click.option("--ttl", default="8h", show_default=True, help="Lifetime: 30m, 8h, 7d.")
@click.option("--sub", default=None, help="Who holds it (default: $USER); audit rows name it.")
def token(role: str, communities: str | None, ttl: str, sub: str | None) -> None:
    """Mint an API token from the configured secret; the token is the last line printed."""
    from graphql_api.tokens import TokenConfigError, mint_token
    from pingan.platform.district import community_ids

    settings = get_settings()
    chosen = Role(role)
    listed = [c.strip() for c in (communities or "").split(",") if c.strip()] or None
    unknown = sorted(set(listed or ()) - set(community_ids()))
    if unknown:
        _fail(f"unknown community id(s): {', '.join(unknown)}")
    holder = sub or os.environ.get("USER") or ""
    if not holder.strip():
        _fail("name the holder with --sub: audit rows record who made each call")
    try:
        minted = mint_token(settings, chosen, holder, listed, _lifetime(ttl))
    except TokenConfigError as exc:
        _fail(str(exc))
    if chosen.district_wide and listed:
        click.echo(
            f"note: a {chosen.value} sees every community; --communities is ignored", err=True
        )
    click.echo(minted)


def _log_to_file(settings: Settings) -> Path:
    """`pingan run` keeps the terminal for its status line: every log line goes to this file,
    from the broker's start on (the worker's Faust logging reopens it when it starts)."""
    from datetime import datetime

    directory = settings.run_log_dir
    try:
        directory.mkdir(parents=True, exist_ok=True)
        logfile = directory / f"run-{datetime.now():%Y%m%d-%H%M%S}.log"
        handler = logging.FileHandler(logfile, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write the run's log in {directory} ({exc.strerror}): set PINGAN_LOG_DIR")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.root.handlers = [handler]
    return logfile


def _print_sign_in(settings: Settings) -> str:
    """The one-machine run hands its operator a district_admin token, valid for a day, in the
    console's address; returns the console's address without it, for the status line."""
    from graphql_api.tokens import TokenConfigError, mint_token

    console = f"http://{settings.api_host}:{settings.api_port}/"
    try:
        minted = mint_token(
            settings,
            Role.DISTRICT_ADMIN,
            os.environ.get("USER") or "operator",
            None,
            timedelta(hours=24),
        )
    except TokenConfigError as exc:
        click.echo(f"no API token printed: {exc}", err=True)
        return console
    click.echo(
        f"Police console (district_admin, 24 h): {console}#token={minted}\n"
        f"GraphiQL: {console}graphql with the header Authorization: Bearer <the token above>\n"
        "Other roles: pingan token --role community_officer --communities c01 --sub NAME"
    )
    if settings.embedded_clickhouse and settings.sql_port:
        click.echo(
            f"Analysts' SQL (ClickHouse HTTP, read-only): http://{settings.sql_host}:"
            f'{settings.sql_port} with a token as bearer, or: pingan sql "SELECT …"'
        )
    return console


def _lifetime(text: str) -> timedelta:
    units = {"m": "minutes", "h": "hours", "d": "days"}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit() or int(number) == 0:
        raise click.BadParameter(
            f"{text!r}: give a number and m, h or d, e.g. 8h", param_hint="--ttl"
        )
    lifetime = timedelta(**{units[unit]: int(number)})
    if lifetime > MAX_TOKEN_LIFETIME:
        raise click.BadParameter("a token lives at most 30 days", param_hint="--ttl")
    return lifetime


@main.command()
def migrate() -> None:
    """Create topics and apply ClickHouse migrations (also done by every worker start)."""
    from pingan.platform.warehouse import WarehouseError
    from pingan.worker import prepare

    settings = get_settings()
    _broker(settings, start_local=settings.kafka_bootstrap is None)
    try:
        prepare(settings).close()
    except WarehouseError as exc:
        _fail(str(exc))
    click.echo("topics and tables are up to date")


@main.command()
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    default="PrettyCompact",
    show_default=True,
    help="Any ClickHouse output format, its bytes as ClickHouse writes them (with a "
    "ClickHouse server: PrettyCompact or JSONEachRow).",
)
@click.option(
    "--token",
    default=None,
    help="API token for a running worker's SQL endpoint (default: an analyst's, minted "
    "from this machine's secret).",
)
def sql(query: str, fmt: str, token: str | None) -> None:
    """Run an analyst's SQL against the configured ClickHouse.

    While a worker holds the embedded chDB, the query goes through its SQL endpoint."""
    from pingan.platform.warehouse import (
        DataDirectoryBusy,
        EmbeddedWarehouse,
        WarehouseError,
        open_warehouse,
    )

    settings = get_settings()
    try:
        warehouse = open_warehouse(settings)
    except DataDirectoryBusy:
        _sql_through_worker(settings, query, fmt, token)
        return
    except WarehouseError as exc:
        _fail(str(exc))
    try:
        if isinstance(warehouse, EmbeddedWarehouse):
            sys.stdout.buffer.write(warehouse.query_formatted(query, fmt))
            return
        table = warehouse.query_arrow(query)
    except WarehouseError as exc:
        _fail(f"query failed: {exc}", code=1)
    finally:
        warehouse.close()
    click.echo(_render(table, fmt))


def _sql_through_worker(settings: Settings, query: str, fmt: str, token: str | None) -> None:
    from pingan.sql_cli import SqlEndpointError, query_running_worker

    try:
        answer = query_running_worker(settings, query, fmt, token)
    except SqlEndpointError as exc:
        _fail(f"query failed: {exc}", code=1)
    sys.stdout.buffer.write(answer)
    sys.stdout.flush()


def _count(ctx: click.Context, param: click.Parameter, value: str) -> int:
    from pingan.synthetic import parse_count

    try:
        return parse_count(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command("load-synthetic")
@click.option("--events", required=True, callback=_count, help="Events, e.g. 5M or 100M.")
@click.option("--captures", required=True, callback=_count, help="Face captures, e.g. 1M.")
@click.option(
    "--days", type=click.FloatRange(0, 365, min_open=True), default=30.0, show_default=True
)
@click.option("--communities", type=click.IntRange(1, 42), default=42, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def load_synthetic(events: int, captures: int, days: float, communities: int, seed: int) -> None:
    """Fill the configured warehouse with a district's synthetic history (for sizing)."""
    from pingan.platform.provision import prepare_warehouse
    from pingan.platform.warehouse import WarehouseError, open_warehouse
    from pingan.synthetic import SyntheticPlan
    from pingan.synthetic import load_synthetic as load

    settings = get_settings()
    plan = SyntheticPlan(events, captures, days, communities, seed)
    try:
        warehouse = open_warehouse(settings)
    except WarehouseError as exc:
        _fail(str(exc))
    try:
        prepare_warehouse(warehouse, settings)
        report = load(warehouse, plan, lambda line: click.echo(line, err=True))
    except WarehouseError as exc:
        _fail(f"load failed: {exc}", code=1)
    finally:
        warehouse.close()
    click.echo(report.render())
    minutes = report.seconds_for(100_000_000, 10_000_000) / 60
    click.echo(f"at these rates, --events 100M --captures 10M would take about {minutes:.0f} min")


def _render(table: object, fmt: str) -> str:
    import pyarrow as pa

    assert isinstance(table, pa.Table)
    if fmt == "JSONEachRow":
        import orjson

        return "\n".join(orjson.dumps(row, default=str).decode() for row in table.to_pylist())
    return table.to_pandas().to_string(index=False) if table.num_rows else "(no rows)"


@main.command()
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--duration",
    type=click.FloatRange(min=3600),
    default=4 * 86_400.0,
    show_default=True,
    help="Event-time span of the scenario in seconds, up to --end; incidents that do not "
    "fit are not injected.",
)
@click.option(
    "--end",
    type=DistrictTime(),
    default=None,
    help="Event time at which the scenario ends (ISO 8601; local time if no offset; default "
    "now). Which incidents a short scenario holds depends on the hours it covers.",
)
@click.option("--communities", type=click.IntRange(2, 42), default=6, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the run's Kafka and chDB data here (default: a temporary directory).",
)
@click.option("--check", is_flag=True, help="Exit 1 unless every type meets the targets.")
def evaluate(
    seed: int,
    duration: float,
    end: datetime | None,
    communities: int,
    as_json: bool,
    workdir: Path | None,
    check: bool,
) -> None:
    """Run the pipeline on a labelled scenario and score every alert type against it."""
    import orjson

    from pingan.evaluation import evaluate as run_evaluation
    from pingan.platform.stack.kafka import BrokerError, MissingPrerequisite
    from schemas.events import utc_now

    if end is not None and end > utc_now():
        raise click.BadParameter(
            f"{end.isoformat()} is in the future: the worker would dead-letter its events",
            param_hint="--end",
        )
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # leader-election retries on a new broker

    try:
        result = run_evaluation(
            seed,
            timedelta(seconds=duration),
            communities,
            end,
            workdir,
            progress=lambda line: click.echo(line, err=True),
        )
    except (MissingPrerequisite, BrokerError, RuntimeError) as exc:
        _fail(str(exc), code=1)
    if as_json:
        click.echo(orjson.dumps(result.as_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(result.render())
    if check and not result.meets_targets():
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Webhook benchmark: events/s accepted over HTTP next to the raw Publisher rate, one run.

`python -m bench.webhooks` starts its own Kafka broker (temp dir, free ports), registers a
gate camera per community with a bearer key, and starts `pingan ingest http` as its own
process on a free loopback port. On the same kind of passages it measures:

- baseline: `Publisher.publish_many` in this process, batches of `--batch` events from
  `--clients` concurrent tasks (what the webhook does after validation, without HTTP);
- batches: `--clients` concurrent HTTP clients posting arrays of `--batch` passages;
- signed batches: the same, HMAC-signed instead of a bearer key;
- single posts: `--single-clients` concurrent clients posting one passage per request.

Every post must answer 200 with all its events published (a 2xx means Kafka acknowledged),
so each figure counts only durable events. The target is ≥ 5,000 events/s accepted.
Figures are printed and written to bench/results/webhooks-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import orjson

from bench.pipeline import isolate_environment, local_broker, machine, step
from ingest.http.auth import signature
from ingest.http.credentials import issue_key
from pingan.platform.district import community_ids
from pingan.platform.provision import create_topics
from pingan.platform.publisher import Publisher
from pingan.platform.stack.kafka import free_port
from schemas.credentials import CredentialScheme
from schemas.events import DeviceKind, Direction, PlateColour, Record, VehiclePassage, utc_now
from schemas.reference import Device

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_EVENTS_PER_S = 5_000


@dataclass(frozen=True)
class Options:
    events: int
    batch: int
    clients: int
    single_events: int
    single_clients: int


@dataclass
class Figure:
    name: str
    events: int
    requests: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds


@dataclass
class Report:
    options: dict[str, int]
    figures: list[dict[str, float | int | str]] = field(default_factory=list)
    machine: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Camera:
    device: Device
    bearer: str
    secret: str


def cameras() -> list[tuple[Camera, list[Record]]]:
    """A bearer and a signing camera per community, with the records that register them."""
    made = []
    for community_id in sorted(community_ids()):
        device = Device(
            device_id=f"bench-{community_id}",
            community_id=community_id,
            device_kind=DeviceKind.CAMERA,
        )
        signing = device.model_copy(update={"device_id": f"bench-{community_id}-signed"})
        bearer = issue_key(device.device_id, CredentialScheme.BEARER, "bench", utc_now())
        hmac_key = issue_key(signing.device_id, CredentialScheme.HMAC, "bench", utc_now())
        camera = Camera(device, bearer.key, hmac_key.key)
        made.append((camera, [device, signing, bearer.credential, hmac_key.credential]))
    return made


def passages(camera: Camera, count: int) -> list[dict[str, object]]:
    occurred = (utc_now() - timedelta(seconds=1)).isoformat()
    return [
        {
            "event_id": uuid.uuid4().hex,
            "community_id": camera.device.community_id,
            "occurred_at": occurred,
            "plate": f"浙A{i % 100_000:05d}",
            "plate_colour": PlateColour.BLUE.value,
            "direction": Direction.IN.value,
            "gate_id": "g1",
            "camera_id": camera.device.device_id,
            "confidence": 0.93,
        }
        for i in range(count)
    ]


@contextlib.contextmanager
def webhook_server(bootstrap: str, port: int, log_path: Path) -> Iterator[str]:
    """`pingan ingest http` in its own process, as deployed."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        "PINGAN_INGEST_HTTP_PORT": str(port),
        "PINGAN_LOG_LEVEL": "WARNING",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from ingest.http.cli import http; http()"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}/ingest/v1/vehicle-passages"
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def until_ready(session: aiohttp.ClientSession, url: str, timeout: float = 60.0) -> None:
    """Ready when an unauthenticated post gets 401: credentials are loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.post(url, data=b"{}") as answer:
                if answer.status == 401:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"webhook server at {url} not ready within {timeout:.0f}s")


async def post_all(
    session: aiohttp.ClientSession,
    url: str,
    requests: list[tuple[bytes, dict[str, str], int]],
    clients: int,
) -> float:
    """Post every (body, headers, events) from `clients` workers; returns elapsed seconds."""
    queue = iter(requests)

    async def client() -> None:
        for body, headers, count in queue:
            async with session.post(url, data=body, headers=headers) as answer:
                result = await answer.json()
                if answer.status != 200 or result["published"] != count:
                    raise RuntimeError(f"post refused: {answer.status} {result}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started


def bearer_requests(
    fleet: Sequence[Camera], events: int, batch: int
) -> list[tuple[bytes, dict[str, str], int]]:
    requests = []
    per_camera = max(1, events // (len(fleet) * batch))
    for camera in fleet:
        headers = {"Authorization": f"Bearer {camera.bearer}", "Content-Type": "application/json"}
        for _ in range(per_camera):
            body = passages(camera, batch)
            requests.append((orjson.dumps(body if batch > 1 else body[0]), headers, batch))
    return requests


def signed_requests(
    fleet: Sequence[Camera], events: int, batch: int
) -> list[tuple[bytes, dict[str, str], int]]:
    """Signed when built: a device signs just before sending, well inside the window."""
    requests = []
    per_camera = max(1, events // (len(fleet) * batch))
    for camera in fleet:
        for _ in range(per_camera):
            body = orjson.dumps(passages(camera, batch))
            stamp = str(int(time.time()))
            headers = {
                "X-Pingan-Device": f"{camera.device.device_id}-signed",
                "X-Pingan-Timestamp": stamp,
                "X-Pingan-Signature": signature(camera.secret, stamp, body),
                "Content-Type": "application/json",
            }
            requests.append((body, headers, batch))
    return requests


async def baseline(
    bootstrap: str, fleet: Sequence[Camera], events: int, batch: int, clients: int
) -> Figure:
    """The same passages through Publisher.publish_many, no HTTP, no validation."""
    received = utc_now()
    batches = [
        [VehiclePassage.model_validate({**p, "received_at": received}) for p in body]
        for camera in fleet
        for body in [passages(camera, batch) for _ in range(events // (len(fleet) * batch))]
    ]
    queue = iter(batches)
    async with Publisher(bootstrap) as publisher:

        async def client() -> None:
            for records in queue:
                await publisher.publish_many(records)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.perf_counter() - started
    return Figure("baseline: Publisher.publish_many", sum(map(len, batches)), len(batches), seconds)


async def bench(opts: Options, bootstrap: str, tmp: Path) -> Report:
    await create_topics(bootstrap)
    made = cameras()
    fleet = [camera for camera, _ in made]
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many([r for _, records in made for r in records])
    report = Report(options=asdict(opts))
    step(f"baseline: {opts.events:,} passages through Publisher.publish_many")
    figures = [await baseline(bootstrap, fleet, opts.events, opts.batch, opts.clients)]
    with webhook_server(bootstrap, free_port(), tmp / "ingest-http.log") as url:
        connector = aiohttp.TCPConnector(limit=max(opts.clients, opts.single_clients))
        async with aiohttp.ClientSession(connector=connector) as session:
            await until_ready(session, url)
            warmup = bearer_requests(fleet, len(fleet) * opts.batch, opts.batch)
            await post_all(session, url, warmup, opts.clients)
            for name, requests, clients in (
                (
                    f"webhook batches of {opts.batch}, bearer",
                    bearer_requests(fleet, opts.events, opts.batch),
                    opts.clients,
                ),
                (
                    f"webhook batches of {opts.batch}, HMAC-signed",
                    signed_requests(fleet, opts.events, opts.batch),
                    opts.clients,
                ),
                (
                    "webhook single posts, bearer",
                    bearer_requests(fleet, opts.single_events, 1),
                    opts.single_clients,
                ),
            ):
                step(f"{name}: {sum(r[2] for r in requests):,} passages, {clients} clients")
                seconds = await post_all(session, url, requests, clients)
                figures.append(Figure(name, sum(r[2] for r in requests), len(requests), seconds))
    report.figures = [{**asdict(f), "events_per_s": round(f.events_per_s)} for f in figures]
    return report


def render(report: Report, path: Path) -> str:
    base = float(report.figures[0]["events_per_s"])
    lines = [f"{'':42} {'events':>8} {'requests':>9} {'events/s':>9} {'vs baseline':>11}"]
    for f in report.figures:
        rate = float(f["events_per_s"])
        lines.append(
            f"{f['name']:42} {f['events']:>8,} {f['requests']:>9,} {rate:>9,.0f} "
            f"{rate / base:>11.2f}"
        )
    best = max(float(f["events_per_s"]) for f in report.figures[1:])
    verdict = "OK" if best >= TARGET_EVENTS_PER_S else "BELOW TARGET"
    lines.append(f"target ≥ {TARGET_EVENTS_PER_S:,} events/s accepted: {best:,.0f} {verdict}")
    lines.append(f"written to {path}")
    return "\n".join(lines)


def save(report: Report) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"webhooks-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(asdict(report), indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--events", type=int, default=50_000, help="passages per batch phase")
    parser.add_argument("--batch", type=int, default=100, help="passages per batch post")
    parser.add_argument("--clients", type=int, default=8, help="concurrent batch clients")
    parser.add_argument("--single-events", type=int, default=5_000, help="single posts")
    parser.add_argument("--single-clients", type=int, default=32, help="concurrent single posters")
    return Options(**vars(parser.parse_args(argv)))


def main(argv: Sequence[str] | None = None) -> None:
    opts = parse_options(argv)
    isolate_environment()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # leader elections of new topics
    with tempfile.TemporaryDirectory(prefix="pingan-bench-webhooks-") as tmp:
        step("starting a Kafka broker")
        with local_broker(Path(tmp) / "broker") as broker:
            report = asyncio.run(bench(opts, broker.bootstrap, Path(tmp)))
            step("stopping the broker")
    report.machine = machine()
    print(render(report, save(report)))


if __name__ == "__main__":
    main()

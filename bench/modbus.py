"""Modbus poller benchmark: devices polled per second by one poller process, on real pymodbus
TCP servers and a real Kafka broker, next to raw pymodbus reads of the same registers.

Simulated devices (half charging sheds polling 8 slots, a quarter fence controllers, a
quarter smoke detectors; `--per-gateway` unit ids behind each port, like RS-485 gateways)
are served by a separate process, so the figures below are the poller's own CPU. Then:

- baseline: one plain `AsyncModbusTcpClient` per gateway reads its devices' planned
  requests back to back, as fast as it can, for `--seconds`: no decoding, no records,
  no Kafka. This is the ceiling pymodbus itself sets on this machine.
- target: the poller with every device at `--interval` (default 500 devices at 1 s) for
  `--seconds`, publishing to Kafka: devices polled/s (target: all of them, every interval),
  poll latency p50/p95/p99 (all requests of one device), CPU share of the poller process,
  records published/s.
- flat out: the same poller with every device polled again as soon as it is done: its
  capacity (Kafka included), and the ratio to the baseline.

Figures are printed and written to bench/results/modbus-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from multiprocessing.synchronize import Event
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient

from ingest.modbus.devices import DeviceConfig, ModbusDevice, resolve
from ingest.modbus.outbox import Outbox
from ingest.modbus.poller import LinkSettings, Poller, cancel_all
from ingest.modbus.register_map import Table, load_maps
from ingest.modbus.simulated import SimulatedDevice, SimulatedSite
from pingan.platform.district import community_ids
from pingan.platform.provision import create_topics
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.stack import kafka
from pingan.platform.stack.kafka import free_port

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MIX = ("charging_shed", "charging_shed", "fence_controller", "smoke_detector")


@dataclass
class Phase:
    name: str
    devices: int
    interval_s: float | None
    seconds: float
    polls_per_s: float
    target_per_s: float | None
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float
    cpu_share: float
    """Poller process CPU seconds per wall second (1.0 = one core busy)."""
    failed_polls: int
    records_per_s: float


@dataclass
class Report:
    devices: int
    gateways: int
    requests_per_poll: float
    phases: list[Phase]
    flat_out_vs_baseline: float
    machine: str


def fleet(devices: int, per_gateway: int, ports: Sequence[int]) -> list[ModbusDevice]:
    configs = []
    for i in range(devices):
        model = MIX[i % len(MIX)]
        community = f"c{i % 42 + 1:02d}"
        device_id = f"{community}-bench{i:04d}"
        channels = [f"{device_id}-s{n:02d}" for n in range(1, 9)] if model == MIX[0] else None
        configs.append(
            DeviceConfig(
                device_id=device_id,
                community=community,
                model=model,
                host="127.0.0.1",
                port=ports[i // per_gateway],
                unit=i % per_gateway + 1,
                channels=channels,
            )
        )
    return resolve(configs, load_maps(), community_ids())


def serve(devices: int, per_gateway: int, ports: list[int], ready: Event) -> None:
    """The simulated gateways, in their own process."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    async def main() -> None:
        maps = load_maps()
        sites: dict[int, dict[int, SimulatedDevice]] = {port: {} for port in ports}
        for device in fleet(devices, per_gateway, ports):
            sites[device.config.port][device.config.unit] = SimulatedDevice(
                maps[device.config.model]
            )
        for port, units in sites.items():
            await SimulatedSite(units, port=port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def baseline(devices: list[ModbusDevice], seconds: float) -> Phase:
    """Raw pymodbus: each gateway's devices read back to back, no decoding or publishing."""
    by_port: dict[int, list[ModbusDevice]] = {}
    for device in devices:
        by_port.setdefault(device.config.port, []).append(device)
    latencies: list[float] = []
    polls = 0

    async def gateway(port: int, members: list[ModbusDevice], stop_at: float) -> None:
        nonlocal polls
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
        await client.connect()
        read = {
            Table.COIL: client.read_coils,
            Table.DISCRETE_INPUT: client.read_discrete_inputs,
            Table.HOLDING: client.read_holding_registers,
            Table.INPUT: client.read_input_registers,
        }
        try:
            while time.monotonic() < stop_at:
                for device in members:
                    started = time.perf_counter()
                    for r in device.reads:
                        await read[r.table](r.address, count=r.count, device_id=device.config.unit)
                    latencies.append((time.perf_counter() - started) * 1000)
                    polls += 1
        finally:
            client.close()

    cpu, wall = time.process_time(), time.monotonic()
    stop_at = wall + seconds
    await asyncio.gather(*(gateway(p, m, stop_at) for p, m in by_port.items()))
    elapsed = time.monotonic() - wall
    return _phase(
        "baseline (raw pymodbus)", len(devices), None, elapsed, polls, latencies, cpu, 0, 0
    )


async def poller_phase(
    name: str, bootstrap: str, devices: list[ModbusDevice], interval: float, seconds: float
) -> Phase:
    devices = [
        replace(d, config=d.config.model_copy(update={"interval": interval})) for d in devices
    ]
    async with Publisher(bootstrap) as publisher:
        outbox = Outbox(publisher)
        poller = Poller(devices, outbox, LinkSettings(timeout=2.0), keep_latencies=True)
        outbox_task = asyncio.create_task(outbox.run())
        poll_task = asyncio.create_task(poller.run())
        await _every_device_polled(poller)
        for state in poller.states.values():
            state.latencies_ms.clear()
        polls, failures, published = poller.polls, poller.failures, outbox.published
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - wall
        phase = _phase(
            name,
            len(devices),
            interval,
            elapsed,
            poller.polls - polls,
            [ms for s in poller.states.values() for ms in s.latencies_ms],
            cpu,
            poller.failures - failures,
            outbox.published - published,
        )
        await cancel_all([poll_task])
        await cancel_all([outbox_task])
    return phase


async def _every_device_polled(poller: Poller, timeout: float = 30.0) -> None:
    """Warm-up: connections made and each device polled once before the clock starts."""
    deadline = time.monotonic() + timeout
    while any(s.online is None for s in poller.states.values()):
        if time.monotonic() > deadline:
            raise SystemExit("devices not polled within the warm-up")
        await asyncio.sleep(0.05)


def _phase(
    name: str,
    devices: int,
    interval: float | None,
    elapsed: float,
    polls: int,
    latencies: list[float],
    cpu_start: float,
    failures: int,
    records: int,
) -> Phase:
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    return Phase(
        name=name,
        devices=devices,
        interval_s=interval,
        seconds=round(elapsed, 2),
        polls_per_s=round(polls / elapsed, 1),
        target_per_s=round(devices / interval, 1) if interval and interval >= 0.05 else None,
        latency_ms_p50=round(cuts[49], 2),
        latency_ms_p95=round(cuts[94], 2),
        latency_ms_p99=round(cuts[98], 2),
        cpu_share=round((time.process_time() - cpu_start) / elapsed, 3),
        failed_polls=failures,
        records_per_s=round(records / elapsed, 1),
    )


async def measure(args: argparse.Namespace, bootstrap: str, ports: list[int]) -> Report:
    devices = fleet(args.devices, args.per_gateway, ports)
    phases = [await baseline(devices, args.seconds)]
    phases.append(
        await poller_phase("poller at target", bootstrap, devices, args.interval, args.seconds)
    )
    phases.append(await poller_phase("poller flat out", bootstrap, devices, 0.001, args.seconds))
    return Report(
        devices=args.devices,
        gateways=len(ports),
        requests_per_poll=round(sum(len(d.reads) for d in devices) / len(devices), 2),
        phases=phases,
        flat_out_vs_baseline=round(phases[2].polls_per_s / phases[0].polls_per_s, 3),
        machine=f"{os.cpu_count()} cpus, {os.uname().machine}",
    )


def render(report: Report) -> str:
    lines = [
        f"{report.devices} devices behind {report.gateways} gateways, "
        f"{report.requests_per_poll} requests per poll ({report.machine})",
        f"{'phase':26} {'polls/s':>9} {'target':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'cpu':>6} {'failed':>7} {'records/s':>10}",
    ]
    for p in report.phases:
        target = f"{p.target_per_s:g}" if p.target_per_s else "-"
        lines.append(
            f"{p.name:26} {p.polls_per_s:9.1f} {target:>8} {p.latency_ms_p50:8.2f} "
            f"{p.latency_ms_p95:8.2f} {p.latency_ms_p99:8.2f} {p.cpu_share:6.2f} "
            f"{p.failed_polls:7d} {p.records_per_s:10.1f}"
        )
    lines.append(f"poller flat out / raw pymodbus baseline: {report.flat_out_vs_baseline:.2f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.modbus", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--per-gateway", type=int, default=10, help="unit ids per port")
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval (s)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    gateways = -(-args.devices // args.per_gateway)
    ports: list[int] = []
    while len(ports) < gateways:  # free_port may hand out a port twice
        port = free_port()
        if port not in ports:
            ports.append(port)
    ready = multiprocessing.get_context("spawn").Event()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(args.devices, args.per_gateway, ports, ready), daemon=True
    )
    with tempfile.TemporaryDirectory(prefix="pingan-bench-modbus-") as tmp:
        settings = Settings(
            data_dir=Path(tmp), kafka_port=free_port(), kafka_controller_port=free_port()
        )
        bootstrap = kafka.up(settings)
        server.start()
        try:
            asyncio.run(create_topics(bootstrap))
            if not ready.wait(120):
                raise SystemExit("simulated gateways did not start")
            report = asyncio.run(measure(args, bootstrap, ports))
        finally:
            server.terminate()
            server.join()
            kafka.down(settings)
    print(render(report))
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"modbus-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(asdict(report), indent=2) + "\n")
    print(f"written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()

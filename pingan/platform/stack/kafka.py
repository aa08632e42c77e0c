"""Run a single-node Apache Kafka broker (KRaft, no ZooKeeper) for local use.

The broker is plain Java: its jars are resolved once with Maven into the shared cache
directory, and it runs detached from the Python process so that ``pingan stack up`` can
return while the broker keeps serving. State lives in ``{data_dir}/kafka``: the
generated ``server.properties``, the log dirs, ``broker.pid`` and ``broker.log``.

When ``settings.kafka_bootstrap`` points at an existing cluster nothing is started;
``up`` only waits for that cluster to answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from pingan.platform.settings import Settings, kafka_security

JAVA_MIN_MAJOR = 17
HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LOG4J_CONFIG = HERE / "log4j.properties"
JAR_MARKER = ".complete"
LOG_TAIL_LINES = 20
BROKER_JVM_OPTIONS = ("-Xms256m", "-Xmx1g")
JARS_DOWNLOAD = "about 70 MB, half a minute on a fast connection"
"""What Maven fetches for Kafka 3.9 into an empty repository: 105 jars (56 MB) and its own
plugins; measured at 32 s."""

Progress = Callable[[str], None]
"""Where the first run says what it is fetching, since that takes a while."""

# Brokers started by this process, so that ``down`` can reap them (no zombies).
_children: dict[int, subprocess.Popen[bytes]] = {}


class MissingPrerequisite(Exception):
    """A tool needed to run the local broker (Java, Maven) is not installed."""


class BrokerError(RuntimeError):
    """The local broker could not be started, or a cluster did not answer in time."""


# --- prerequisites -------------------------------------------------------------------


def parse_java_major(version_output: str) -> int | None:
    """Return the major Java version from ``java -version`` output, or None if unknown.

    Handles the legacy ``1.8.0_292`` scheme (major 8) and the modern ``17.0.15`` / ``21``.
    """
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2) is not None:
        return int(match.group(2))
    return major


def _java_major(java: str) -> int | None:
    """Run ``java -version`` (which prints to stderr) and parse its major version."""
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_java_major(done.stderr + done.stdout)


def check_prerequisites(maven: bool = True) -> None:
    """Fail early, with one message naming everything to install, if Java or Maven is missing.

    Maven is only needed to download the jars; pass ``maven=False`` once they are cached.
    """
    problems: list[str] = []
    packages: list[str] = []
    java = shutil.which("java")
    if java is None:
        problems.append(f"Java {JAVA_MIN_MAJOR}+ (`java` is not on PATH)")
    else:
        major = _java_major(java)
        if major is None or major < JAVA_MIN_MAJOR:
            found = "an unknown version" if major is None else f"Java {major}"
            problems.append(f"Java {JAVA_MIN_MAJOR}+ (`{java}` is {found})")
    if problems:
        packages.append(f"openjdk-{JAVA_MIN_MAJOR}-jre-headless")
    if maven and shutil.which("mvn") is None:
        problems.append("Apache Maven (`mvn` is not on PATH; it downloads the Kafka jars)")
        packages.append("maven")
    if problems:
        raise MissingPrerequisite(
            f"The local Kafka broker needs {' and '.join(problems)}. "
            f"Install {'them' if len(problems) > 1 else 'it'} "
            f"(Debian/Ubuntu: `apt-get install {' '.join(packages)}`), "
            "or set KAFKA_BOOTSTRAP to use an existing Kafka cluster."
        )


# --- jars ----------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock so concurrent invocations do not race on the same state."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _jars_home(settings: Settings) -> Path:
    return settings.cache_dir / f"kafka-{settings.kafka_version}"


def _jars_ready(settings: Settings) -> bool:
    home = _jars_home(settings)
    return (home / JAR_MARKER).exists() and (home / "libs").is_dir()


def ensure_jars(settings: Settings, progress: Progress | None = None) -> Path:
    """Return the directory holding the broker's jars, resolving them with Maven once.

    The jars are fetched into a temporary directory that is renamed into place, and a
    marker is written only afterwards, so an interrupted download is never used.
    """
    home = _jars_home(settings)
    libs = home / "libs"
    marker = home / JAR_MARKER
    if _jars_ready(settings):
        return libs
    with _locked(home / ".lock"):
        if _jars_ready(settings):
            return libs
        check_prerequisites()
        say = progress or (lambda _line: None)
        say(
            f"Fetching Apache Kafka {settings.kafka_version}'s jars from Maven Central into "
            f"{home} (first run only: {JARS_DOWNLOAD})..."
        )
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix="libs.partial-", dir=home))
        try:
            done = subprocess.run(
                [
                    "mvn",
                    "-q",
                    "-B",
                    "-f",
                    str(POM),
                    f"-Dkafka.version={settings.kafka_version}",
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={staging}",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0 or not any(staging.glob("kafka_*.jar")):
                raise BrokerError(
                    f"Maven could not resolve Kafka {settings.kafka_version} "
                    f"(exit {done.returncode}):\n{_tail(done.stdout + done.stderr)}"
                )
            if libs.exists():
                shutil.rmtree(libs)
            staging.rename(libs)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        jars = list(libs.glob("*.jar"))
        marker.write_text(f"{len(jars)} jars\n")
        megabytes = sum(jar.stat().st_size for jar in jars) / 1e6
        say(
            f"Kafka jars ready: {len(jars)} jars, {megabytes:.0f} MB, "
            f"in {time.monotonic() - started:.0f} s"
        )
    return libs


# --- readiness -----------------------------------------------------------------------


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    hosts = []
    for entry in bootstrap.split(","):
        host, sep, port = entry.strip().rpartition(":")
        if not sep:
            host, port = entry.strip(), "9092"
        hosts.append((host.strip("[]") or "localhost", int(port)))
    return hosts


async def _accepts_connections(bootstrap: str, timeout: float) -> bool:
    """Cheap TCP check, so polling a broker that is not listening yet logs no errors."""
    for host, port in _hosts(bootstrap):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (TimeoutError, OSError):
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False


async def probe_broker(
    bootstrap: str, timeout: float = 2.0, security: dict[str, Any] | None = None
) -> str | None:
    """Return the cluster id if ``bootstrap`` answers a metadata request, else None.
    `security`: aiokafka's SASL keywords (default: this process's settings)."""
    if not await _accepts_connections(bootstrap, timeout):
        return None
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        **(kafka_security() if security is None else security),
        request_timeout_ms=max(int(timeout * 1000), 1),
    )
    try:
        await asyncio.wait_for(admin.start(), timeout)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout)
    except (TimeoutError, KafkaError, OSError):
        return None
    finally:
        await admin.close()
    if not cluster.get("brokers"):
        return None
    return cluster.get("cluster_id") or ""


async def _await_broker(
    bootstrap: str,
    timeout: float,
    still_running: Callable[[], bool] | None = None,
    security: dict[str, Any] | None = None,
) -> str:
    """Poll with a real metadata request until the cluster answers; return its cluster id."""
    deadline = time.monotonic() + timeout
    backoff = 0.1
    while True:
        remaining = deadline - time.monotonic()
        cluster_id = await probe_broker(
            bootstrap, timeout=max(min(remaining, 2.0), 0.1), security=security
        )
        if cluster_id is not None:
            return cluster_id
        if still_running is not None and not still_running():
            raise BrokerError(f"the broker for {bootstrap} exited while starting")
        if time.monotonic() + backoff > deadline:
            raise TimeoutError(f"Kafka at {bootstrap} did not answer within {timeout:.0f}s")
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 1.0)


def wait_for_broker(
    bootstrap: str, timeout: float = 60.0, security: dict[str, Any] | None = None
) -> None:
    """Block until the cluster at ``bootstrap`` answers a metadata request.

    Raises TimeoutError otherwise. Not for use inside a running event loop: await
    ``probe_broker`` there instead.
    """
    asyncio.run(_await_broker(bootstrap, timeout, security=security))


# --- local broker --------------------------------------------------------------------


def _kafka_dir(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "kafka"


def _pid_file(settings: Settings) -> Path:
    return _kafka_dir(settings) / "broker.pid"


def _log_file(settings: Settings) -> Path:
    return _kafka_dir(settings) / "broker.log"


def _is_broker(pid: int) -> bool:
    """True if ``pid`` is a live Kafka broker (not a zombie, not a recycled pid)."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return True
    try:
        return b"kafka.Kafka" in cmdline.read_bytes()
    except OSError:
        return False


def _running_pid(settings: Settings) -> int | None:
    """The pid of the local broker if the pid file names a live one."""
    try:
        pid = int(_pid_file(settings).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_broker(pid) else None


def free_port() -> int:
    """A loopback port nothing listens on now: for throwaway brokers, workers and APIs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _server_properties(settings: Settings) -> str:
    port, cport = settings.kafka_port, settings.kafka_controller_port
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{cport}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(_kafka_dir(settings) / "logs"),
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "log.retention.check.interval.ms": "60000",
        # After an unclean stop the controller refuses the restarted broker's registration
        # until the old session expires (9 s by default); a short session keeps restarts fast.
        "broker.heartbeat.interval.ms": "500",
        "broker.session.timeout.ms": "3000",
    }
    if settings.kafka_security_protocol != "PLAINTEXT":
        props |= _sasl_properties(settings)
    lines = ["# Generated by pingan.platform.stack.kafka; rewritten on every start."]
    lines += [f"{key}={value}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


def _sasl_properties(settings: Settings) -> dict[str, str]:
    """The local broker as compose runs its nodes (deploy/kafka/broker.sh): SCRAM for clients,
    PLAIN between controller and broker, ACLs enforced, PINGAN_KAFKA_SASL_USERNAME the only
    super user (the first start creates its SCRAM credential)."""
    if settings.kafka_security_protocol != "SASL_PLAINTEXT" or not settings.kafka_sasl_mechanism:
        raise BrokerError(
            "the local broker authenticates with SASL_PLAINTEXT only; for SASL_SSL, point "
            "KAFKA_BOOTSTRAP at a cluster with TLS"
        )
    user, password = _sasl_user(settings)
    port, cport = settings.kafka_port, settings.kafka_controller_port
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule required"
    plain = "org.apache.kafka.common.security.plain.PlainLoginModule required"
    mechanism = settings.kafka_sasl_mechanism.lower()
    return {
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": settings.kafka_sasl_mechanism,
        "sasl.mechanism.inter.broker.protocol": settings.kafka_sasl_mechanism,
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": (
            f'{plain} username="{user}" password="{password}" user_{user}="{password}";'
        ),
        f"listener.name.sasl_plaintext.{mechanism}.sasl.jaas.config": (
            f'{scram} username="{user}" password="{password}";'
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{user}",
        "allow.everyone.if.no.acl.found": "false",
    }


def _sasl_user(settings: Settings) -> tuple[str, str]:
    assert settings.kafka_sasl_username and settings.kafka_sasl_password  # Settings checks
    return settings.kafka_sasl_username, settings.kafka_sasl_password.get_secret_value()


def _java(libs: Path, *args: str, jvm_options: tuple[str, ...] = ()) -> list[str]:
    return [
        "java",
        *jvm_options,
        f"-Dlog4j.configuration=file:{LOG4J_CONFIG}",
        "-cp",
        f"{libs}/*",
        *args,
    ]


def _run_tool(libs: Path, *args: str) -> str:
    done = subprocess.run(
        _java(libs, *args), capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise BrokerError(
            f"`{' '.join(args)}` failed (exit {done.returncode}):\n"
            f"{_tail(done.stdout + done.stderr)}"
        )
    return done.stdout


def _cluster_id(log_dir: Path) -> str | None:
    """The cluster id recorded in the formatted log dir, or None if not formatted."""
    try:
        text = (log_dir / "meta.properties").read_text()
    except OSError:
        return None
    match = re.search(r"^cluster\.id=(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def _format_storage(libs: Path, config: Path, log_dir: Path, settings: Settings) -> None:
    """Format the KRaft log dir once; reformatting would wipe the cluster's identity. With
    SASL, the super user's SCRAM credential is written into the new cluster's metadata."""
    if (log_dir / "meta.properties").exists():
        return
    cluster_id = _run_tool(libs, "kafka.tools.StorageTool", "random-uuid").split()[-1]
    scram: tuple[str, ...] = ()
    if settings.kafka_security_protocol != "PLAINTEXT":
        user, password = _sasl_user(settings)
        credential = f"{settings.kafka_sasl_mechanism}=[name={user},password={password}]"
        scram = ("--add-scram", credential)
    _run_tool(
        libs, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config), *scram
    )


def _with_log(settings: Settings, exc: Exception) -> BrokerError:
    """A BrokerError that shows why: the last lines of the broker's log."""
    log = _log_file(settings)
    try:
        tail = _tail(log.read_text(errors="replace"))
    except OSError:
        tail = "(no log)"
    return BrokerError(f"{exc}; last lines of {log}:\n{tail}")


def _start(settings: Settings, timeout: float, progress: Progress | None) -> None:
    """Start the broker detached, then wait until it answers (or fail with its log)."""
    check_prerequisites(maven=not _jars_ready(settings))
    busy = [p for p in (settings.kafka_port, settings.kafka_controller_port) if _port_in_use(p)]
    if busy:
        raise BrokerError(
            f"port(s) {', '.join(map(str, busy))} are in use by another process; stop it, "
            "or set PINGAN_KAFKA_PORT / PINGAN_KAFKA_CONTROLLER_PORT, "
            "or point KAFKA_BOOTSTRAP at that cluster."
        )
    libs = ensure_jars(settings, progress)
    if progress is not None:
        progress(f"Starting the local Kafka broker at {settings.local_kafka_bootstrap}...")
    kafka_dir = _kafka_dir(settings)
    log_dir = kafka_dir / "logs"
    config = kafka_dir / "server.properties"
    config.touch(mode=0o600)
    config.chmod(0o600)  # it holds the SASL password, if any
    config.write_text(_server_properties(settings))
    _format_storage(libs, config, log_dir, settings)

    with _log_file(settings).open("wb") as log:
        proc = subprocess.Popen(
            _java(libs, "kafka.Kafka", str(config), jvm_options=BROKER_JVM_OPTIONS),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=kafka_dir,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    _pid_file(settings).write_text(f"{proc.pid}\n")

    bootstrap = settings.local_kafka_bootstrap
    try:
        answered_id = asyncio.run(
            _await_broker(
                bootstrap,
                timeout,
                still_running=lambda: proc.poll() is None,
                security=settings.kafka_security,
            )
        )
    except (BrokerError, TimeoutError) as exc:
        _stop(settings, proc.pid, timeout=10)
        raise _with_log(settings, exc) from exc
    expected_id = _cluster_id(log_dir)
    if expected_id and answered_id and answered_id != expected_id:
        _stop(settings, proc.pid, timeout=10)
        raise BrokerError(
            f"{bootstrap} answered as cluster {answered_id}, not the local broker "
            f"({expected_id}); another Kafka is using port {settings.kafka_port}."
        )


def up(settings: Settings, timeout: float = 60.0, progress: Progress | None = None) -> str:
    """Make sure a Kafka cluster answers and return its bootstrap string (idempotent).

    With ``settings.kafka_bootstrap`` set, only waits for that cluster. Otherwise reuses
    the local broker if it is running, and starts it if not.
    """
    if settings.kafka_bootstrap:
        wait_for_broker(settings.kafka_bootstrap, timeout, settings.kafka_security)
        return settings.kafka_bootstrap
    bootstrap = settings.local_kafka_bootstrap
    with _locked(_kafka_dir(settings) / ".lock"):
        pid = _running_pid(settings)
        if pid is None:
            _start(settings, timeout, progress)
        else:
            try:
                asyncio.run(
                    _await_broker(
                        bootstrap,
                        timeout,
                        still_running=lambda: _is_broker(pid),
                        security=settings.kafka_security,
                    )
                )
            except (BrokerError, TimeoutError) as exc:
                raise _with_log(settings, exc) from exc
    return bootstrap


def _stop(settings: Settings, pid: int, timeout: float) -> None:
    """SIGTERM the broker (a clean shutdown), SIGKILL it if still alive after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _is_broker(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _is_broker(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while _is_broker(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    child = _children.pop(pid, None)
    if child is not None:
        child.wait()
    _pid_file(settings).unlink(missing_ok=True)


def down(settings: Settings, timeout: float = 30.0) -> None:
    """Stop the local broker if it is running; a no-op otherwise."""
    with _locked(_kafka_dir(settings) / ".lock"):
        pid = _running_pid(settings)
        if pid is None:
            _pid_file(settings).unlink(missing_ok=True)
            return
        _stop(settings, pid, timeout)


def status(settings: Settings) -> dict[str, Any]:
    """Describe the cluster in use: whether the local broker runs and whether it answers."""
    bootstrap = settings.bootstrap
    answers = asyncio.run(probe_broker(bootstrap, security=settings.kafka_security)) is not None
    if settings.kafka_bootstrap:
        return {
            "running": answers,
            "pid": None,
            "bootstrap": bootstrap,
            "answers": answers,
            "log": None,
            "external": True,
        }
    pid = _running_pid(settings)
    return {
        "running": pid is not None,
        "pid": pid,
        "bootstrap": bootstrap,
        "answers": answers,
        "log": str(_log_file(settings)),
        "external": False,
    }

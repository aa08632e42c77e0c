"""docker-compose.yml, checked without a Docker engine: schema, commands, settings, health."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import click
import jsonschema
import pytest
import yaml
from pydantic import AliasChoices

from pingan.cli import main
from pingan.platform.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# Services built from the Dockerfile: `command` is the arguments of its `pingan` entrypoint.
PINGAN_SERVICES = sorted(name for name, service in SERVICES.items() if "build" in service)
ONE_SHOTS = {
    dependency
    for service in SERVICES.values()
    for dependency, when in service.get("depends_on", {}).items()
    if when["condition"] == "service_completed_successfully"
}


def _interpolated(value: str) -> str:
    """Compose interpolation with no variable set: `${X:-default}` → default, `${X:?err}` → x."""
    return re.sub(
        r"\$\{(\w+):([-?])([^}]*)\}", lambda m: m[3] if m[2] == "-" else m[1].lower(), value
    )


def _settings_env_names() -> set[str]:
    prefix = Settings.model_config["env_prefix"]
    names: set[str] = set()
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        else:
            names.add(alias if isinstance(alias, str) else f"{prefix}{field}".upper())
    return names


def test_validates_against_the_compose_specification() -> None:
    pytest.importorskip(
        "check_jsonschema",
        reason="check-jsonschema (dev extra) ships the Compose Specification JSON schema",
    )
    vendor = files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads(vendor.joinpath("compose-spec.json").read_text())
    # It names draft 7 by https://, which jsonschema registers under http://.
    dialect = schema["$schema"].replace(
        "https://json-schema.org/draft-07/", "http://json-schema.org/draft-07/"
    )
    validator = jsonschema.validators.validator_for({"$schema": dialect})(schema)
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(COMPOSE)
    ]
    assert not errors, "\n".join(errors)


def test_image_runs_the_pingan_entrypoint_as_non_root() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    entrypoint = re.findall(r"^ENTRYPOINT (.+)$", dockerfile, re.MULTILINE)[-1]
    user = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)[-1]
    assert json.loads(entrypoint) == ["pingan"]
    assert user not in {"root", "0"}


@pytest.mark.parametrize("name", PINGAN_SERVICES)
def test_command_is_a_pingan_command_with_valid_options(name: str) -> None:
    words = [str(word) for word in SERVICES[name]["command"]]
    command: click.Command = main
    path = ["pingan"]
    while isinstance(command, click.Group):
        sub = command.get_command(click.Context(command), words[0]) if words else None
        assert sub is not None, f"{name}: `{' '.join(path + words[:1])}` is not a command"
        path.append(words.pop(0))
        command = sub
    command.make_context(" ".join(path), words)  # unknown options or bad values raise


@pytest.mark.parametrize("name", PINGAN_SERVICES)
def test_environment_holds_only_valid_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    environment: dict[str, Any] = SERVICES[name]["environment"]
    unknown = sorted(set(environment) - _settings_env_names())
    assert not unknown, f"{name}: {unknown} are not pingan.platform.settings fields"
    for key, value in environment.items():
        monkeypatch.setenv(key, _interpolated(str(value)))
    Settings()  # every value parses as its field's type


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_long_running_services_have_healthchecks(name: str) -> None:
    service = SERVICES[name]
    if name in ONE_SHOTS:
        assert service.get("restart", "no") == "no", f"{name} runs once: never restart it"
    else:
        assert service.get("healthcheck", {}).get("test"), f"{name} runs on but has no healthcheck"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_and_volumes_exist(name: str) -> None:
    service = SERVICES[name]
    for dependency, when in service.get("depends_on", {}).items():
        assert dependency in SERVICES, f"{name} depends on unknown service {dependency}"
        if when["condition"] == "service_healthy":
            assert "healthcheck" in SERVICES[dependency], f"{dependency} never becomes healthy"
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        assert source.startswith((".", "/")) or source in COMPOSE["volumes"], source


def test_the_api_is_never_published_without_a_token_secret() -> None:
    api = SERVICES["api"]
    assert api["environment"]["PINGAN_API_TOKEN_SECRET"].startswith(
        "${PINGAN_API_TOKEN_SECRET:?"
    ), "compose must refuse to start the API until a token secret is set"
    assert "*" not in api["environment"]["PINGAN_API_ALLOWED_HOSTS"]


GRAFANA = SERVICES["grafana"]
GRAFANA_PROVISIONING = REPO / "dashboards" / "grafana" / "provisioning"


def test_grafana_is_pinned_with_its_clickhouse_plugin() -> None:
    image, _, tag = GRAFANA["image"].partition(":")
    assert image == "grafana/grafana" and re.fullmatch(r"\d+\.\d+\.\d+", tag), GRAFANA["image"]
    plugin = GRAFANA["environment"]["GF_INSTALL_PLUGINS"]
    assert re.fullmatch(r"grafana-clickhouse-datasource \d+\.\d+\.\d+", plugin), plugin


def test_grafana_admin_password_has_no_default() -> None:
    password = GRAFANA["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert password.startswith("${GRAFANA_ADMIN_PASSWORD:?"), password
    assert GRAFANA["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_grafana_provisioning_is_mounted_read_only() -> None:
    mounts = {volume.split(":")[0]: volume for volume in GRAFANA["volumes"]}
    for source in ("./dashboards/grafana/provisioning", "./dashboards/grafana/dashboards"):
        assert (REPO / source).is_dir(), source
        assert mounts[source].endswith(":ro"), mounts[source]
    assert GRAFANA["depends_on"]["clickhouse"]["condition"] == "service_healthy"


def test_grafana_environment_fills_every_datasource_variable() -> None:
    text = (GRAFANA_PROVISIONING / "datasources" / "clickhouse.yaml").read_text()
    needed = set(re.findall(r"\$\{(\w+)\}", text))
    assert needed, "the data source reads its address and account from the environment"
    assert needed <= set(GRAFANA["environment"]), needed - set(GRAFANA["environment"])
    assert GRAFANA["environment"]["CLICKHOUSE_HTTP_HOST"] == "clickhouse"


def test_grafana_reads_clickhouse_as_the_read_only_analyst() -> None:
    clickhouse = SERVICES["clickhouse"]
    users_file = next(v for v in clickhouse["volumes"] if "users.d" in v)
    source, target, mode = users_file.split(":")
    assert mode == "ro" and target.startswith("/etc/clickhouse-server/users.d/")
    users = ElementTree.parse(REPO / source).getroot()
    user = GRAFANA["environment"]["PINGAN_SQL_USER"]
    account = users.find(f"users/{user}")
    assert account is not None, f"{source} defines no user {user}"
    password = account.find("password")
    assert password is not None and password.get("from_env") == "PINGAN_SQL_PASSWORD"
    assert clickhouse["environment"]["PINGAN_SQL_PASSWORD"].startswith("${PINGAN_SQL_PASSWORD:?")
    profile = users.find(f"profiles/{account.findtext('profile')}")
    assert profile is not None and profile.findtext("readonly") in {"1", "2"}
    assert [q.text for q in account.iterfind("grants/query")] == ["GRANT SELECT ON pingan.*"]


# --- a deployment that passes a security review (issue 15) ---------------------------

KAFKA_NODES = sorted(
    name
    for name, service in SERVICES.items()
    if service.get("image", "").startswith("apache/kafka")
    and "broker.sh" in " ".join(service.get("entrypoint", []))
)
BROKER_SCRIPT = (REPO / "deploy" / "kafka" / "broker.sh").read_text()
ACL_SCRIPT = (REPO / "deploy" / "kafka" / "acls.sh").read_text()
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$")
REQUIRED = re.compile(r"^\$\{\w+:\?[^}]+\}$")


def _heredoc(script: str, target: str) -> dict[str, str]:
    """The properties a shell script writes to `target` with `cat > target <<EOF`."""
    body = re.search(rf'cat > "\$CONFIG_DIR/{target}" <<EOF\n(.*?)\nEOF', script, re.DOTALL)
    assert body is not None, f"broker.sh writes no {target}"
    return dict(line.split("=", 1) for line in body[1].splitlines())


SERVER_PROPERTIES = _heredoc(BROKER_SCRIPT, "server.properties")


def _pingan_env(name: str) -> dict[str, str]:
    return {key: str(value) for key, value in SERVICES[name]["environment"].items()}


def _kafka_users_of_services() -> dict[str, str]:
    return {name: _pingan_env(name)["PINGAN_KAFKA_SASL_USERNAME"] for name in PINGAN_SERVICES}


def _acls() -> list[tuple[str, str, str]]:
    """(allow|deny, user, operations -- resources) for every user of every `acl` call."""
    script = ACL_SCRIPT.replace("\\\n", " ")
    calls = re.findall(r'^acl (allow|deny) ("[^"]+"|\S+) (.+)$', script, re.MULTILINE)
    return [
        (verdict, user, " ".join(rest.split()))
        for verdict, users, rest in calls
        for user in users.strip('"').split()
    ]


def test_kafka_runs_three_pinned_kraft_nodes() -> None:
    assert len(KAFKA_NODES) == 3, KAFKA_NODES
    ids = {_pingan_env(node)["KAFKA_NODE_ID"] for node in KAFKA_NODES}
    assert ids == {"1", "2", "3"}
    for node in KAFKA_NODES:
        image = SERVICES[node]["image"]
        assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", image), image
        voters = _pingan_env(node)["KAFKA_QUORUM_VOTERS"].split(",")
        assert sorted(voters) == [f"{i}@kafka-{i}:9093" for i in (1, 2, 3)]
        assert any(v.endswith(":/var/lib/kafka/data") for v in SERVICES[node]["volumes"])
    volumes = {v.split(":")[0] for node in KAFKA_NODES for v in SERVICES[node]["volumes"]}
    assert {"kafka-1-data", "kafka-2-data", "kafka-3-data"} <= volumes, "a log dir each"
    assert SERVER_PROPERTIES["process.roles"] == "broker,controller"


def test_kafka_replicates_every_write_to_two_of_three() -> None:
    assert SERVER_PROPERTIES["default.replication.factor"] == "3"
    assert SERVER_PROPERTIES["min.insync.replicas"] == "2"
    assert SERVER_PROPERTIES["offsets.topic.replication.factor"] == "3"
    assert SERVER_PROPERTIES["transaction.state.log.min.isr"] == "2"
    assert SERVER_PROPERTIES["unclean.leader.election.enable"] == "false"
    assert SERVER_PROPERTIES["auto.create.topics.enable"] == "false"


@pytest.mark.parametrize("name", PINGAN_SERVICES)
def test_pingan_creates_topics_with_replication_3_and_min_isr_2(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in _pingan_env(name).items():
        monkeypatch.setenv(key, _interpolated(value))
    settings = Settings()
    assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (3, 2)
    assert settings.bootstrap.split(",") == [f"kafka-{i}:9092" for i in (1, 2, 3)]


def test_every_kafka_listener_authenticates_with_sasl() -> None:
    mapping = dict(
        pair.split(":") for pair in SERVER_PROPERTIES["listener.security.protocol.map"].split(",")
    )
    listeners = [item.split(":")[0] for item in SERVER_PROPERTIES["listeners"].split(",")]
    assert set(listeners) == set(mapping)
    assert all(protocol.startswith("SASL_") for protocol in mapping.values()), mapping
    assert SERVER_PROPERTIES["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert SERVER_PROPERTIES["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert mapping[SERVER_PROPERTIES["inter.broker.listener.name"]].startswith("SASL_")
    assert '--add-scram "SCRAM-SHA-512=[name=admin,' in BROKER_SCRIPT


def test_kafka_denies_whatever_no_acl_allows_and_only_admin_is_super() -> None:
    assert SERVER_PROPERTIES["allow.everyone.if.no.acl.found"] == "false"
    assert SERVER_PROPERTIES["super.users"] == "User:admin"
    assert SERVER_PROPERTIES["authorizer.class.name"].endswith("StandardAuthorizer")


@pytest.mark.parametrize("name", PINGAN_SERVICES)
def test_each_service_connects_as_its_own_kafka_user(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _pingan_env(name)
    assert env["PINGAN_KAFKA_SECURITY_PROTOCOL"].startswith("SASL_")
    assert env["PINGAN_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert REQUIRED.match(env["PINGAN_KAFKA_SASL_PASSWORD"]), env["PINGAN_KAFKA_SASL_PASSWORD"]
    users = _kafka_users_of_services()
    assert users[name] != "admin"
    assert list(users.values()).count(users[name]) == 1, f"{name} shares its Kafka user"
    for key, value in env.items():
        monkeypatch.setenv(key, _interpolated(value))
    security = Settings().kafka_security
    assert security["sasl_plain_username"] == users[name]


def test_kafka_init_creates_every_service_user_with_its_acls() -> None:
    init = SERVICES["kafka-init"]
    assert "acls.sh" in " ".join(init["entrypoint"])
    assert init.get("restart") == "no"
    assert all(SERVICES[n]["depends_on"]["kafka-init"] for n in ["migrate"])
    created = set(re.findall(r"^user (\w+) ", ACL_SCRIPT, re.MULTILINE))
    acls = _acls()
    allowed = {user for verdict, user, _ in acls if verdict == "allow"}
    for user in _kafka_users_of_services().values():
        assert user in created, f"acls.sh creates no Kafka user {user}"
        assert user in allowed, f"acls.sh grants {user} nothing"
    assert {"ingest", "simulator", "modbus", "worker", "api", "migrate"} <= created
    assert "admin" not in allowed, "admin is the super user: it needs (and gets) no ACL"
    for password in re.findall(r'"\$\{(\w+PASSWORD):\?', ACL_SCRIPT):
        assert REQUIRED.match(str(init["environment"][password])), password


def test_only_migrate_may_create_topics_and_only_ingest_may_write_device_keys() -> None:
    acls = _acls()
    creators = {user for verdict, user, rest in acls if verdict == "allow" and "Create" in rest}
    assert creators == {"migrate"}
    may_write = {
        user
        for verdict, user, rest in acls
        if verdict == "allow"
        and "Write" in rest.split(" -- ")[0].split()
        and any(p in rest for p in ("(topics pingan.)", "pingan.reference.", "device-credentials"))
    }
    denied = {
        user
        for verdict, user, rest in acls
        if verdict == "deny" and "device-credentials" in rest and "Write" in rest
    }
    assert may_write - denied == {"ingest"}
    assert {"worker", "api", "simulator"} <= denied


def test_device_secret_key_is_required_and_only_the_webhooks_hold_it() -> None:
    holders = [n for n in PINGAN_SERVICES if "PINGAN_DEVICE_SECRET_KEY" in _pingan_env(n)]
    assert holders == ["ingest"]
    assert REQUIRED.match(_pingan_env("ingest")["PINGAN_DEVICE_SECRET_KEY"])


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_secret_has_a_default_or_a_literal_value(name: str) -> None:
    for key, value in SERVICES[name].get("environment", {}).items():
        text = str(value)
        if SECRET_NAME.search(key):
            assert REQUIRED.match(text), f"{name}: {key}={text} must be ${{{key}:?…}}"
        for password in re.findall(r"://[^:/@]+:([^@]+)@", text):
            assert REQUIRED.match(password), f"{name}: {key} embeds a literal password"


CLICKHOUSE = SERVICES["clickhouse"]
PINGAN_USERS_MOUNT = next(v for v in CLICKHOUSE["volumes"] if v.endswith("users.d/pingan.xml:ro"))
PINGAN_USERS = ElementTree.parse(REPO / PINGAN_USERS_MOUNT.split(":")[0]).getroot()


def _clickhouse_user(name: str) -> str | None:
    url = _pingan_env(name).get("CLICKHOUSE_URL")
    return None if url is None else re.match(r"clickhouse://([^:@]+)", url)[1]  # type: ignore[index]


def _grants(user: str) -> list[str]:
    account = PINGAN_USERS.find(f"users/{user}")
    assert account is not None, f"pingan-users.xml defines no ClickHouse user {user}"
    password = account.find("password")
    assert password is not None and REQUIRED.match(
        str(CLICKHOUSE["environment"][password.get("from_env")])
    )
    return [str(q.text) for q in account.iterfind("grants/query")]


@pytest.mark.parametrize("name", PINGAN_SERVICES)
def test_no_service_uses_the_clickhouse_default_user(name: str) -> None:
    assert _clickhouse_user(name) != "default"


def test_default_answers_only_inside_the_clickhouse_container() -> None:
    networks = PINGAN_USERS.find("users/default/networks")
    assert networks is not None and networks.get("replace") == "replace"
    assert {ip.text for ip in networks.iterfind("ip")} == {"::1", "127.0.0.1"}


def test_the_sink_and_migrations_write_as_the_writer_and_rule_workers_not_at_all() -> None:
    assert _clickhouse_user("sink") == _clickhouse_user("migrate") == "pingan_writer"
    assert _clickhouse_user("worker") is None
    [grant] = _grants("pingan_writer")
    assert grant.startswith("GRANT ") and grant.endswith(" ON pingan.*"), grant
    assert "INSERT" in grant and "ALL" not in grant and "ACCESS MANAGEMENT" not in grant


def test_the_api_reads_and_may_only_erase_face_data() -> None:
    assert _clickhouse_user("api") == "pingan_api"
    grants = _grants("pingan_api")
    assert grants[0] == "GRANT SELECT ON pingan.*"
    erasure = {
        "pingan.face_captures": "ALTER DELETE",
        "pingan.face_search_vectors": "ALTER DELETE",
        "pingan.door_access": "ALTER UPDATE",
        "pingan.biometric_searches": "ALTER UPDATE",
    }
    assert sorted(grants[1:]) == sorted(f"GRANT {op} ON {t}" for t, op in erasure.items())
    for forbidden in ("INSERT", "CREATE", "DROP", "TRUNCATE", "ALL"):
        assert not any(forbidden in grant for grant in grants), forbidden


@pytest.mark.parametrize("name", ["simulator", "ingest"])
def test_services_without_a_warehouse_get_no_clickhouse_account(name: str) -> None:
    assert _clickhouse_user(name) is None


def test_the_image_installs_libgl_and_glib_before_the_locked_install() -> None:
    """opencv-python links libGL and glib, which python:3.11-slim lacks."""
    dockerfile = (REPO / "Dockerfile").read_text()
    runs = re.findall(r"^RUN (.+?)(?<!\\)$", dockerfile, re.MULTILINE | re.DOTALL)
    apt = next(i for i, run in enumerate(runs) if "apt-get install" in run)
    locked = next(i for i, run in enumerate(runs) if "-r pylock.toml" in run)
    assert {"libgl1", "libglib2.0-0"} <= set(runs[apt].split())
    assert apt < locked
    assert "--no-deps ." in runs[locked + 1], "the package itself adds no unlocked dependency"

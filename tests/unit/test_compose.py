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
from pingan.settings import Settings

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
    assert not unknown, f"{name}: {unknown} are not pingan.settings fields"
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

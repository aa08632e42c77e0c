"""The import contract (pyproject's [tool.importlinter], run by `make test`) sees the whole
house: every module on pingan's top floor is named in it, and every package is a root."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMPORT_LINTER = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
(FLOORS,) = IMPORT_LINTER["contracts"]


def test_every_module_of_the_top_floor_is_in_the_contract() -> None:
    top = {name.strip() for name in FLOORS["layers"][0].split(":")}
    on_disk = {
        f"pingan.{path.stem}" for path in (REPO / "pingan").glob("*.py") if path.stem != "__init__"
    }
    assert top == on_disk


def test_every_package_is_a_root_of_the_contract() -> None:
    packages = {path.parent.name for path in REPO.glob("*/__init__.py")} - {"tests", "bench"}
    assert set(IMPORT_LINTER["root_packages"]) == packages


def test_the_floors_run_from_the_cli_down_to_schemas() -> None:
    assert FLOORS["type"] == "layers"
    assert FLOORS["layers"][1:] == ["ingest | streams | graphql_api", "pingan.platform", "schemas"]

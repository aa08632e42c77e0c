"""Faust's and aiokafka's internals are touched in one module, `streams/faust_internals.py`.

Anywhere else in `streams/`, an import of a private name or of one of their internal
modules, or an attribute reached by a leading underscore on anything but `self`, would be
a second place an upgrade can break without its pinned test saying so.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STREAMS = Path(__file__).resolve().parents[2] / "streams"
THE_ONE_PLACE = STREAMS / "faust_internals.py"
FRAMEWORKS = {"faust", "aiokafka", "mode"}
PUBLIC_MODULES = {"faust", "faust.types", "aiokafka", "aiokafka.partitioner", "mode"}


def _modules() -> list[Path]:
    return sorted(p for p in STREAMS.rglob("*.py") if p != THE_ONE_PLACE)


def _trespasses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] not in FRAMEWORKS:
                continue
            if node.module not in PUBLIC_MODULES:
                found.append(f"line {node.lineno}: from {node.module} import …")
            found += [
                f"line {node.lineno}: imports {a.name}" for a in node.names if a.name[0] == "_"
            ]
        elif isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] in FRAMEWORKS and a.name not in PUBLIC_MODULES
            ]
        elif isinstance(node, ast.Attribute) and _private(node.attr) and not _own(node):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def _own(node: ast.Attribute) -> bool:
    return isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(STREAMS)))
def test_only_the_one_module_touches_faust_internals(path: Path) -> None:
    assert _trespasses(path) == [], f"move this into {THE_ONE_PLACE.name}"


def test_the_check_sees_a_private_import_and_a_private_attribute(tmp_path: Path) -> None:
    module = tmp_path / "trespass.py"
    module.write_text(
        "from faust.streams import _current_event\n"
        "from faust.tables.recovery import Recovery\n"
        "def f(app):\n    return app._fetcher\n"
    )
    lines = {found.split(":")[0] for found in _trespasses(module)}
    assert lines == {"line 1", "line 2", "line 4"}

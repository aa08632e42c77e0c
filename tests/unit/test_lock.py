"""pylock.toml pins what pyproject.toml asks for, and this venv runs what it pins.

`make run` and `make test` install from the lock, so a fresh machine runs what was tested;
a dependency added to pyproject.toml without `make lock` fails here, not on that machine.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LOCK = tomllib.loads((REPO / "pylock.toml").read_text())
LOCKED: dict[NormalizedName, Version] = {
    canonicalize_name(package["name"]): Version(package["version"]) for package in LOCK["packages"]
}


def _declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    return [
        Requirement(text)
        for text in (*project["dependencies"], *project["optional-dependencies"]["dev"])
    ]


def _applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras or {""})


def _problems() -> list[str]:
    """Walk from pyproject's requirements through what the locked packages require."""
    problems: list[str] = []
    seen: set[tuple[NormalizedName, frozenset[str]]] = set()
    queue = [(requirement, f"pyproject.toml: {requirement}") for requirement in _declared()]
    while queue:
        requirement, why = queue.pop()
        name = canonicalize_name(requirement.name)
        if name not in LOCKED:
            problems.append(f"{name} is not in pylock.toml ({why})")
            continue
        locked = LOCKED[name]
        if not requirement.specifier.contains(locked, prereleases=True):
            problems.append(f"{name}=={locked} in pylock.toml does not satisfy {why}")
        installed = Version(metadata.version(name))
        if installed != locked:
            problems.append(f"{name}=={installed} is installed, pylock.toml pins {locked}")
        extras = frozenset(requirement.extras)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for text in metadata.requires(name) or []:
            needed = Requirement(text)
            if _applies(needed, extras):
                queue.append((needed, f"{name} requires {needed}"))
    return problems


def test_every_dependency_is_pinned_within_its_range_and_installed() -> None:
    assert _problems() == [], "run `make lock` after changing pyproject.toml's dependencies"


def test_every_pin_has_a_file_and_its_hash() -> None:
    """A pin without a hash would be fetched unchecked; pip refuses such a lock anyway."""
    for package in LOCK["packages"]:
        files = [*package.get("wheels", []), *filter(None, [package.get("sdist")])]
        assert files, f"{package['name']} has no wheel or sdist in pylock.toml"
        assert all(f.get("hashes") for f in files), f"{package['name']} has a file without hash"

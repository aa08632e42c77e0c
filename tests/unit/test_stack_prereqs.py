"""Prerequisite checks of the local Kafka stack (no Java or Maven is run)."""

from __future__ import annotations

import pytest

from pingan.platform.stack import kafka
from pingan.platform.stack.kafka import MissingPrerequisite, check_prerequisites, parse_java_major


@pytest.mark.parametrize(
    ("output", "major"),
    [
        (
            'openjdk version "17.0.15" 2025-04-15\n'
            "OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)\n",
            17,
        ),
        ('openjdk version "21" 2023-09-19\n', 21),
        ('openjdk version "22-ea" 2024-03-19\n', 22),
        ('java version "11.0.2" 2019-01-15 LTS\n', 11),
        ('java version "1.8.0_292"\nJava(TM) SE Runtime Environment\n', 8),
        (
            'Picked up JAVA_TOOL_OPTIONS: -Dfile.encoding=UTF8\nopenjdk version "17.0.9"\n',
            17,
        ),
        ("", None),
        ("bash: java: command not found", None),
    ],
)
def test_parse_java_major(output: str, major: int | None) -> None:
    assert parse_java_major(output) == major


def _fake_tools(
    monkeypatch: pytest.MonkeyPatch, *, java: bool, mvn: bool, java_major: int | None = 17
) -> None:
    installed = {"java": "/usr/bin/java" if java else None, "mvn": "/usr/bin/mvn" if mvn else None}
    monkeypatch.setattr(kafka.shutil, "which", installed.get)
    monkeypatch.setattr(kafka, "_java_major", lambda _java: java_major)


def test_prerequisites_present(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tools(monkeypatch, java=True, mvn=True)
    check_prerequisites()


def test_one_message_names_everything_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tools(monkeypatch, java=False, mvn=False)
    with pytest.raises(MissingPrerequisite) as raised:
        check_prerequisites()
    assert "Java 17+" in str(raised.value)
    assert "Maven" in str(raised.value)


def test_old_java_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tools(monkeypatch, java=True, mvn=True, java_major=11)
    with pytest.raises(MissingPrerequisite, match="Java 11"):
        check_prerequisites()


def test_maven_not_needed_once_jars_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tools(monkeypatch, java=True, mvn=False)
    check_prerequisites(maven=False)
    with pytest.raises(MissingPrerequisite, match="Maven"):
        check_prerequisites()

"""Fixtures shared by the API's integration modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pingan.platform.settings import get_settings


@pytest.fixture(scope="module")
def configured_kafka(kafka_bootstrap: str) -> Iterator[str]:
    """The API reads compacted topics (rule settings, registry) from the configured Kafka:
    make that this module's broker."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KAFKA_BOOTSTRAP", kafka_bootstrap)
        get_settings.cache_clear()
        yield kafka_bootstrap
    get_settings.cache_clear()

"""Kafka connection settings: replication the cluster can honour, SASL only with a user."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from pingan.platform.settings import Settings


def test_local_runs_need_no_kafka_security() -> None:
    settings = Settings()
    assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (1, 1)
    assert settings.kafka_security == {}


def test_min_insync_replicas_above_the_replication_factor_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"PINGAN_KAFKA_MIN_INSYNC_REPLICAS \(3\) cannot"):
        Settings(kafka_replication_factor=2, kafka_min_insync_replicas=3)


def test_sasl_without_a_user_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="needs PINGAN_KAFKA_SASL_USERNAME and PINGAN_KAF"):
        Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="worker")


def test_sasl_settings_become_aiokafka_keywords() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="worker",
        kafka_sasl_password=SecretStr("s3cret"),
    )
    security = settings.kafka_security
    assert security.pop("ssl_context") is not None
    assert security == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "worker",
        "sasl_plain_password": "s3cret",
    }
    assert "s3cret" not in repr(settings)

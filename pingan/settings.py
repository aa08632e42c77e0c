"""One typed settings object, read from environment variables (documented in README)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PINGAN_", extra="ignore")

    kafka_bootstrap: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP", "PINGAN_KAFKA_BOOTSTRAP"),
        description="host:port of an existing Kafka cluster; unset = the local broker",
    )
    clickhouse_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CLICKHOUSE_URL", "PINGAN_CLICKHOUSE_URL"),
        description="clickhouse://host:9000/db for a server; unset = embedded chDB",
    )
    data_dir: Path = Field(
        default=Path(".pingan"), description="local state: chDB data, Kafka log dirs, logs"
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "pingan",
        description="downloaded Kafka jars (shared between checkouts)",
    )
    kafka_port: int = Field(default=19092, description="port of the local Kafka broker")
    kafka_controller_port: int = Field(default=19093, description="local KRaft controller port")
    kafka_version: str = Field(
        default="3.9.1", description="Apache Kafka version for the local broker"
    )
    clickhouse_database: str = Field(default="pingan", description="database for embedded chDB")
    api_host: str = Field(default="127.0.0.1", description="GraphQL API bind address")
    api_port: int = Field(default=6066, description="GraphQL API port")
    sink_batch_size: int = Field(default=5000, description="max rows per ClickHouse insert")
    sink_batch_seconds: float = Field(
        default=0.5, description="max wait before a partial batch is written"
    )
    urgent_batch_seconds: float = Field(
        default=0.1,
        description="max batch wait for fence alarms and bracelet readings (SOS)",
    )
    max_clock_skew_seconds: float = Field(
        default=300.0, description="events stamped further in the future are dead-lettered"
    )
    biometric_ttl_days: int = Field(default=90, description="retention of face captures")
    movement_ttl_days: int = Field(
        default=180, description="retention of passages, door access and bracelet positions"
    )
    rule_lateness_seconds: float = Field(
        default=30.0,
        description="how late an event may arrive before absence rules treat time as passed",
    )
    worker_id: str = Field(default="pingan-worker", description="Faust app id (consumer group)")
    log_level: str = Field(default="INFO", description="log level of worker and API")

    @property
    def embedded_clickhouse(self) -> bool:
        return self.clickhouse_url is None

    @property
    def chdb_path(self) -> Path:
        return self.data_dir / "clickhouse"

    @property
    def local_kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or self.local_kafka_bootstrap


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

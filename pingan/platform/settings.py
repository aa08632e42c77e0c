"""One typed settings object, read from environment variables (documented in README)."""

from __future__ import annotations

import os
import ssl
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
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
    log_dir: Path | None = Field(
        default=None,
        description="where `pingan run` writes its full log (run-<time>.log); unset = "
        "{data_dir}/logs",
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
    kafka_session_timeout_seconds: float = Field(
        default=60.0,
        ge=6,
        le=300,
        description="a worker that stops heartbeating loses its partitions after this; a "
        "restarted one waits it out before it gets them back (`make chaos` shortens it)",
    )
    kafka_replication_factor: int = Field(
        default=1,
        ge=1,
        description="replicas of each topic `pingan migrate` creates: 1 for the local broker, "
        "3 on a three-broker cluster",
    )
    kafka_min_insync_replicas: int = Field(
        default=1,
        ge=1,
        description="min.insync.replicas of those topics: replicas holding a write before an "
        "acks=all producer is answered (2 of 3 survives one broker down without loss)",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="how every Kafka client connects; SASL_* needs PINGAN_KAFKA_SASL_USERNAME "
        "and PINGAN_KAFKA_SASL_PASSWORD",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism of the Kafka user"
    )
    kafka_sasl_username: str | None = Field(
        default=None, description="this service's Kafka user (its ACLs say what it may touch)"
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="password of PINGAN_KAFKA_SASL_USERNAME"
    )
    device_secret_key: SecretStr | None = Field(
        default=None,
        description="base64 of 32 random bytes: AES-GCM key of the device HMAC secrets on the "
        "credentials topic; unset: one made once in the data directory (device-secret-key, "
        "mode 0600). Every ingest process and `pingan ingest keys` need the same key",
    )
    clickhouse_database: str = Field(default="pingan", description="database for embedded chDB")
    api_host: str = Field(default="127.0.0.1", description="GraphQL API bind address")
    api_port: int = Field(default=6066, description="GraphQL API port")
    api_token_secret: SecretStr | None = Field(
        default=None,
        description="HS256 secret (32+ characters) that signs and verifies API tokens; unset: "
        "one made once in the data directory (api-token-secret, mode 0600)",
    )
    api_token_public_key_file: Path | None = Field(
        default=None,
        description="PEM public key of the bureau's identity provider (RS256/ES256); when set, "
        "tokens are verified with it and `pingan token` cannot mint",
    )
    api_graphiql: bool = Field(default=True, description="serve GraphiQL to browsers at /graphql")
    console_dir: Path = Field(
        default=Path(__file__).resolve().parents[2] / "dashboards" / "console",
        description="the police console's files, served by the API at /; `make console` "
        "builds its vendor/ assets (GraphiQL, React)",
    )
    api_introspection: bool = Field(default=True, description="answer schema introspection")
    api_allowed_hosts: str = Field(
        default="localhost,127.0.0.1,::1",
        description="comma-separated Host names the API answers (DNS-rebinding guard); * = any",
    )
    api_cors_origins: str = Field(
        default="",
        description="comma-separated browser origins allowed to call the API from other sites",
    )
    api_rate_limit_per_minute: int = Field(
        default=600, ge=1, description="GraphQL requests per token and minute, else 429"
    )
    api_max_query_depth: int = Field(default=10, ge=2, description="deepest GraphQL selection")
    api_max_aliases: int = Field(default=15, ge=1, description="aliases in one GraphQL document")
    api_max_tokens: int = Field(default=2000, ge=50, description="tokens in one GraphQL document")
    api_query_timeout_seconds: float = Field(
        default=5.0, gt=0, description="ClickHouse max_execution_time of every API read"
    )
    api_query_max_memory_mb: int = Field(
        default=1024, ge=16, description="ClickHouse max_memory_usage of every API read (MiB)"
    )
    api_query_max_threads: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 2) // 2),
        ge=1,
        description="ClickHouse max_threads of every API read: the other cores stay the pipeline's",
    )
    sql_host: str = Field(
        default="127.0.0.1", description="bind address of the analysts' SQL endpoint"
    )
    sql_port: int = Field(
        default=8123,
        ge=0,
        le=65535,
        description="port of the worker's ClickHouse HTTP endpoint for analysts (embedded chDB "
        "only); 0 or empty: off",
    )
    sql_user: str | None = Field(
        default=None,
        description="optional analyst user name for the SQL endpoint (basic auth, "
        "X-ClickHouse-User); unset: bearer tokens only",
    )
    sql_password: SecretStr | None = Field(default=None, description="password of PINGAN_SQL_USER")
    sql_timeout_seconds: float = Field(
        default=30.0, gt=0, description="SQL endpoint: max_execution_time of every query"
    )
    sql_max_result_rows: int = Field(
        default=1_000_000, ge=1, description="SQL endpoint: max_result_rows of every query"
    )
    sql_max_result_mb: int = Field(
        default=256, ge=1, description="SQL endpoint: max_result_bytes of every query (MiB)"
    )
    sql_max_memory_mb: int = Field(
        default=2048, ge=16, description="SQL endpoint: max_memory_usage of every query (MiB)"
    )
    sql_max_query_kb: int = Field(
        default=256, ge=1, description="SQL endpoint: largest query text (KiB), else 413"
    )
    sql_rate_limit_per_minute: int = Field(
        default=120, ge=1, description="SQL endpoint: queries per analyst and minute, else 429"
    )
    sink_batch_size: int = Field(default=5000, description="max rows per ClickHouse insert")
    sink_batch_seconds: float = Field(
        default=0.5, description="max wait before a partial batch is written"
    )
    sink_stall_minutes: float = Field(
        default=5.0,
        gt=0,
        le=1440,
        description="a sink partition that has not advanced this long (ClickHouse failing "
        "transiently) raises a PIPELINE_STALLED alert and turns /healthz unhealthy",
    )
    test_warehouse_fault: str | None = Field(
        default=None,
        max_length=200,
        description="tests and `make chaos` only: a fault injected into warehouse inserts "
        "(see pingan/platform/warehouse_faults.py); never set it in production",
    )
    urgent_batch_seconds: float = Field(
        default=0.1,
        gt=0,
        le=60,
        description="max batch wait for fence alarms and bracelet readings (SOS)",
    )
    rule_batch_seconds: float = Field(
        default=0.1,
        gt=0,
        le=60,
        description="max wait before the rules take a partial batch: an event waits no longer "
        "than this for its alert, whatever ClickHouse's batches wait (`sink_batch_seconds`)",
    )
    max_clock_skew_seconds: float = Field(
        default=300.0, description="events stamped further in the future are dead-lettered"
    )
    biometric_ttl_days: int = Field(
        default=90,
        ge=1,
        le=36_500,
        description="retention of face captures, face crops and biometric dead letters",
    )
    movement_ttl_days: int = Field(
        default=180,
        ge=1,
        le=36_500,
        description="retention of passages, door access, bracelet positions and snapshots",
    )
    audit_ttl_days: int = Field(
        default=3 * 365,
        ge=1,
        description="retention of the audit log; never shorter than the biometric TTL",
    )
    face_model_dir: Path = Field(
        default=Path(__file__).resolve().parents[3] / "shared" / "models" / "face",
        description="face model pack: one SCRFD detector and one ArcFace-style recogniser .onnx",
    )
    face_threads: int = Field(
        default=1,
        ge=1,
        description="onnxruntime threads per face model run; the small face models run best "
        "single-threaded, one analysis per core (see face_workers)",
    )
    face_workers: int = Field(
        default_factory=lambda: (os.cpu_count() or 1) + 1,
        ge=1,
        description="face analyses run at once (snapshot uploads, the frames of a video round); "
        "one more than the cores, so no core idles while an analysis holds the GIL",
    )
    face_video_fps: float = Field(
        default=5.0, gt=0, description="video frames analysed per second of each stream"
    )
    face_track_gap_seconds: float = Field(
        default=1.0, gt=0, description="a face unseen this long has passed: its capture is sent"
    )
    rule_lateness_seconds: float = Field(
        default=30.0,
        description="how late an event may arrive before absence rules treat time as passed",
    )
    rule_stream_gap_seconds: float = Field(
        default=180.0,
        gt=0,
        description="a partition of the telemetry silent this long means the platform was"
        " dark, not its devices: absence rules (DEVICE_OFFLINE) do not count that silence",
    )
    rule_state_max_bytes: int = Field(
        default=512 * 1024,
        ge=16 * 1024,
        le=900_000,
        description="largest rule state record (JSON) written to its changelog; a bigger one"
        " drops its oldest records first. Below Kafka's 1 MB message size, with headroom",
    )
    ingest_http_host: str = Field(
        default="127.0.0.1",
        description="bind address of `pingan ingest http` (devices' webhooks, standalone)",
    )
    ingest_http_port: int = Field(default=6067, description="port of `pingan ingest http`")
    ingest_max_body_bytes: int = Field(
        default=1024 * 1024, description="largest JSON webhook body (event or batch), else 413"
    )
    ingest_max_snapshot_bytes: int = Field(
        default=5 * 1024 * 1024, description="largest face-snapshot upload, else 413"
    )
    max_image_pixels: int = Field(
        default=40_000_000,
        ge=1,
        description="images declaring more pixels are refused before decoding (uploads, photos)",
    )
    max_image_side: int = Field(
        default=16_384, ge=1, description="images with a longer side are refused before decoding"
    )
    max_image_decodes: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="snapshot uploads decoded and analysed at once; more get 429",
    )
    ingest_signature_window_seconds: float = Field(
        default=300.0, description="HMAC-signed requests older or newer than this are refused"
    )
    ingest_publish_timeout_seconds: float = Field(
        default=5.0, description="wait for Kafka's acknowledgement before answering 429"
    )
    ingest_retry_after_seconds: int = Field(
        default=5, description="Retry-After sent with 429 and 503 answers"
    )
    ingest_recent_event_ids: int = Field(
        default=200_000, description="event ids remembered per process to answer retries"
    )
    ingest_max_pending_events: int = Field(
        default=50_000, description="events waiting for Kafka before new posts get 429"
    )
    parking_settle_hours: float = Field(
        default=6.0,
        gt=0,
        description="parking: how late a passage may arrive and still be paired into its stays",
    )
    parking_duplicate_read_seconds: float = Field(
        default=60.0,
        ge=0,
        description="parking: a second read of the same direction this soon is the same passage",
    )
    worker_id: str = Field(default="pingan-worker", description="Faust app id (consumer group)")
    worker_role: Literal["all", "rules", "sink"] = Field(
        default="all",
        description="what a worker runs: the rules, the ClickHouse sink, or both (one process)",
    )
    falling_storey_height_m: float = Field(
        default=3.0,
        gt=1.5,
        le=10.0,
        description="storey height of facades (m): turns calibrated floor rows into gravity in px",
    )
    falling_snapshot_width: int = Field(
        default=480,
        ge=64,
        description="width (px) of the two JPEG frames kept per high-altitude throw; no video",
    )
    modbus_timeout_seconds: float = Field(
        default=1.0, gt=0, description="Modbus: wait for one response before counting an error"
    )
    modbus_backoff_min_seconds: float = Field(
        default=0.5, gt=0, description="Modbus: first reconnect delay after a failed connect"
    )
    modbus_backoff_max_seconds: float = Field(
        default=30.0, gt=0, description="Modbus: reconnect delay cap (doubles up to it)"
    )
    modbus_batch_seconds: float = Field(
        default=0.05, gt=0, description="Modbus: max wait before a telemetry batch is published"
    )
    modbus_offline_report_seconds: float = Field(
        default=30.0, gt=0, description="Modbus: how often an unreachable device's health is sent"
    )
    modbus_poller_id: str = Field(
        default="modbus",
        description="Modbus: poller name; its command executor's consumer group",
    )
    log_level: str = Field(default="INFO", description="log level of worker and API")

    @field_validator("sql_port", mode="before")
    @classmethod
    def _empty_port_is_off(cls, value: object) -> object:
        return 0 if value in ("", None) else value

    @model_validator(mode="after")
    def _kafka_durability_is_possible(self) -> Settings:
        if self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError(
                f"PINGAN_KAFKA_MIN_INSYNC_REPLICAS ({self.kafka_min_insync_replicas}) cannot "
                f"exceed PINGAN_KAFKA_REPLICATION_FACTOR ({self.kafka_replication_factor}): "
                "no write could ever be acknowledged"
            )
        return self

    @model_validator(mode="after")
    def _sasl_has_a_user(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"PINGAN_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "PINGAN_KAFKA_SASL_USERNAME and PINGAN_KAFKA_SASL_PASSWORD"
            )
        return self

    @model_validator(mode="after")
    def _audit_outlives_biometrics(self) -> Settings:
        if self.audit_ttl_days < self.biometric_ttl_days:
            raise ValueError(
                f"PINGAN_AUDIT_TTL_DAYS ({self.audit_ttl_days}) must be at least "
                f"PINGAN_BIOMETRIC_TTL_DAYS ({self.biometric_ttl_days}): audit rows outlive "
                "the data they describe"
            )
        return self

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return _listed(self.api_allowed_hosts)

    @property
    def cors_origins(self) -> frozenset[str]:
        return _listed(self.api_cors_origins)

    @property
    def embedded_clickhouse(self) -> bool:
        return self.clickhouse_url is None

    @property
    def run_log_dir(self) -> Path:
        return self.log_dir or self.data_dir / "logs"

    @property
    def chdb_path(self) -> Path:
        return self.data_dir / "clickhouse"

    @property
    def local_kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or self.local_kafka_bootstrap

    @property
    def kafka_security(self) -> dict[str, Any]:
        """aiokafka's connection keywords for this service's Kafka user (none: PLAINTEXT)."""
        if self.kafka_security_protocol == "PLAINTEXT":
            return {}
        assert self.kafka_sasl_password is not None  # _sasl_has_a_user
        options: dict[str, Any] = {
            "security_protocol": self.kafka_security_protocol,
            "sasl_mechanism": self.kafka_sasl_mechanism,
            "sasl_plain_username": self.kafka_sasl_username,
            "sasl_plain_password": self.kafka_sasl_password.get_secret_value(),
        }
        if self.kafka_security_protocol == "SASL_SSL":
            options["ssl_context"] = ssl.create_default_context()
        return options


def _listed(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def kafka_security() -> dict[str, Any]:
    """The process's Kafka credentials, for clients built from a bootstrap address alone."""
    return get_settings().kafka_security

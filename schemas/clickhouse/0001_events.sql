-- Event tables: one per event topic. ReplacingMergeTree collapses device retries of the
-- same event_id; kafka_partition/kafka_offset record where each row came from so a
-- restarted sink skips what it already wrote. Personal data expires by TTL.

CREATE TABLE IF NOT EXISTS vehicle_passages
(
    event_id        String,
    community_id    LowCardinality(String),
    occurred_at     DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    schema_version  UInt16,
    plate           String,
    plate_colour    LowCardinality(String),
    direction       LowCardinality(String),
    gate_id         LowCardinality(String),
    camera_id       LowCardinality(String),
    confidence      Float32,
    snapshot_ref    Nullable(String),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    INDEX plate_idx plate TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (community_id, occurred_at, event_id)
TTL toDateTime(occurred_at) + INTERVAL ${movement_ttl_days} DAY;

CREATE TABLE IF NOT EXISTS door_access
(
    event_id        String,
    community_id    LowCardinality(String),
    occurred_at     DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    schema_version  UInt16,
    door_id         LowCardinality(String),
    door_kind       LowCardinality(String),
    method          LowCardinality(String),
    person_id       Nullable(String),
    granted         Bool,
    kafka_partition UInt16,
    kafka_offset    UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (community_id, occurred_at, event_id)
TTL toDateTime(occurred_at) + INTERVAL ${movement_ttl_days} DAY;

CREATE TABLE IF NOT EXISTS face_captures
(
    event_id          String,
    community_id      LowCardinality(String),
    occurred_at       DateTime64(3, 'UTC'),
    received_at       DateTime64(3, 'UTC'),
    schema_version    UInt16,
    camera_id         LowCardinality(String),
    embedding         Array(Float32),
    quality           Float32,
    bbox              Array(Float32),
    matched_person_id Nullable(String),
    match_score       Nullable(Float32),
    crop_ref          Nullable(String),
    kafka_partition   UInt16,
    kafka_offset      UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (community_id, occurred_at, event_id)
TTL toDateTime(occurred_at) + INTERVAL ${biometric_ttl_days} DAY;

CREATE TABLE IF NOT EXISTS device_telemetry
(
    event_id        String,
    community_id    LowCardinality(String),
    occurred_at     DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    schema_version  UInt16,
    device_id       LowCardinality(String),
    device_kind     LowCardinality(String),
    metrics         Map(LowCardinality(String), Float64),
    kafka_partition UInt16,
    kafka_offset    UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (community_id, occurred_at, event_id);

CREATE TABLE IF NOT EXISTS perimeter_alarms
(
    event_id        String,
    community_id    LowCardinality(String),
    occurred_at     DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    schema_version  UInt16,
    fence_zone      LowCardinality(String),
    alarm_kind      LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset    UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (community_id, occurred_at, event_id);

CREATE TABLE IF NOT EXISTS bracelet_readings
(
    event_id        String,
    community_id    LowCardinality(String),
    occurred_at     DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    schema_version  UInt16,
    bracelet_id     String,
    wearer          LowCardinality(String),
    lat             Nullable(Float64),
    lon             Nullable(Float64),
    zone            Nullable(String),
    sos             Bool,
    battery         Float32,
    kafka_partition UInt16,
    kafka_offset    UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (community_id, occurred_at, event_id)
TTL toDateTime(occurred_at) + INTERVAL ${movement_ttl_days} DAY;

CREATE TABLE IF NOT EXISTS camera_analytics
(
    event_id        String,
    community_id    LowCardinality(String),
    occurred_at     DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    schema_version  UInt16,
    camera_id       LowCardinality(String),
    analytics_kind  LowCardinality(String),
    snapshot_refs   Array(String),
    confidence      Float32,
    kafka_partition UInt16,
    kafka_offset    UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (community_id, occurred_at, event_id);

-- Messages no consumer could accept, kept byte for byte with the reason.

CREATE TABLE IF NOT EXISTS dead_letters
(
    dead_letter_id   String COMMENT 'source_topic:partition:offset',
    source_topic     LowCardinality(String),
    source_partition UInt16,
    source_offset    UInt64,
    reason           String,
    raw_key          Nullable(String),
    raw              String,
    dead_lettered_at DateTime64(3, 'UTC'),
    kafka_partition  UInt16,
    kafka_offset     UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(dead_lettered_at)
ORDER BY (source_topic, dead_lettered_at, dead_letter_id)
TTL toDateTime(dead_lettered_at) + INTERVAL 90 DAY;

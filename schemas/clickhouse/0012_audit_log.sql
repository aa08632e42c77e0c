-- The audit log (schemas/audit.py): one row per sensitive API call, from the topic
-- pingan.audit.log. Append-only (plain MergeTree: nothing replaces or collapses a row), and
-- kept for PINGAN_AUDIT_TTL_DAYS (3 years by default, never shorter than the biometric TTL),
-- so who looked at a person outlives what was looked at.

CREATE TABLE IF NOT EXISTS audit_log
(
    audit_id        String,
    at              DateTime64(3, 'UTC'),
    actor           LowCardinality(String),
    actor_role      LowCardinality(String),
    operation       LowCardinality(String),
    arguments       String,
    community_ids   Array(LowCardinality(String)),
    purpose         String,
    result_count    UInt32,
    client_address  String,
    kafka_partition UInt16,
    kafka_offset    UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, audit_id)
TTL toDateTime(at) + INTERVAL ${audit_ttl_days} DAY;

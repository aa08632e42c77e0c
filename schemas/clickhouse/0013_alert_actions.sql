-- Officers' steps on alerts (schemas/audit.py AlertAction): who acknowledged, assigned or
-- resolved an alert, when, with what note. From the topic pingan.alert-actions; append-only,
-- kept as long as the audit log.

CREATE TABLE IF NOT EXISTS alert_actions
(
    action_id       String,
    alert_id        String,
    community_id    LowCardinality(String),
    action          LowCardinality(String),
    actor           LowCardinality(String),
    actor_role      LowCardinality(String),
    at              DateTime64(3, 'UTC'),
    note            String,
    assigned_to     Nullable(String),
    kafka_partition UInt16,
    kafka_offset    UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (alert_id, at, action_id)
TTL toDateTime(at) + INTERVAL ${audit_ttl_days} DAY;

-- Commands written to field devices (stop charging on an overheating shed slot), one row per
-- command with its outcome: the audit trail of what Pingan did to a device and why.
-- command_id derives from the action and the alert, so a replayed command replaces itself.

CREATE TABLE IF NOT EXISTS device_commands
(
    command_id      String,
    community_id    LowCardinality(String),
    schema_version  UInt16,
    device_id       LowCardinality(String) COMMENT 'controller written to',
    target_id       String COMMENT 'slot device the alert is about',
    slot            UInt16,
    action          LowCardinality(String),
    reason_alert_id String,
    requested_at    DateTime64(3, 'UTC'),
    outcome         LowCardinality(String) COMMENT 'ok | failed',
    error           Nullable(String),
    executed_at     DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset    UInt64
)
ENGINE = ReplacingMergeTree(executed_at)
PARTITION BY toYYYYMM(requested_at)
ORDER BY (community_id, requested_at, command_id);

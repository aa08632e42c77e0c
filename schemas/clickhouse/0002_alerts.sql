-- Alerts: each update of an alert (acknowledged, resolved, count grown) is a new row;
-- ReplacingMergeTree keeps the newest by updated_at. Query with FINAL for current state.

CREATE TABLE IF NOT EXISTS alerts
(
    alert_id           String,
    alert_type         LowCardinality(String),
    severity           LowCardinality(String),
    status             LowCardinality(String),
    community_id       LowCardinality(String),
    subject            String,
    first_seen         DateTime64(3, 'UTC'),
    last_seen          DateTime64(3, 'UTC'),
    count              UInt32,
    explanation        String,
    evidence           String COMMENT 'JSON array of {event_id, event_kind, occurred_at, summary}',
    evidence_event_ids Array(String),
    raised_at          DateTime64(3, 'UTC'),
    updated_at         DateTime64(3, 'UTC'),
    source_received_at DateTime64(3, 'UTC'),
    note               Nullable(String),
    kafka_partition    UInt16,
    kafka_offset       UInt64
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(first_seen)
ORDER BY (community_id, first_seen, alert_id);

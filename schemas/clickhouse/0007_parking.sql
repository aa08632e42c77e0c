-- Parking sessions paired from vehicle passages (streams/parking/). Each change of a session
-- is a new row with a higher revision; is_deleted retires a session that a late passage
-- merged into another. Read with FINAL (or the parking_sessions_current view).
-- Fees are in fen (1/100 yuan); NULL when unknown, with the reason.

CREATE TABLE IF NOT EXISTS parking_sessions
(
    session_id       String COMMENT 'event id of the entry (of the exit for exit_without_entry)',
    community_id     LowCardinality(String),
    plate            String,
    plate_colour     LowCardinality(String),
    status           LowCardinality(String) COMMENT 'open, overdue, closed, entry_without_exit, exit_without_entry',
    started_at       DateTime64(3, 'UTC'),
    entered_at       Nullable(DateTime64(3, 'UTC')),
    exited_at        Nullable(DateTime64(3, 'UTC')),
    entry_event_id   Nullable(String),
    exit_event_id    Nullable(String),
    entry_gate_id    LowCardinality(Nullable(String)),
    exit_gate_id     LowCardinality(Nullable(String)),
    duration_seconds Nullable(UInt32),
    fee_fen          Nullable(UInt32),
    fee_basis        String,
    reason           String,
    tariff_id        LowCardinality(String) COMMENT 'community id, * (district default) or built-in',
    resident         Bool,
    monthly_pass     Bool,
    revision         UInt32,
    is_deleted       UInt8,
    kafka_partition  UInt16,
    kafka_offset     UInt64,
    INDEX plate_idx plate TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(revision, is_deleted)
PARTITION BY toYYYYMM(started_at)
ORDER BY (community_id, started_at, session_id)
TTL toDateTime(started_at) + INTERVAL ${movement_ttl_days} DAY;

CREATE VIEW IF NOT EXISTS parking_sessions_current AS
SELECT * EXCEPT (revision, is_deleted, kafka_partition, kafka_offset)
FROM parking_sessions FINAL;

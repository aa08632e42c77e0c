-- Biometric searches (`pingan faces identify`): who searched the face gallery, when, why,
-- for which image (its sha256 only) and whom it found. Rows come from the audit topic
-- pingan.audit.biometric-searches; they name residents, so they expire like face captures.

CREATE TABLE IF NOT EXISTS biometric_searches
(
    search_id          String,
    operator           LowCardinality(String),
    searched_at        DateTime64(3, 'UTC'),
    reason             String,
    source             LowCardinality(String),
    image_sha256       String,
    faces              UInt16,
    matched_person_ids Array(String),
    model_id           LowCardinality(String),
    kafka_partition    UInt16,
    kafka_offset       UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(searched_at)
ORDER BY (searched_at, search_id)
TTL toDateTime(searched_at) + INTERVAL ${biometric_ttl_days} DAY;

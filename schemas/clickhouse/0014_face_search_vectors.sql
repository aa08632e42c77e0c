-- Face search's coarse scan (graphql_api/face_search_queries.py): each capture's embedding
-- scaled to unit length and quantised to Int8 (x * 127), 128 bytes a 128-d capture instead of
-- 512, stored uncompressed because decompression, not arithmetic, bounds the scan. A search
-- ranks the captures of its scope on dotProduct(embedding_i8, probe) / 127, then re-ranks the
-- best few exactly on face_captures.embedding (Float32), so scores are always exact.
--
-- A table of its own, filled by a materialized view on every insert into face_captures,
-- because the pipeline inserts face_captures with an explicit list of all its columns, which
-- ClickHouse refuses for a MATERIALIZED column. `dims` stands in for the recogniser
-- (face_captures records no model id): only vectors of the probe's length are compared.
-- `matched_person_id` is here so an erasure of a person's captures can delete their rows too.
-- The vectors are biometric data: same TTL as face_captures.

CREATE TABLE IF NOT EXISTS face_search_vectors
(
    event_id          String,
    community_id      LowCardinality(String),
    occurred_at       DateTime64(3, 'UTC'),
    matched_person_id Nullable(String),
    dims              UInt16,
    embedding_i8      Array(Int8) CODEC(NONE)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (community_id, occurred_at, event_id)
TTL toDateTime(occurred_at) + INTERVAL ${biometric_ttl_days} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS face_search_vectors_mv TO face_search_vectors AS
WITH L2Norm(embedding) AS norm
SELECT
    event_id,
    community_id,
    occurred_at,
    matched_person_id,
    toUInt16(length(embedding)) AS dims,
    arrayMap(
        x -> toInt8(round(127 * greatest(-1, least(1, if(isFinite(x / norm), x / norm, 0))))),
        embedding
    ) AS embedding_i8
FROM face_captures;

INSERT INTO face_search_vectors
WITH L2Norm(embedding) AS norm
SELECT
    event_id,
    community_id,
    occurred_at,
    matched_person_id,
    toUInt16(length(embedding)) AS dims,
    arrayMap(
        x -> toInt8(round(127 * greatest(-1, least(1, if(isFinite(x / norm), x / norm, 0))))),
        embedding
    ) AS embedding_i8
FROM face_captures;

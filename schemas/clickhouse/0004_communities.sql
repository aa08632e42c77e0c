-- Reference data for joins: the district's communities, reloaded from
-- pingan/platform/communities.yaml at every start.

CREATE TABLE IF NOT EXISTS communities
(
    community_id LowCardinality(String),
    name         String,
    district     LowCardinality(String),
    lat          Float64,
    lon          Float64
)
ENGINE = ReplacingMergeTree
ORDER BY community_id;

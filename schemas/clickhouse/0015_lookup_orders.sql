-- Lookups by plate and by person (graphql_api/queries.py, graphql_api/movement_queries.py):
-- the event tables are ordered by (community_id, occurred_at, event_id), so one plate's
-- passages or one person's door accesses and face captures were found by reading every
-- community's rows. Each table gets a projection ordered for its lookup, a second copy of its
-- rows inside the same parts, kept by ClickHouse itself through inserts, merges, mutations
-- (consent withdrawal's DELETE and UPDATE rewrite it too) and TTL (it lives and expires with
-- its part), so the movement and biometric TTLs hold for it unchanged.
--
-- FINAL never reads a projection (ClickHouse 26.9, checked with EXPLAIN): these lookups read
-- without FINAL and keep, per event key, the version FINAL keeps: the last one written
-- (`LATEST_VERSION` in graphql_api/queries.py).
--
-- On a ReplacingMergeTree a projection must be rebuilt when a merge collapses rows
-- (deduplicate_merge_projection_mode); MATERIALIZE builds it for the parts written before
-- this migration, synchronously (about 2 s per 1.5M rows on two cores). face_captures'
-- projection leaves out the embedding and bbox: the lookups never read them.

ALTER TABLE vehicle_passages MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';
ALTER TABLE vehicle_passages ADD PROJECTION IF NOT EXISTS by_plate
(
    SELECT * ORDER BY plate, occurred_at
);
ALTER TABLE vehicle_passages MATERIALIZE PROJECTION by_plate SETTINGS mutations_sync = 2;

ALTER TABLE door_access MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';
ALTER TABLE door_access ADD PROJECTION IF NOT EXISTS by_person
(
    SELECT * ORDER BY person_id, occurred_at
);
ALTER TABLE door_access MATERIALIZE PROJECTION by_person SETTINGS mutations_sync = 2;

ALTER TABLE face_captures MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';
ALTER TABLE face_captures ADD PROJECTION IF NOT EXISTS by_person
(
    SELECT
        event_id,
        community_id,
        occurred_at,
        received_at,
        schema_version,
        camera_id,
        quality,
        matched_person_id,
        match_score,
        crop_ref,
        kafka_partition,
        kafka_offset
    ORDER BY matched_person_id, occurred_at
);
ALTER TABLE face_captures MATERIALIZE PROJECTION by_person SETTINGS mutations_sync = 2;

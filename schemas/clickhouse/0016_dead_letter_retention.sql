-- Dead letters keep the raw message, and a face capture's carries its embedding and crop
-- reference: those of biometric topics (schemas/topics.py BIOMETRIC_TOPICS) expire with
-- PINGAN_BIOMETRIC_TTL_DAYS, the others after 90 days. `migrate` reapplies this TTL whenever
-- the biometric TTL changes.

ALTER TABLE dead_letters MODIFY TTL
    toDateTime(dead_lettered_at) + INTERVAL 90 DAY,
    toDateTime(dead_lettered_at) + INTERVAL ${biometric_ttl_days} DAY
        WHERE source_topic IN (${biometric_topics});

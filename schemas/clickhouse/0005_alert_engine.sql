-- Alert engine: alerts say what they are about and explain themselves in Chinese too;
-- resolved alerts record when their condition cleared. Throws carry the estimated floor.

ALTER TABLE alerts ADD COLUMN IF NOT EXISTS subject_kind LowCardinality(String) DEFAULT 'plate' AFTER community_id;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS explanation_zh String DEFAULT '' AFTER explanation;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS resolved_at Nullable(DateTime64(3, 'UTC')) AFTER source_received_at;
ALTER TABLE camera_analytics ADD COLUMN IF NOT EXISTS floor Nullable(Int16) AFTER confidence;
ALTER TABLE camera_analytics ADD COLUMN IF NOT EXISTS window_column Nullable(UInt8) AFTER floor;

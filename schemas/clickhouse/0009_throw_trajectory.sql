-- High-altitude throws carry the object's path: one [t_s, x, y] per detection (seconds after
-- occurred_at, pixel column, pixel row). Empty for other analytics kinds and older rows.
ALTER TABLE camera_analytics ADD COLUMN IF NOT EXISTS trajectory Array(Array(Float32)) AFTER window_column;

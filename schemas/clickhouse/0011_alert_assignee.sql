-- Officers assign alerts to a colleague: each version carries the assignee (null while
-- nobody is assigned, and for older rows).

ALTER TABLE alerts ADD COLUMN IF NOT EXISTS assigned_to Nullable(String) AFTER note;

-- Shed slots are read through their shed's controller: telemetry names it, so one unreachable
-- controller is one outage, and analysts can group slots by shed. Empty for devices that report
-- for themselves and for older rows.
ALTER TABLE device_telemetry ADD COLUMN IF NOT EXISTS controller_id LowCardinality(String) DEFAULT '' AFTER metrics;

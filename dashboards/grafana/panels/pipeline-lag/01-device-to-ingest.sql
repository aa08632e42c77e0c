-- title: Device → Pingan delay (p50 / p99)
-- type: timeseries
-- unit: ms
-- columns: time, stream, p50_ms, p99_ms
-- description: received_at − occurred_at of the events stored per interval: how late devices' events reach Pingan's intake (network, device buffering, clock skew).
SELECT
    $__timeInterval(occurred_at) AS time,
    stream,
    quantile(0.5)(delay_ms) AS p50_ms,
    quantile(0.99)(delay_ms) AS p99_ms
FROM
(
    SELECT 'vehicle_passages' AS stream, occurred_at, dateDiff('millisecond', occurred_at, received_at) AS delay_ms
    FROM vehicle_passages WHERE $__timeFilter(occurred_at)
    UNION ALL
    SELECT 'door_access', occurred_at, dateDiff('millisecond', occurred_at, received_at)
    FROM door_access WHERE $__timeFilter(occurred_at)
    UNION ALL
    SELECT 'face_captures', occurred_at, dateDiff('millisecond', occurred_at, received_at)
    FROM face_captures WHERE $__timeFilter(occurred_at)
    UNION ALL
    SELECT 'device_telemetry', occurred_at, dateDiff('millisecond', occurred_at, received_at)
    FROM device_telemetry WHERE $__timeFilter(occurred_at)
    UNION ALL
    SELECT 'perimeter_alarms', occurred_at, dateDiff('millisecond', occurred_at, received_at)
    FROM perimeter_alarms WHERE $__timeFilter(occurred_at)
    UNION ALL
    SELECT 'bracelet_readings', occurred_at, dateDiff('millisecond', occurred_at, received_at)
    FROM bracelet_readings WHERE $__timeFilter(occurred_at)
    UNION ALL
    SELECT 'camera_analytics', occurred_at, dateDiff('millisecond', occurred_at, received_at)
    FROM camera_analytics WHERE $__timeFilter(occurred_at)
)
GROUP BY time, stream
ORDER BY time, stream

-- title: Stored lag: newest row of each table
-- type: table
-- width: 24
-- columns: stream, rows_in_period, newest_received_at, seconds_behind
-- description: How far behind now the newest stored row of each stream was received. Events flow every second, so a growing seconds_behind means the pipeline (Kafka consumer or sink) is falling behind. Kafka consumer-group lag itself is not stored in ClickHouse; `make run`'s status line and the worker log show it.
SELECT
    stream,
    count() AS rows_in_period,
    max(received_at) AS newest_received_at,
    dateDiff('second', newest_received_at, now64(3)) AS seconds_behind
FROM
(
    SELECT 'vehicle_passages' AS stream, received_at FROM vehicle_passages WHERE $__timeFilter(received_at)
    UNION ALL
    SELECT 'door_access', received_at FROM door_access WHERE $__timeFilter(received_at)
    UNION ALL
    SELECT 'face_captures', received_at FROM face_captures WHERE $__timeFilter(received_at)
    UNION ALL
    SELECT 'device_telemetry', received_at FROM device_telemetry WHERE $__timeFilter(received_at)
    UNION ALL
    SELECT 'perimeter_alarms', received_at FROM perimeter_alarms WHERE $__timeFilter(received_at)
    UNION ALL
    SELECT 'bracelet_readings', received_at FROM bracelet_readings WHERE $__timeFilter(received_at)
    UNION ALL
    SELECT 'camera_analytics', received_at FROM camera_analytics WHERE $__timeFilter(received_at)
    UNION ALL
    SELECT 'alerts', updated_at FROM alerts WHERE $__timeFilter(updated_at)
    UNION ALL
    SELECT 'dead_letters', dead_lettered_at FROM dead_letters WHERE $__timeFilter(dead_lettered_at)
)
GROUP BY stream
ORDER BY seconds_behind DESC

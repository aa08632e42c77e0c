-- title: Devices reporting, by kind
-- type: timeseries
-- columns: time, device_kind, devices
-- description: Distinct devices that sent telemetry in each interval. A drop means devices went silent.
SELECT
    $__timeInterval(occurred_at) AS time,
    device_kind,
    uniq(device_id) AS devices
FROM device_telemetry
WHERE $__timeFilter(occurred_at)
GROUP BY time, device_kind
ORDER BY time, device_kind

-- title: Event → alert latency (p50 / p99)
-- type: timeseries
-- unit: ms
-- columns: time, p50_ms, p99_ms
-- description: From the moment Pingan accepted an alert's triggering event (source_received_at) to the moment its rule raised the alert (raised_at).
SELECT
    $__timeInterval(raised_at) AS time,
    quantile(0.5)(dateDiff('millisecond', source_received_at, raised_at)) AS p50_ms,
    quantile(0.99)(dateDiff('millisecond', source_received_at, raised_at)) AS p99_ms
FROM alerts FINAL
WHERE $__timeFilter(raised_at)
GROUP BY time
ORDER BY time

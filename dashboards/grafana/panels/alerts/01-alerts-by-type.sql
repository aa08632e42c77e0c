-- title: Alerts raised by type
-- type: timeseries
-- columns: time, alert_type, alerts
-- description: New alerts per interval, by first sighting. An alert counts once however often it was updated (FINAL).
SELECT
    $__timeInterval(first_seen) AS time,
    alert_type,
    count() AS alerts
FROM alerts FINAL
WHERE $__timeFilter(first_seen)
GROUP BY time, alert_type
ORDER BY time, alert_type

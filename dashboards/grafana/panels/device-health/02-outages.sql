-- title: Device outages raised
-- type: timeseries
-- columns: time, community, outages
-- description: DEVICE_OFFLINE alerts per interval and community (one alert per outage; a shed controller's outage is one alert for all its slots).
SELECT
    $__timeInterval(first_seen) AS time,
    community_id AS community,
    count() AS outages
FROM alerts FINAL
WHERE alert_type = 'DEVICE_OFFLINE' AND $__timeFilter(first_seen)
GROUP BY time, community
ORDER BY time, community

-- title: Alerts raised by community
-- type: timeseries
-- columns: time, community, alerts
-- description: New alerts per interval in each community (its name from the communities table).
SELECT
    $__timeInterval(a.first_seen) AS time,
    coalesce(nullIf(c.name, ''), a.community_id) AS community,
    count() AS alerts
FROM alerts AS a FINAL
LEFT JOIN communities AS c ON c.community_id = a.community_id
WHERE $__timeFilter(a.first_seen)
GROUP BY time, community
ORDER BY time, community

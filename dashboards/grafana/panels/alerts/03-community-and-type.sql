-- title: Alerts by community and type
-- type: table
-- width: 24
-- columns: community, alert_type, alerts, critical, still_open, resolved, latest
-- description: Each community's alerts of the period by type, with how many are critical, still open (open or acknowledged) and resolved.
SELECT
    coalesce(nullIf(c.name, ''), a.community_id) AS community,
    a.alert_type AS alert_type,
    count() AS alerts,
    countIf(a.severity = 'critical') AS critical,
    countIf(a.status != 'resolved') AS still_open,
    countIf(a.status = 'resolved') AS resolved,
    max(a.last_seen) AS latest
FROM alerts AS a FINAL
LEFT JOIN communities AS c ON c.community_id = a.community_id
WHERE $__timeFilter(a.first_seen)
GROUP BY community, alert_type
ORDER BY alerts DESC, community, alert_type
LIMIT 500

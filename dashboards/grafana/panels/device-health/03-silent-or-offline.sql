-- title: Devices silent or reporting offline
-- type: table
-- width: 24
-- columns: community, device_id, device_kind, controller_id, last_report, minutes_silent, last_online
-- description: Each device's last report in the period: those that said online = 0 last, or were silent for the last 30 minutes of the period, most silent first.
SELECT
    community_id AS community,
    device_id,
    device_kind,
    any(controller_id) AS controller_id,
    max(occurred_at) AS last_report,
    dateDiff('minute', last_report, least(now64(3), $__toTime)) AS minutes_silent,
    argMax(metrics['online'], occurred_at) AS last_online
FROM device_telemetry
WHERE $__timeFilter(occurred_at)
GROUP BY community, device_id, device_kind
HAVING last_online = 0 OR minutes_silent >= 30
ORDER BY minutes_silent DESC, community, device_id
LIMIT 500

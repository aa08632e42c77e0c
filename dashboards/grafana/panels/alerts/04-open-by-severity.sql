-- title: Not yet resolved, by severity
-- type: barchart
-- columns: severity, open, acknowledged
-- description: The officers' queue now: alerts raised in the period and not resolved, by severity.
SELECT
    severity,
    countIf(status = 'open') AS open,
    countIf(status = 'acknowledged') AS acknowledged
FROM alerts FINAL
WHERE $__timeFilter(first_seen) AND status != 'resolved'
GROUP BY severity
ORDER BY multiIf(severity = 'critical', 0, severity = 'high', 1, severity = 'medium', 2, 3)

-- title: Parking revenue
-- type: timeseries
-- unit: prefix:¥
-- columns: time, community, revenue_yuan
-- description: Fees of the sessions that ended in each interval, in yuan, by community (fees are stored in fen).
SELECT
    $__timeInterval(exited_at) AS time,
    community_id AS community,
    sum(fee_fen) / 100 AS revenue_yuan
FROM parking_sessions_current
WHERE status = 'closed' AND fee_fen IS NOT NULL AND $__timeFilter(exited_at)
GROUP BY time, community
ORDER BY time, community

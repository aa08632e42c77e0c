-- title: Revenue and sessions by community
-- type: table
-- width: 24
-- columns: community, sessions, paid_sessions, revenue_yuan, residents, monthly_pass, fee_unknown, average_minutes
-- description: Sessions that started in the period. fee_unknown counts sessions whose fee cannot be known (still open, or one end missing); residents and monthly-pass holders often park free.
SELECT
    coalesce(nullIf(c.name, ''), s.community_id) AS community,
    count() AS sessions,
    countIf(s.fee_fen > 0) AS paid_sessions,
    sum(s.fee_fen) / 100 AS revenue_yuan,
    countIf(s.resident) AS residents,
    countIf(s.monthly_pass) AS monthly_pass,
    countIf(s.fee_fen IS NULL) AS fee_unknown,
    round(avgIf(s.duration_seconds, s.duration_seconds IS NOT NULL) / 60, 1) AS average_minutes
FROM parking_sessions_current AS s
LEFT JOIN communities AS c ON c.community_id = s.community_id
WHERE $__timeFilter(s.started_at)
GROUP BY community
ORDER BY revenue_yuan DESC, community

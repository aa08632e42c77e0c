-- title: Sessions by status
-- type: piechart
-- columns: status, sessions
-- description: closed (paired and priced), open, overdue, and the two kinds of a missing end (entry_without_exit, exit_without_entry), which leave a fee unknown.
SELECT
    status,
    count() AS sessions
FROM parking_sessions_current
WHERE $__timeFilter(started_at)
GROUP BY status
ORDER BY sessions DESC

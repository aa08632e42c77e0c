-- title: Face searches by operator
-- type: timeseries
-- columns: time, operator, searches
-- description: Searches of the face gallery per interval and operator (each one audited with its reason in biometric_searches).
SELECT
    $__timeInterval(searched_at) AS time,
    operator,
    count() AS searches
FROM biometric_searches FINAL
WHERE $__timeFilter(searched_at)
GROUP BY time, operator
ORDER BY time, operator

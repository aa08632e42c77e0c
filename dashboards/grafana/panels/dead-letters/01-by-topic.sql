-- title: Dead letters by source topic
-- type: timeseries
-- columns: time, source_topic, messages
-- description: Messages no consumer could accept, per interval and the topic they came from.
SELECT
    $__timeInterval(dead_lettered_at) AS time,
    source_topic,
    count() AS messages
FROM dead_letters FINAL
WHERE $__timeFilter(dead_lettered_at)
GROUP BY time, source_topic
ORDER BY time, source_topic

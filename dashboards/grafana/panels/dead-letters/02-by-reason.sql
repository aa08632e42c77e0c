-- title: Dead letters by reason
-- type: table
-- width: 24
-- columns: source_topic, reason_kind, messages, example, latest
-- description: Values in a reason (ids, timestamps) are masked with … so that messages with the same problem count together; example shows one reason in full.
SELECT
    source_topic,
    replaceRegexpAll(reason, '\'[^\']*\'|[0-9][0-9:.T+-]*', '…') AS reason_kind,
    count() AS messages,
    any(reason) AS example,
    max(dead_lettered_at) AS latest
FROM dead_letters FINAL
WHERE $__timeFilter(dead_lettered_at)
GROUP BY source_topic, reason_kind
ORDER BY messages DESC
LIMIT 200

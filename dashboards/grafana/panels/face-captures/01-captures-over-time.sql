-- title: Face captures, matched and unmatched
-- type: timeseries
-- columns: time, matched, unmatched
-- description: Counts only: captures per interval, matched to an enrolled resident or not. No face, crop or embedding is read.
SELECT
    $__timeInterval(occurred_at) AS time,
    countIf(matched_person_id IS NOT NULL) AS matched,
    countIf(matched_person_id IS NULL) AS unmatched
FROM face_captures FINAL
WHERE $__timeFilter(occurred_at)
GROUP BY time
ORDER BY time

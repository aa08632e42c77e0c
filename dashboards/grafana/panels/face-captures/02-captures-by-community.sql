-- title: Captures by community
-- type: table
-- width: 24
-- columns: community, captures, matched_share, cameras, average_quality
-- description: Counts only, per community: captures, the share matched to an enrolled resident, the cameras that captured, and the average capture quality.
SELECT
    coalesce(nullIf(c.name, ''), f.community_id) AS community,
    count() AS captures,
    round(countIf(f.matched_person_id IS NOT NULL) / captures, 3) AS matched_share,
    uniqExact(f.camera_id) AS cameras,
    round(avg(f.quality), 3) AS average_quality
FROM face_captures AS f FINAL
LEFT JOIN communities AS c ON c.community_id = f.community_id
WHERE $__timeFilter(f.occurred_at)
GROUP BY community
ORDER BY captures DESC, community

-- title: Charging sheds, hottest slot
-- type: timeseries
-- unit: celsius
-- columns: time, shed, max_temperature_c
-- description: The highest slot temperature each shed controller reported per interval; CHARGING_OVERHEAT fires on a slot's own readings.
SELECT
    $__timeInterval(occurred_at) AS time,
    if(controller_id = '', device_id, controller_id) AS shed,
    max(metrics['temperature_c']) AS max_temperature_c
FROM device_telemetry
WHERE device_kind = 'charging_shed' AND mapContains(metrics, 'temperature_c')
    AND $__timeFilter(occurred_at)
GROUP BY time, shed
ORDER BY time, shed

-- Events (log records with an event_name) per name and service over the last day, with the
-- share that carried a sampled trace context.
SELECT event_name, service_name, count(*) AS events,
       round(avg(CASE WHEN trace_flags & 1 = 1 THEN 1 ELSE 0 END), 3) AS sampled_share,
       max("timestamp") AS last_seen
FROM logs
WHERE event_name IS NOT NULL
  AND "timestamp" >= now() - INTERVAL 1 DAY
GROUP BY ALL
ORDER BY events DESC
LIMIT 50;

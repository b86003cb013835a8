-- Errors per service in the last hour.
SELECT service_name, count(*) AS errors
FROM logs
WHERE "timestamp" >= now() - INTERVAL 1 HOUR
  AND (severity_number >= 17 OR upper(severity) IN ('ERROR', 'FATAL'))
GROUP BY service_name
ORDER BY errors DESC;

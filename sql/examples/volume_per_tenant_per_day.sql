-- Log records per tenant per day.
SELECT tenant_id, CAST("timestamp" AS DATE) AS day, count(*) AS records
FROM logs
GROUP BY ALL
ORDER BY day DESC, records DESC;

-- Everything logged for one trace, in time order (replace the id).
SELECT "timestamp", service_name, severity, body, span_id
FROM logs
WHERE trace_id = '5b8efff798038103d269b633813fc60c'
ORDER BY "timestamp";

-- Records whose attribute http.route is /checkout, with their status code.
SELECT "timestamp", service_name, body, attributes['http.status_code'] AS status
FROM logs
WHERE attributes['http.route'] = '/checkout'
ORDER BY "timestamp" DESC
LIMIT 50;

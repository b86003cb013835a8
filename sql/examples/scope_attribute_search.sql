-- Records of one instrumentation library, found by a scope attribute, with the library's
-- version and the records' own attributes.
SELECT "timestamp", service_name, scope_name, scope_version, severity, body, attributes
FROM logs
WHERE scope_attributes['otel.library.feature'] = 'enabled'
  AND "timestamp" >= now() - INTERVAL 7 DAY
ORDER BY "timestamp" DESC
LIMIT 50;

import { pino, type Logger } from 'pino';

export type { Logger };

/** The process logger: pino JSON on stdout; secrets in known places are redacted. */
export function createLogger(level: string, service: string): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['config.S3_SECRET_KEY', 'config.S3_ACCESS_KEY', 'config.TENANT_TOKENS', 'config.ICEBERG_CATALOG_TOKEN', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}

import { loadConfig, ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Component } from '../core/lifecycle.js';
import { createLogger, type Logger } from '../telemetry/logger.js';

/**
 * Runs a long-lived process: parses the config (exit 2 naming the bad variable), starts the
 * component, and on SIGTERM/SIGINT stops it within SHUTDOWN_TIMEOUT_MS (exit 0 when clean).
 */
export async function runService(service: string, build: (cfg: Config, logger: Logger) => Component): Promise<void> {
  let cfg: Config;
  try {
    cfg = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${service}: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(cfg.LOG_LEVEL, service);
  let component: Component;
  try {
    component = build(cfg, logger);
    await component.start();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${service}: ${err.message}\n`);
      process.exit(2);
    }
    logger.fatal({ err }, 'start-up failed');
    process.exit(1);
  }
  logger.info('started');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: cfg.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out');
      process.exit(1);
    }, cfg.SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    try {
      await component.stop();
      logger.info('stopped');
      logger.flush();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

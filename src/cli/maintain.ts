#!/usr/bin/env node
import { ConfigError, loadConfig } from '../config/load.js';
import { Maintainer } from '../maintainer/maintainer.js';
import { createLogger } from '../telemetry/logger.js';
import { runService } from './run-service.js';

// `maintain --once`: one run for cron, exit 0 when every task succeeded, 1 when one failed,
// 2 on a bad setting. Without it: a long-lived process on MAINTENANCE_INTERVAL_SECONDS.
if (process.argv.includes('--once')) {
  let maintainer: Maintainer;
  try {
    const cfg = loadConfig();
    maintainer = new Maintainer(cfg, createLogger(cfg.LOG_LEVEL, 'maintainer'));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`maintainer: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const run = maintainer.runOnce();
  const stop = () => void maintainer.stop().then(() => process.exit(1));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const summary = await run;
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(summary.ok ? 0 : 1);
} else {
  await runService('maintainer', (cfg, logger) => new Maintainer(cfg, logger));
}

#!/usr/bin/env node
import { Appender } from '../appender/appender.js';
import { runService } from './run-service.js';

await runService('appender', (cfg, logger) => new Appender(cfg, logger));

#!/usr/bin/env node
import { QueryService } from '../query/query-service.js';
import { runService } from './run-service.js';

await runService('query-server', (cfg, logger) => new QueryService(cfg, logger));

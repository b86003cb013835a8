#!/usr/bin/env node
import { Ingester } from '../ingester/ingester.js';
import { runService } from './run-service.js';

await runService('ingester', (cfg, logger) => new Ingester(cfg, logger));

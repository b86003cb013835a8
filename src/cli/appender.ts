#!/usr/bin/env node
import { createKafka } from '../kafka/client.js';
import { LakePipeline } from '../lake/lake-pipeline.js';
import { runService } from './run-service.js';

await runService('appender', (cfg, logger) =>
  new LakePipeline(cfg, createKafka(cfg.REDPANDA_BROKERS, `${cfg.KAFKA_CLIENT_ID}-appender`, logger), logger),
);

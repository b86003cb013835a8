import { CompressionTypes } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { Ingester } from '../../src/ingester/ingester.js';
import { createKafka } from '../../src/kafka/client.js';
import { recordHeaders } from '../../src/kafka/record.js';
import { encodeLogsRequest } from '../../src/otlp/codec.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { lakeCounts, spawnAppender } from '../helpers/lake.js';
import { logsRequest } from '../helpers/otlp.js';
import { runId, stackEnv, testConfig, waitFor } from '../helpers/stack.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', 'it');

describe('a topic of zstd-compressed record batches', () => {
  it('lands in the lake: the appender reads zstd batches (node:zlib)', { timeout: 180_000 }, async () => {
    stackEnv();
    const cfg = testConfig(runId());
    const kafka = createKafka(cfg.REDPANDA_BROKERS, 'it-zstd', logger);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: cfg.REDPANDA_TOPIC, numPartitions: 3 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    for (let r = 0; r < 10; r++) {
      const logs = Array.from({ length: 50 }, (_, i) => ({ tenant: 'acme', service: 'svc', seq: r * 50 + i, body: `zstd record ${r * 50 + i} ${'x'.repeat(200)}`, severityNumber: 9, timeUnixNano: 1_763_800_000_000_000_000n + BigInt(r * 50 + i), attrs: {} }));
      await producer.send({ topic: cfg.REDPANDA_TOPIC, acks: -1, compression: CompressionTypes.ZSTD, messages: [{ key: 'acme', value: Buffer.from(encodeLogsRequest(logsRequest(logs))), headers: recordHeaders('acme', 'logs', Date.now()) }] });
    }
    await producer.disconnect();
    const appender = spawnAppender(cfg);
    try {
      const counts = await waitFor(() => lakeCounts(cfg), (c) => c.rows >= 500, 120_000, '500 rows in the lake');
      expect(counts).toEqual({ rows: 500, distinct: 500 });
    } finally {
      const exited = new Promise((r) => appender.once('exit', r));
      appender.kill('SIGTERM');
      await exited;
    }
  });

  it('an ingester writing zstd batches (KAFKA_COMPRESSION=zstd): acknowledged requests land', { timeout: 180_000 }, async () => {
    stackEnv();
    const cfg = testConfig(runId(), { KAFKA_COMPRESSION: 'zstd' });
    const ingester = new Ingester(cfg, logger);
    await ingester.start();
    const appender = spawnAppender(cfg);
    try {
      const url = `http://127.0.0.1:${ingester.http.boundPort}/v1/logs`;
      for (let r = 0; r < 5; r++) {
        const logs = Array.from({ length: 40 }, (_, i) => ({ tenant: 'acme', service: 'svc', seq: r * 40 + i, body: `zstd ingester ${r * 40 + i}`, severityNumber: 9, timeUnixNano: 1_763_800_000_000_000_000n + BigInt(r * 40 + i), attrs: {} }));
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: 'Bearer acme-token' }, body: Buffer.from(encodeLogsRequest(logsRequest(logs))) });
        expect(res.status).toBe(200);
      }
      const counts = await waitFor(() => lakeCounts(cfg), (c) => c.rows >= 200, 120_000, '200 rows in the lake');
      expect(counts).toEqual({ rows: 200, distinct: 200 });
    } finally {
      const exited = new Promise((r) => appender.once('exit', r));
      appender.kill('SIGTERM');
      await exited;
      await ingester.stop();
    }
  });
});

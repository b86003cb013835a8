import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { recordHeaders } from '../../../src/kafka/record.js';
import { HotPathPipeline } from '../../../src/sinks/hot-path-pipeline.js';
import type { Delivery, Sink, SinkRecord } from '../../../src/sinks/sink.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { FakeKafka } from '../../helpers/fake-kafka.js';

const logger = createLogger('silent', 'test');
const cfg = loadConfig({ TOPIC_PARTITIONS: '1', SINK_GROUP_PREFIX: 'unit' });

/** A backend that refuses any request holding a record whose value starts with 0xff. */
class PickySink implements Sink<SinkRecord> {
  readonly name = 'picky';
  readonly delivered: string[] = [];
  prepare(r: SinkRecord): SinkRecord {
    if (r.value[0] === 0xee) throw new Error('cannot encode');
    return r;
  }
  async deliver(_tenant: string, records: SinkRecord[]): Promise<Delivery> {
    if (records.some((r) => r.value[0] === 0xff)) return { kind: 'reject', reason: 'HTTP 400: refused' };
    this.delivered.push(...records.map((r) => r.offset));
    return { kind: 'ok', items: records.length };
  }
}

function setup() {
  const kafka = new FakeKafka();
  const sink = new PickySink();
  const pipeline = new HotPathPipeline(cfg, kafka.asKafka(), 'logs-topic', ['logs'], sink, createMetrics(), logger);
  return { kafka, sink, pipeline };
}

const good = (n: number) => ({ key: Buffer.from('acme'), value: Buffer.from([n]), headers: recordHeaders('acme', 'logs', 1_700_000_000_000), timestamp: '1700000000000' });

describe('a consumer pipeline, without a broker', () => {
  it('creates its topic and dead-letter twin, joins its own group, and reads from the beginning', async () => {
    const { kafka, pipeline } = setup();
    await pipeline.start();
    expect([...kafka.topics].sort()).toEqual(['logs-topic', 'logs-topic-dlq']);
    expect(kafka.consumers.map((c) => [c.groupId, c.subscribed])).toEqual([['unit-picky', ['logs-topic']]]);
    expect(pipeline.isRunning).toBe(true);
    await pipeline.stop();
  });

  it('delivers, dead-letters exactly what breaks the contract or the backend refuses, then commits the position', async () => {
    const { kafka, sink, pipeline } = setup();
    await pipeline.start();
    const consumer = kafka.consumers[0]!;
    await consumer.deliver('logs-topic', 0, [
      good(1),
      { ...good(2), headers: { signal: 'logs' } }, // no tenant
      good(0xff), // refused by the backend
      good(0xee), // cannot be encoded
      { ...good(5), headers: recordHeaders('acme', 'traces', 1) }, // not this pipeline's signal
      good(6),
    ]);
    expect(sink.delivered.sort()).toEqual(['0', '5']);
    const dead = (kafka.produced.get('logs-topic-dlq') ?? []).map((m) => [m.headers!['source-offset'], m.headers!['error-code']]);
    expect(dead.sort()).toEqual([['1', 'BAD_RECORD'], ['2', 'BACKEND_REJECTED'], ['3', 'ENCODE_FAILED'], ['4', 'BAD_RECORD']]);
    expect(consumer.resolved).toEqual(['5']);
    expect(consumer.committed).toEqual([{ topic: 'logs-topic', partition: 0, offset: '6' }]);
    await pipeline.stop();
  });

  it('start and stop are idempotent, and stop is safe before start', async () => {
    const never = setup();
    await never.pipeline.stop();
    await never.pipeline.stop();
    expect(never.kafka.consumers).toHaveLength(0);

    const { kafka, pipeline } = setup();
    await pipeline.start();
    await pipeline.start();
    expect(kafka.consumers).toHaveLength(1);
    await pipeline.stop();
    await pipeline.stop();
    expect(pipeline.isRunning).toBe(false);
    expect(kafka.consumers[0]!.connected).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { recordHeaders } from '../../../src/kafka/record.js';
import { encodeLogsRequest } from '../../../src/otlp/codec.js';
import { heldBytes, HotPathPipeline } from '../../../src/sinks/hot-path-pipeline.js';
import type { Delivery, Sink, SinkRecord } from '../../../src/sinks/sink.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { FakeKafka } from '../../helpers/fake-kafka.js';

const logger = createLogger('silent', 'test');
const cfg = loadConfig({ TOPIC_PARTITIONS: '1', SINK_GROUP_PREFIX: 'unit' });

/** A backend that refuses any request holding a record whose body says 'refuse'. */
class PickySink implements Sink<SinkRecord> {
  readonly name = 'picky';
  readonly delivered: string[] = [];
  prepare(r: SinkRecord): SinkRecord {
    if (r.value.includes('no-encode')) throw new Error('cannot encode');
    return r;
  }
  async deliver(_tenant: string, records: SinkRecord[]): Promise<Delivery> {
    if (records.some((r) => r.value.includes('refuse'))) return { kind: 'reject', reason: 'HTTP 400: refused' };
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

/** A record of a logs request whose one log's body is `body` (the sink above reads it). */
const good = (body: string) => ({
  key: Buffer.from('acme'),
  value: Buffer.from(encodeLogsRequest({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: body } }] }] }] } as never)),
  headers: recordHeaders('acme', 'logs', 1_700_000_000_000),
  timestamp: '1700000000000',
});

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
      good('one'),
      { ...good('two'), headers: { signal: 'logs' } }, // no tenant
      good('refuse'), // refused by the backend
      good('no-encode'), // cannot be encoded
      { ...good('five'), headers: recordHeaders('acme', 'traces', 1) }, // not this pipeline's signal
      good('six'),
      { ...good('seven'), value: Buffer.from([0x0a, 0xff, 0xff]) }, // not a logs request
    ]);
    expect(sink.delivered.sort()).toEqual(['0', '5']);
    const dead = (kafka.produced.get('logs-topic-dlq') ?? []).map((m) => [m.headers!['source-offset'], m.headers!['error-code']]);
    expect(dead.sort()).toEqual([['1', 'BAD_RECORD'], ['2', 'BACKEND_REJECTED'], ['3', 'ENCODE_FAILED'], ['4', 'BAD_RECORD'], ['6', 'DECODE_FAILED']]);
    expect(consumer.resolved).toEqual(['6']);
    expect(consumer.committed).toEqual([{ topic: 'logs-topic', partition: 0, offset: '7' }]);
    await pipeline.stop();
  });

  it('holds no more decoded than SINK_MAX_DECODED_BYTES: delivers what it holds before it takes a record that does not fit, and dead-letters one larger than the whole (TOO_LARGE)', async () => {
    const budget = 16 * 1024 * 1024;
    const small = loadConfig({ TOPIC_PARTITIONS: '1', SINK_GROUP_PREFIX: 'unit', SINK_MAX_DECODED_BYTES: String(budget) });
    const kafka = new FakeKafka();
    const events: string[] = [];
    const sink: Sink<string> = {
      name: 'tally',
      prepare: (r) => {
        events.push(`prepare ${r.offset}`);
        return r.offset;
      },
      deliver: async (_tenant, offsets) => {
        events.push(`deliver ${offsets.join(',')}`);
        return { kind: 'ok', items: offsets.length };
      },
    };
    const pipeline = new HotPathPipeline(small, kafka.asKafka(), 'logs-topic', ['logs'], sink, createMetrics(), logger);
    await pipeline.start();
    const attrs = (n: number) => ({
      ...good('attrs'),
      value: Buffer.from(encodeLogsRequest({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: { stringValue: 'v' } })) }] }] }] } as never)),
    });
    const held = (m: { value: Buffer }) => heldBytes({ tenant: 'acme', signal: 'logs', value: m.value, partition: 0, offset: '0', kafkaTimestampMs: 0, receivedAtMs: 0 }, { maxDepth: small.MAX_MESSAGE_DEPTH, maxAttributes: Number.MAX_SAFE_INTEGER });
    const [tiny, half, whole] = [good('tiny'), attrs(20_000), attrs(100_000)];
    // what the test stands on
    expect(held(half)).toBeLessThan(budget);
    expect(held(tiny) + 2 * held(half)).toBeGreaterThan(budget);
    expect(held(whole)).toBeGreaterThan(budget);
    await kafka.consumers[0]!.deliver('logs-topic', 0, [tiny, half, half, whole, tiny]);
    expect(events).toEqual(['prepare 0', 'prepare 1', 'deliver 0,1', 'prepare 2', 'prepare 4', 'deliver 2,4']);
    const dead = (kafka.produced.get('logs-topic-dlq') ?? []).map((m) => [m.headers!['source-offset'], m.headers!['error-code'], m.headers!['error-message']]);
    expect(dead).toEqual([['3', 'TOO_LARGE', expect.stringMatching(/^decoded, the record would hold about \d+ MiB; the hot-path sinks may hold 16 MiB \(SINK_MAX_DECODED_BYTES\)$/)]]);
    await pipeline.stop();
  });

  it('cuts a batch into requests of at most SINK_MAX_BATCH_RECORDS records and SINK_MAX_REQUEST_BYTES Kafka bytes, a larger record alone', async () => {
    const capped = loadConfig({ TOPIC_PARTITIONS: '1', SINK_GROUP_PREFIX: 'unit', SINK_MAX_REQUEST_BYTES: '1024', SINK_MAX_BATCH_RECORDS: '3' });
    const kafka = new FakeKafka();
    const requests: string[][] = [];
    const sink: Sink<string> = { name: 'tally', prepare: (r) => r.offset, deliver: async (_t, offsets) => (requests.push(offsets), { kind: 'ok', items: offsets.length }) };
    const pipeline = new HotPathPipeline(capped, kafka.asKafka(), 'logs-topic', ['logs'], sink, createMetrics(), logger);
    await pipeline.start();
    const sized = (n: number) => good('x'.repeat(n));
    const sizes = [100, 100, 100, 100, 600, 600, 2000, 100];
    const messages = sizes.map(sized);
    await kafka.consumers[0]!.deliver('logs-topic', 0, messages);
    // 4 of ~110 bytes: three (the record limit), then one with the first 600 (~720), the next 600 alone, 2000 alone, the last
    expect(requests).toEqual([['0', '1', '2'], ['3', '4'], ['5'], ['6'], ['7']]);
    for (const r of requests) {
      const bytes = r.reduce((n, o) => n + messages[Number(o)]!.value.length, 0);
      expect(r.length === 1 || bytes <= 1024, `request ${r} of ${bytes} bytes`).toBe(true);
    }
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

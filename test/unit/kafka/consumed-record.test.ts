import { describe, expect, it } from 'vitest';
import { readRecord } from '../../../src/kafka/consumed-record.js';
import { recordHeaders } from '../../../src/kafka/record.js';

const value = Buffer.from([0x0a, 0x00]);
const message = (headers: Record<string, string>, v: Buffer | null = value, timestamp = '1700000000123') => ({ headers, value: v, timestamp, offset: '7' });

describe('readRecord: the record contract every pipeline checks', () => {
  it('reads a record the ingester wrote', () => {
    const r = readRecord(message(recordHeaders('acme', 'logs', 1_700_000_000_000) as Record<string, string>), 3, ['logs']);
    expect(r).toEqual({ tenant: 'acme', signal: 'logs', value, partition: 3, offset: '7', kafkaTimestampMs: 1_700_000_000_123, receivedAtMs: 1_700_000_000_000 });
  });

  it('falls back to the Kafka timestamp when received-at is missing or not a time', () => {
    for (const receivedAt of [undefined, 'soon', '0', '-5']) {
      const headers: Record<string, string> = { 'tenant-id': 'acme', signal: 'logs', ...(receivedAt === undefined ? {} : { 'received-at': receivedAt }) };
      expect(readRecord(message(headers), 0, ['logs']), String(receivedAt)).toMatchObject({ receivedAtMs: 1_700_000_000_123 });
    }
  });

  it('names what is wrong with a record that breaks it', () => {
    const cases: [Record<string, string>, Buffer | null, string][] = [
      [{ signal: 'logs' }, value, 'record has no valid tenant-id header'],
      [{ 'tenant-id': '../etc', signal: 'logs' }, value, 'record has no valid tenant-id header'],
      [{ 'tenant-id': 'acme' }, value, 'record has no valid signal header (none)'],
      [{ 'tenant-id': 'acme', signal: 'profiles' }, value, 'record has no valid signal header (profiles)'],
      [{ 'tenant-id': 'acme', signal: 'traces' }, value, "record has signal 'traces', not one this pipeline reads (logs)"],
      [{ 'tenant-id': 'acme', signal: 'logs' }, null, 'record has no value'],
    ];
    for (const [headers, v, problem] of cases) expect(readRecord(message(headers, v), 0, ['logs']), problem).toEqual({ problem });
  });

  it('an empty value is an empty request, not a broken record', () => {
    expect(readRecord(message({ 'tenant-id': 'acme', signal: 'logs' }, Buffer.alloc(0)), 0, ['logs'])).toMatchObject({ tenant: 'acme' });
  });
});

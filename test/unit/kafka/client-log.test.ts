import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { kafkaLog } from '../../../src/kafka/client.js';

function capture() {
  const lines: Record<string, any>[] = [];
  const logger = pino({ level: 'debug' }, new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  }));
  return { log: kafkaLog(logger), lines };
}

describe('kafkaLog', () => {
  it('writes an Error among kafkajs fields as its name and message, not as {}', () => {
    const { log, lines } = capture();
    // the shape kafkajs 2.2.4's consumer runner (src/consumer/runner.js) logs a failed eachBatch in: `error: e`
    log({ namespace: 'Runner', level: logLevel.ERROR, label: 'ERROR', log: { timestamp: 'now', message: 'Error when calling eachBatch', topic: 't', partition: 0, error: new RangeError('Out of Memory Error: could not allocate') } });
    expect(lines[0]!.msg).toBe('Error when calling eachBatch');
    expect(lines[0]!.kafkajs).toMatchObject({ topic: 't', partition: 0, error: 'RangeError: Out of Memory Error: could not allocate' });
  });

  it('folds repeats of one message into a count on the next line written', () => {
    const { log, lines } = capture();
    const entry = { namespace: 'Connection', level: logLevel.ERROR, label: 'ERROR', log: { timestamp: 'now', message: 'Connection error' } };
    log(entry);
    log(entry);
    log(entry);
    expect(lines).toHaveLength(1);
  });
});

import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { crc32cPath, nativeCrc32c } from '../../../src/kafka/crc32c.js';
import '../../../src/kafka/client.js';

const require = createRequire(import.meta.url);

describe('kafkajs record batch CRC-32C', () => {
  it('is the native one, and agrees with kafkajs\'s own JavaScript on random buffers', () => {
    const used = require(crc32cPath) as (b: Buffer) => number;
    const original = require(crc32cPath.replace(/index\.js$/, 'crc32C.js')) as (b: Buffer) => number;
    expect(used).toBe(nativeCrc32c);
    for (const size of [0, 1, 7, 64, 1000, 100_000]) {
      const buf = randomBytes(size);
      expect(used(buf)).toBe(original(buf) >>> 0);
    }
    expect(used(Buffer.from('123456789'))).toBe(0xe3069283); // the CRC-32C check value
  });

  it('is what kafkajs\'s record batch encoder requires', () => {
    const v0 = require.resolve('kafkajs/src/protocol/recordBatch/v0/index.js');
    require(v0);
    const mod = require.cache[v0]!;
    const crcChild = mod.children.find((c) => c.id === crc32cPath) ?? require.cache[crc32cPath];
    expect(crcChild!.exports).toBe(nativeCrc32c);
  });
});

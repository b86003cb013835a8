import { randomBytes } from 'node:crypto';
import { zstdCompressSync } from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import '../../../src/kafka/client.js';
import { ZSTD_MAX_BATCH_BYTES } from '../../../src/kafka/zstd.js';

type Codec = { compress: (e: { buffer: Buffer }) => Promise<Buffer>; decompress: (b: Buffer) => Promise<Buffer> };
const codec = () => (CompressionCodecs[CompressionTypes.ZSTD] as unknown as () => Codec)();

describe('kafkajs zstd codec (node:zlib)', () => {
  it('round-trips record batches, and reads what another zstd producer wrote', async () => {
    for (const size of [0, 1, 1000, 1 << 20]) {
      const data = Buffer.concat([randomBytes(size >> 1), Buffer.alloc(size - (size >> 1), 'a')]);
      const packed = await codec().compress({ buffer: data });
      expect(Buffer.compare(await codec().decompress(packed), data)).toBe(0);
      expect(Buffer.compare(await codec().decompress(zstdCompressSync(data)), data)).toBe(0);
    }
  });

  it('refuses a batch that inflates past ZSTD_MAX_BATCH_BYTES instead of holding it', async () => {
    const bomb = zstdCompressSync(Buffer.alloc(ZSTD_MAX_BATCH_BYTES + 1));
    expect(bomb.length).toBeLessThan(64 * 1024);
    await expect(codec().decompress(bomb)).rejects.toThrow(/maxOutputLength|larger than|buffer/i);
  });
});

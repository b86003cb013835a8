import snappy from 'snappy';
import { LakehouseError } from '../core/errors.js';

/** The uncompressed length a snappy block declares (its leading varint), or -1 if unreadable. */
export function snappyDeclaredLength(block: Buffer): number {
  let result = 0;
  for (let i = 0, shift = 0; i < Math.min(block.length, 5); i++, shift += 7) {
    const b = block[i]!;
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return result;
  }
  return -1;
}

/**
 * Undoes remote_write's snappy block compression, refusing (413) a block that declares more than
 * `limit` bytes; what it declares is charged first.
 */
export function unsnappy(block: Buffer, limit: number, charge: (bytes: number) => void = () => {}): Buffer {
  const declared = snappyDeclaredLength(block);
  if (declared < 0) throw new LakehouseError('BAD_REQUEST', 'body is not snappy block-compressed: no length header');
  if (declared > limit) throw new LakehouseError('PAYLOAD_TOO_LARGE', `snappy body declares ${declared} bytes, over the limit of ${limit} bytes`);
  // the block allocates what it declares before a byte is inflated
  charge(declared);
  try {
    return snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch (e) {
    throw new LakehouseError('BAD_REQUEST', `body could not be snappy-decompressed: ${(e as Error).message}`);
  }
}

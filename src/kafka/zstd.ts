import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import kafkajs from 'kafkajs';

/**
 * Most bytes one zstd record batch may inflate to. A batch larger than this fails to decode
 * (the consumer's fetch fails) rather than take the process's memory: a fetch brings at most a
 * few MB per partition (the lake pipeline 2 MB, a sink SINK_MAX_BATCH_BYTES), and Kafka's
 * record batches are compressed a few times at most.
 */
export const ZSTD_MAX_BATCH_BYTES = 256 * 1024 * 1024;

// Imported whole: an older Node.js lacks these, and a named import would fail before this check.
if (typeof zlib.zstdCompress !== 'function') {
  // package.json's engines says so too, but npm only warns
  throw new Error(`otel-lakehouse needs Node.js 24 or newer; this is ${process.version}`);
}
const compress = promisify(zlib.zstdCompress);
const decompress = promisify(zlib.zstdDecompress);

/**
 * kafkajs ships codecs for none and gzip only; a topic whose batches are zstd-compressed (a
 * producer that compresses, or a broker's `compression.type=zstd`) cannot be read without one.
 * Node.js 24's zlib has zstd natively, so kafkajs gets its codec from there: every module that
 * reads or writes Kafka imports this one (src/kafka/client.ts).
 */
// kafkajs is CommonJS, and these two are not among the names Node finds to import by name
const { CompressionCodecs, CompressionTypes } = kafkajs;
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  compress: async (encoder: { buffer: Buffer }) => compress(encoder.buffer, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } }),
  decompress: async (buffer: Buffer) => decompress(buffer, { maxOutputLength: ZSTD_MAX_BATCH_BYTES }),
});

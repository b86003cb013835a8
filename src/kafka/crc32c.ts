import { createRequire } from 'node:module';
import { crc32c } from '@node-rs/crc32';

/**
 * kafkajs computes the CRC-32C of every record batch it produces in JavaScript, a table lookup
 * per byte, a visible share of the ingester's CPU profile. This swaps in the SIMD
 * implementation of @node-rs/crc32 by replacing kafkajs's internal crc32C module in the
 * CommonJS cache before kafkajs is loaded; every module that imports kafkajs imports this one
 * first. test/unit/kafka/crc32c.test.ts pins that kafkajs then uses it and that the sums agree.
 */
const require = createRequire(import.meta.url);
const path = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
require(path);
const cached = require.cache[path];
/** The record batch checksum kafkajs now uses. */
export const nativeCrc32c = (buffer: Buffer): number => crc32c(buffer) >>> 0;
if (cached) cached.exports = nativeCrc32c;

export const crc32cPath = path;

import type { ItemReport } from './wire-check.js';

/**
 * What decoding a request will hold in memory, estimated before the decode from what the wire
 * walk counted, and charged to the request's lease (see Admission) so that a small body of many
 * tiny messages cannot decode into gigabytes. The constants are measured heap bytes per decoded
 * object with a margin; `npm run bench:hostile` checks the bound they give (docs/limits.md).
 */

/** heap bytes of one protobufjs message object (its own fields on the prototype) */
export const PROTO_MESSAGE_BYTES = 96;
/** heap bytes of one decoded field value or packed element (a Long for a 64-bit integer) */
export const PROTO_FIELD_BYTES = 32;
/** heap bytes of one JSON value: its JSON.parse value, its checked copy and its protobufjs field */
export const JSON_VALUE_BYTES = 256;

/**
 * A protobuf request decoded, re-encoded into Kafka records and cut to fit them: the objects,
 * the records (about the body again) and the encodings splitting discards (once more).
 */
export function protobufDecodeCost(report: Pick<ItemReport, 'messages' | 'fields'>, bodyBytes: number): number {
  return report.messages * PROTO_MESSAGE_BYTES + report.fields * PROTO_FIELD_BYTES + 2 * bodyBytes;
}

/**
 * An OTLP/JSON request: its text as a string (up to twice its bytes), the values it holds (one
 * per '{', '[' or ',', counted without parsing), and its protobuf encoding and records.
 */
export function jsonDecodeCost(body: Uint8Array): number {
  let values = 1;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    // '{' 0x7b, '[' 0x5b, ',' 0x2c
    if (c === 0x2c || c === 0x7b || c === 0x5b) values++;
  }
  return values * JSON_VALUE_BYTES + 4 * body.length;
}

/**
 * The protobuf wire-format reader of the otlp/ folder: varints, lengths, fixed-width fields and
 * skipping, with every read bounded by the end of the message it is in. The strict check of the
 * ingester (wire-check.ts) and the lake's NDJSON writer (logs-ndjson.ts) both read with it.
 */

/** Malformed protobuf, with what and where. */
export class OtlpDecodeError extends Error {}

export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
export const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** Reads one protobuf message buffer from `pos`; 64-bit values are left in the `lo`/`hi` words. */
export class WireReader {
  pos = 0;
  lo = 0;
  hi = 0;
  constructor(readonly buf: Uint8Array) {}

  /** Fails at the current byte; `field` names the field being read, where a subclass reports it. */
  fail(what: string, _field?: string): never {
    throw new OtlpDecodeError(`malformed protobuf: ${what} at byte ${this.pos}`);
  }

  /** A varint as a double (exact below 2^53: enough for tags and any length that fits in memory). */
  varintNumber(end: number, field?: string): number {
    const buf = this.buf;
    if (this.pos < end && buf[this.pos]! < 0x80) return buf[this.pos++]!;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) this.fail('truncated varint', field);
      const b = buf[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    this.fail('varint longer than 10 bytes', field);
  }

  /** Reads a varint into lo/hi (uint32 words). */
  varint64(end: number): void {
    const b = this.buf;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    let byte: number;
    // low 28 bits
    for (; shift < 28; shift += 7) {
      if (this.pos >= end) this.fail('truncated varint');
      byte = b[this.pos++]!;
      lo |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    // bits 28..34 straddle the words
    if (this.pos >= end) this.fail('truncated varint');
    byte = b[this.pos++]!;
    lo |= (byte & 0x0f) << 28;
    hi = (byte & 0x7f) >> 4;
    if (byte >= 0x80) {
      for (shift = 3; ; shift += 7) {
        if (shift > 63) this.fail('varint too long');
        if (this.pos >= end) this.fail('truncated varint');
        byte = b[this.pos++]!;
        if (shift < 32) hi |= (byte & 0x7f) << shift;
        if (byte < 0x80) break;
      }
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** A varint that must fit in 32 bits (tags, lengths). */
  uint32(end: number): number {
    const b = this.buf;
    if (this.pos < end) {
      const byte = b[this.pos]!;
      if (byte < 0x80) {
        this.pos++;
        return byte;
      }
    }
    this.varint64(end);
    if (this.hi !== 0) this.fail('length or tag out of range');
    return this.lo;
  }

  /** Reads a length prefix and returns the end of the field it delimits. */
  lengthEnd(end: number): number {
    const n = this.uint32(end);
    const e = this.pos + n;
    if (e > end) this.fail(`length ${n} runs past the end of its message`);
    return e;
  }

  fixed32(end: number): number {
    if (this.pos + 4 > end) this.fail('truncated fixed32');
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  /** Reads a fixed64 into lo/hi. */
  fixed64(end: number): void {
    this.lo = this.fixed32(end);
    this.hi = this.fixed32(end);
  }

  skip(wireType: number, end: number): void {
    switch (wireType) {
      case 0:
        this.varint64(end);
        return;
      case 1:
        if (this.pos + 8 > end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case 2:
        this.pos = this.lengthEnd(end);
        return;
      case 5:
        if (this.pos + 4 > end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }

  expect(wireType: number, want: number, field: string): void {
    if (wireType !== want) this.fail(`${field} has wire type ${wireType}, not ${want}`);
  }
}

/** A signed int64 from two words, as a JS number when safe, else a bigint. */
export function int64(lo: number, hi: number): number | bigint {
  if (hi < 0x200000) return hi * 4294967296 + lo; // < 2^53
  if (hi >= 0xffe00000) return (hi - 4294967296) * 4294967296 + lo; // >= -2^53
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

/** int64 as the mapping writes it into JSON: a number when safe, else a quoted string. */
export function int64Json(lo: number, hi: number): string {
  const v = int64(lo, hi);
  if (typeof v === 'number') return String(v);
  return v >= MIN_SAFE && v <= MAX_SAFE ? String(v) : `"${v}"`;
}

/** Unsigned fixed64 nanoseconds to microseconds as decimal text; '' for zero. */
export function nanosToMicrosText(lo: number, hi: number): string {
  if (lo === 0 && hi === 0) return '';
  // n = hi * 2^32 + lo = 1000 * hi * 4294967 + (hi * 296 + lo)
  if (hi < 2_000_000_000) return String(hi * 4294967 + Math.floor((hi * 296 + lo) / 1000));
  return String(((BigInt(hi) << 32n) | BigInt(lo)) / 1000n);
}

export function float64(b: Uint8Array, p: number): number {
  return new DataView(b.buffer, b.byteOffset + p, 8).getFloat64(0, true);
}

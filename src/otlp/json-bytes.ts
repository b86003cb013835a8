/**
 * Writing JSON text as bytes: a growable byte buffer, and JSON strings written straight from the
 * UTF-8 bytes of a protobuf message (validated, escaped) without making JS strings of them.
 */

/** A growable byte buffer that rows are written into. */
/** A growable byte buffer that rows are written into. */
export class ByteSink {
  buf: Buffer;
  len = 0;

  constructor(initial = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Writes an ASCII-only string. */
  ascii(s: string): void {
    this.ensure(s.length);
    const b = this.buf;
    let p = this.len;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.len = p;
  }

  /** Writes any string as UTF-8. */
  utf8(s: string): void {
    this.ensure(s.length * 3);
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  bytes(src: Uint8Array, start = 0, end = src.length): void {
    this.ensure(end - start);
    this.buf.set(src.subarray(start, end), this.len);
    this.len += end - start;
  }

  /** The bytes written so far (a view, valid until the next write). */
  view(start = 0, end = this.len): Buffer {
    return this.buf.subarray(start, end);
  }

  reset(): void {
    this.len = 0;
    if (this.buf.length > 64 << 20) this.buf = Buffer.allocUnsafe(1 << 20);
  }
}

export const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
export const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  HEX_CODES[2 * i] = HEX[i]!.charCodeAt(0);
  HEX_CODES[2 * i + 1] = HEX[i]!.charCodeAt(1);
}
/** Bytes that go into a JSON string as they are. */
const SAFE = new Uint8Array(256);
for (let c = 0x20; c < 0x80; c++) SAFE[c] = 1;
SAFE[0x22] = 0;
SAFE[0x5c] = 0;

/**
 * Writes bytes [start, end) of `src` as a JSON string. Returns false, with nothing written,
 * when the bytes are not valid UTF-8.
 */
export function writeJsonString(out: ByteSink, src: Uint8Array, start: number, end: number): boolean {
  out.ensure((end - start) * 6 + 2);
  const o = out.buf;
  let p = out.len;
  o[p++] = 0x22;
  let i = start;
  while (i < end) {
    // A run of bytes that need no escaping is copied at once: most strings are one such run.
    const run = i;
    while (i < end && SAFE[src[i]!] === 1) i++;
    if (i - run > 24) {
      o.set(src.subarray(run, i), p);
      p += i - run;
    } else {
      for (let k = run; k < i; k++) o[p++] = src[k]!;
    }
    if (i === end) break;
    const c = src[i]!;
    if (c < 0x80) {
      o[p++] = 0x5c;
      if (c === 0x22 || c === 0x5c) o[p++] = c;
      else if (c === 0x0a) o[p++] = 0x6e;
      else if (c === 0x09) o[p++] = 0x74;
      else if (c === 0x0d) o[p++] = 0x72;
      else {
        o[p++] = 0x75; // \u00XX
        o[p++] = 0x30;
        o[p++] = 0x30;
        o[p++] = HEX_CODES[2 * c]!;
        o[p++] = HEX_CODES[2 * c + 1]!;
      }
      i++;
      continue;
    }
    // multi-byte: validate (WHATWG UTF-8) and copy
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return false;
    if (i + n >= end) return false;
    const c1 = src[i + 1]!;
    if (c1 < lo || c1 > hi) return false;
    for (let k = 2; k <= n; k++) {
      const ck = src[i + k]!;
      if (ck < 0x80 || ck > 0xbf) return false;
    }
    for (let k = 0; k <= n; k++) o[p++] = src[i + k]!;
    i += n + 1;
  }
  o[p++] = 0x22;
  out.len = p;
  return true;
}

/** Writes a JS string as a JSON string. */
export function writeJsonStringJs(out: ByteSink, s: string): void {
  out.utf8(JSON.stringify(s));
}

/** A UTF-8 field as a JS string, invalid sequences replaced by U+FFFD. */
export function text(src: Uint8Array, start: number, end: number): string {
  return Buffer.from(src.buffer, src.byteOffset, src.byteLength).toString('utf8', start, end);
}

/** Writes a string field, falling back to replacement characters for invalid UTF-8. */
export function writeField(out: ByteSink, src: Uint8Array, start: number, end: number): void {
  if (!writeJsonString(out, src, start, end)) writeJsonStringJs(out, text(src, start, end));
}

/** Bytes [s, e) as a lowercase hex JSON string; an empty range as null. */
export function writeHex(out: ByteSink, b: Uint8Array, s: number, e: number): void {
  if (e <= s) {
    out.ascii('null');
    return;
  }
  out.ensure(2 * (e - s) + 2);
  const o = out.buf;
  let p = out.len;
  o[p++] = 0x22;
  for (let i = s; i < e; i++) {
    const v = b[i]!;
    o[p++] = HEX_CODES[2 * v]!;
    o[p++] = HEX_CODES[2 * v + 1]!;
  }
  o[p++] = 0x22;
  out.len = p;
}

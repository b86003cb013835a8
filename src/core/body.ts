import type { IncomingMessage } from 'node:http';
import { createGunzip } from 'node:zlib';
import { LakehouseError } from './errors.js';

/** Called with each chunk's size before the chunk is kept; throws to refuse it. */
export type Charge = (bytes: number) => void;

const noCharge: Charge = () => {};

/**
 * Before an answer to a request whose body was not read to its end: the connection is closed
 * after the answer rather than kept, so that the unread rest of the body is never read. Draining
 * it would cost a refusal as much as an acceptance, the cost a flood of refused requests must
 * not have; clients read the answer all the same (pinned in test/integration/ingester-limits).
 */
export function refuseUnread(req: IncomingMessage, res: { setHeader(name: string, value: string): unknown; headersSent: boolean }): void {
  if (!req.readableEnded && !res.headersSent) res.setHeader('connection', 'close');
}

/**
 * Collects a stream's chunks up to `limit` bytes (past it, `tooLarge`), each charged before it
 * is kept, so a refusal stops it with nothing more held. `stop` ends the stream's flow when it
 * fails; the promise settles once.
 */
function collect(stream: NodeJS.ReadableStream, limit: number, charge: Charge, tooLarge: () => LakehouseError, failed: (e: Error) => LakehouseError, stop: () => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (e: unknown) => {
      if (done) return;
      done = true;
      chunks.length = 0;
      stop();
      reject(e);
    };
    stream.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) return fail(tooLarge());
      try {
        charge(c.length);
      } catch (e) {
        return fail(e);
      }
      chunks.push(c);
    });
    stream.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks, size));
    });
    stream.on('error', (e: Error) => fail(failed(e)));
  });
}

/**
 * Reads the request body, refusing (413) more than `limit` bytes on the wire. Each chunk is
 * charged before it is kept, so a refusal stops the read with nothing more held.
 */
export function readBody(req: IncomingMessage, limit: number, charge: Charge = noCharge): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new LakehouseError('PAYLOAD_TOO_LARGE', `body of ${declared} bytes exceeds the limit of ${limit} bytes`));
  }
  return collect(
    req,
    limit,
    charge,
    () => new LakehouseError('PAYLOAD_TOO_LARGE', `body exceeds the limit of ${limit} bytes`),
    (e) => new LakehouseError('BAD_REQUEST', `reading the body failed: ${e.message}`),
    // the rest of a refused body is not read: the answer closes the connection (see refuseUnread)
    () => req.pause(),
  );
}

/**
 * Undoes Content-Encoding (gzip or identity). gzip is inflated as a stream, each output chunk
 * charged before it is kept and the total capped by `limit` (413), so a small bomb is stopped
 * while it inflates rather than after.
 */
export function decodeContentEncoding(body: Buffer, encoding: string | undefined, limit: number, charge: Charge = noCharge): Promise<Buffer> {
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return Promise.resolve(body);
  if (enc !== 'gzip') return Promise.reject(new LakehouseError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding '${enc}' is not supported (use gzip or identity)`));
  return gunzipCharged(body, limit, charge);
}

/** Inflates a gzip buffer as a stream against `limit` and `charge` (see decodeContentEncoding). */
export function gunzipCharged(body: Buffer, limit: number, charge: Charge): Promise<Buffer> {
  const gunzip = createGunzip();
  const out = collect(
    gunzip,
    limit,
    charge,
    () => new LakehouseError('PAYLOAD_TOO_LARGE', `gzip body decompresses to more than ${limit} bytes`),
    (e) => new LakehouseError('BAD_REQUEST', `gzip body could not be decompressed: ${e.message}`),
    () => gunzip.destroy(),
  );
  gunzip.end(body);
  return out;
}

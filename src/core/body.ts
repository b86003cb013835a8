import type { IncomingMessage } from 'node:http';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { LakehouseError } from './errors.js';

const gunzipAsync = promisify(gunzip);

/** Reads the request body, refusing (413) more than `limit` bytes on the wire. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      return reject(new LakehouseError('PAYLOAD_TOO_LARGE', `body of ${declared} bytes exceeds the limit of ${limit} bytes`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        req.resume();
        reject(new LakehouseError('PAYLOAD_TOO_LARGE', `body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => failed || resolve(Buffer.concat(chunks, size)));
    req.on('error', (e) => failed || reject(new LakehouseError('BAD_REQUEST', `reading the body failed: ${e.message}`)));
  });
}

/** Undoes Content-Encoding (gzip or identity); the decompressed size is capped by `limit` too. */
export async function decodeContentEncoding(body: Buffer, encoding: string | undefined, limit: number): Promise<Buffer> {
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return body;
  if (enc !== 'gzip') throw new LakehouseError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding '${enc}' is not supported (use gzip or identity)`);
  try {
    return await gunzipAsync(body, { maxOutputLength: limit });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new LakehouseError('PAYLOAD_TOO_LARGE', `gzip body decompresses to more than ${limit} bytes`);
    }
    throw new LakehouseError('BAD_REQUEST', `gzip body could not be decompressed: ${(e as Error).message}`);
  }
}

import { HeadBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/schema.js';

type S3Settings = Pick<Config, 'S3_ENDPOINT' | 'S3_ACCESS_KEY' | 'S3_SECRET_KEY' | 'S3_REGION' | 'S3_URL_STYLE'>;

/** An object store's own answer about one object. */
export type ObjectState = 'present' | 'missing';

/**
 * Asks the object store itself whether objects exist, for the one decision that destroys on
 * the answer (the snapshot repair's rollback): an object is missing only when HeadObject is
 * answered 404 in a bucket that HeadBucket has just answered 200 for (a HEAD answer has no
 * body, so S3 cannot say which of the two was not found). Any other answer — 403, 5xx, a reset,
 * a timeout — is thrown: it says nothing about the object.
 */
export class ObjectStore {
  private readonly s3: S3Client;

  constructor(cfg: S3Settings) {
    this.s3 = new S3Client({
      endpoint: cfg.S3_ENDPOINT,
      region: cfg.S3_REGION,
      credentials: { accessKeyId: cfg.S3_ACCESS_KEY, secretAccessKey: cfg.S3_SECRET_KEY },
      forcePathStyle: cfg.S3_URL_STYLE === 'path',
    });
  }

  /** The state of each `s3://bucket/key` URL. */
  async states(urls: string[]): Promise<Map<string, ObjectState>> {
    const states = new Map<string, ObjectState>();
    const bucketsSeen = new Set<string>();
    for (const url of urls) {
      const { bucket, key } = parseS3Url(url);
      try {
        await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        states.set(url, 'present');
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
        if (!bucketsSeen.has(bucket)) {
          // throws unless the bucket is there: a 404 then is the object's
          await this.s3.send(new HeadBucketCommand({ Bucket: bucket }));
          bucketsSeen.add(bucket);
        }
        states.set(url, 'missing');
      }
    }
    return states;
  }

  close(): void {
    this.s3.destroy();
  }
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** `s3://bucket/key` (or s3a://) into its bucket and key. */
export function parseS3Url(url: string): { bucket: string; key: string } {
  const m = /^s3a?:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!m) throw new Error(`not an s3:// object URL: ${url}`);
  return { bucket: m[1]!, key: m[2]! };
}

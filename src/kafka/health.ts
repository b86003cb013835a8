import type { Admin, Kafka } from 'kafkajs';

/**
 * Whether the broker answers: a metadata request through a dedicated admin client, bounded by
 * `timeoutMs`, its answer reused for `cacheMs` so /readyz polling costs the broker little.
 */
export class BrokerProbe {
  private admin: Admin | undefined;
  private last: { at: number; ok: boolean; reason?: string } | undefined;
  private inflight: Promise<{ ok: boolean; reason?: string }> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly timeoutMs = 2000,
    private readonly cacheMs = 1000,
  ) {}

  async check(): Promise<{ ok: boolean; reason?: string }> {
    if (this.last && Date.now() - this.last.at < this.cacheMs) return this.last;
    this.inflight ??= this.probe().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async probe(): Promise<{ ok: boolean; reason?: string }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      this.admin ??= this.kafka.admin();
      const admin = this.admin;
      await Promise.race([
        admin.connect().then(() => admin.describeCluster()),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs))),
      ]);
      this.last = { at: Date.now(), ok: true };
    } catch (e) {
      this.last = { at: Date.now(), ok: false, reason: `broker unreachable: ${(e as Error).message}` };
      const admin = this.admin;
      this.admin = undefined;
      void admin?.disconnect().catch(() => {});
    } finally {
      clearTimeout(timer);
    }
    return this.last;
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => {});
  }
}

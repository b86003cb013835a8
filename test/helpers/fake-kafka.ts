import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';

/**
 * A stand-in for the kafkajs client, for unit tests of pipeline logic without a broker: topics
 * it was asked to create exist at once with a leader, produced records are kept by topic, and a
 * test hands a consumer's batch handler the batches it wants.
 */
export class FakeKafka {
  readonly topics = new Set<string>();
  readonly produced = new Map<string, { key?: string | null; value: Buffer | null; headers?: Record<string, unknown> }[]>();
  readonly consumers: FakeConsumer[] = [];

  asKafka(): Kafka {
    return this as unknown as Kafka;
  }

  admin() {
    return {
      connect: async () => {},
      disconnect: async () => {},
      listTopics: async () => [...this.topics],
      createTopics: async ({ topics }: { topics: { topic: string }[] }) => {
        for (const t of topics) this.topics.add(t.topic);
        return true;
      },
      fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
        topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 1, partitionErrorCode: 0 }] })),
      }),
    };
  }

  producer() {
    return {
      on: () => {},
      connect: async () => {},
      disconnect: async () => {},
      send: async ({ topic, messages }: { topic: string; messages: { key?: string; value: Buffer; headers?: Record<string, unknown> }[] }) => {
        this.produced.set(topic, [...(this.produced.get(topic) ?? []), ...messages]);
        return [];
      },
    };
  }

  consumer(config: { groupId: string }) {
    const c = new FakeConsumer(config.groupId);
    this.consumers.push(c);
    return c;
  }
}

export class FakeConsumer {
  readonly events = { REBALANCING: 'rebalancing', GROUP_JOIN: 'group_join' };
  readonly committed: { topic: string; partition: number; offset: string }[] = [];
  readonly resolved: string[] = [];
  connected = false;
  subscribed: string[] = [];
  private handler: ((p: EachBatchPayload) => Promise<void>) | undefined;

  constructor(readonly groupId: string) {}

  on(): void {}
  pause(): void {}
  async connect(): Promise<void> {
    this.connected = true;
  }
  async disconnect(): Promise<void> {
    this.connected = false;
  }
  async subscribe({ topic }: { topic: string }): Promise<void> {
    this.subscribed.push(topic);
  }
  async run({ eachBatch }: { eachBatch: (p: EachBatchPayload) => Promise<void> }): Promise<void> {
    this.handler = eachBatch;
  }
  async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    this.committed.push(...offsets);
  }

  /** Hands the pipeline one batch of `messages` (offsets from `first`) of `partition`. */
  async deliver(topic: string, partition: number, messages: Omit<KafkaMessage, 'offset' | 'attributes' | 'size'>[], first = 0): Promise<void> {
    if (!this.handler) throw new Error('the consumer does not run');
    const full = messages.map((m, i) => ({ ...m, offset: String(first + i), attributes: 0, size: 0 })) as KafkaMessage[];
    const batch = {
      topic,
      partition,
      highWatermark: String(first + full.length),
      messages: full,
      isEmpty: () => full.length === 0,
      firstOffset: () => full[0]?.offset ?? null,
      lastOffset: () => full[full.length - 1]!.offset,
      offsetLag: () => '0',
      offsetLagLow: () => '0',
    };
    await this.handler({
      batch,
      resolveOffset: (o: string) => void this.resolved.push(o),
      heartbeat: async () => {},
      pause: () => () => {},
      commitOffsetsIfNecessary: async () => {},
      uncommittedOffsets: () => ({ topics: [] }),
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload);
  }
}

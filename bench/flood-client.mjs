// One tenant's flood of requests, from its own process as another tenant's clients would send
// it: the quiet tenant's latencies, measured by hostile.mjs, are then not the flood client's own
// event loop. Reads a JSON argument { url, token, headers, bodyFile, clients, seconds } and
// prints the statuses it got, by count, as one JSON line.
//
// With { kafka: { brokers, topic }, perSecond } instead of url and token, it writes the body
// straight to the broker as one record, perSecond times a second through `clients` producers
// (acks=all): the broker's own share of what a quiet tenant sees beside a flood.
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { Agent, request } from 'undici';

const { url, token, headers, bodyFile, clients, seconds, kafka, perSecond } = JSON.parse(process.argv[2]);
const body = readFileSync(bodyFile);
if (kafka) {
  const client = new Kafka({ brokers: kafka.brokers, clientId: 'bench-flood', logLevel: logLevel.NOTHING });
  const producers = await Promise.all(
    Array.from({ length: clients }, async () => {
      const p = client.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await p.connect();
      return p;
    }),
  );
  const statuses = {};
  const stop = performance.now() + seconds * 1000;
  let next = performance.now();
  await Promise.all(
    producers.map(async (p) => {
      while (performance.now() < stop) {
        // the next slot of the paced schedule, shared by all producers
        const at = next;
        next += 1000 / perSecond;
        if (at > performance.now()) await new Promise((r) => setTimeout(r, at - performance.now()));
        try {
          await p.send({ topic: kafka.topic, acks: -1, messages: [{ key: 'noisy', value: body }] });
          statuses.written = (statuses.written ?? 0) + 1;
        } catch (e) {
          statuses[`error:${e.type ?? e.message}`] = (statuses[`error:${e.type ?? e.message}`] ?? 0) + 1;
        }
      }
    }),
  );
  await Promise.all(producers.map((p) => p.disconnect()));
  console.log(JSON.stringify(statuses));
  process.exit(0);
}
const dispatcher = new Agent({ connections: clients, pipelining: 1, bodyTimeout: 180_000, headersTimeout: 180_000 });
const stop = performance.now() + seconds * 1000;
const statuses = {};
await Promise.all(
  Array.from({ length: clients }, async () => {
    while (performance.now() < stop) {
      let status;
      try {
        const res = await request(url, { method: 'POST', dispatcher, headers: { authorization: `Bearer ${token}`, ...headers }, body });
        await res.body.arrayBuffer();
        status = String(res.statusCode);
      } catch (e) {
        status = `error:${e.code ?? e.message}`;
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  }),
);
console.log(JSON.stringify(statuses));
await dispatcher.close();

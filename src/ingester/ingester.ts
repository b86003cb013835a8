import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
import { LakehouseError } from '../core/errors.js';
import { ComponentGroup, type Component } from '../core/lifecycle.js';
import { createKafka } from '../kafka/client.js';
import { RecordProducer } from '../kafka/producer.js';
import { recordHeaders } from '../kafka/record.js';
import { ensureTopics, topicWithDlq } from '../kafka/topics.js';
import { countLogRecords, decodeLogsRequest, ExportLogsServiceResponse } from '../otlp/codec.js';
import type { Logger } from '../telemetry/logger.js';
import { tenantResolverFromConfig, type TenantResolver } from './auth.js';
import { decodeContentEncoding, readBody } from './body.js';
import { HttpServer, sendJson } from './http-server.js';

const PROTOBUF = 'application/x-protobuf';
const EMPTY_LOGS_RESPONSE = Buffer.from(ExportLogsServiceResponse.encode(ExportLogsServiceResponse.create()).finish());

function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

/**
 * The ingester: OTLP/HTTP in, one Kafka record per request out (key and header = tenant),
 * answered 200 only after the broker acknowledged the write with acks=all.
 */
export class Ingester implements Component {
  readonly name = 'ingester';
  readonly http: HttpServer;
  private readonly producer: RecordProducer;
  private readonly tenants: TenantResolver;
  private readonly group: ComponentGroup;
  private readonly log: Logger;
  private readonly kafka;

  constructor(
    private readonly cfg: Config,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'ingester' });
    this.tenants = tenantResolverFromConfig(cfg);
    if (cfg.AUTH_MODE === 'none') {
      this.log.warn({ tenant: cfg.DEFAULT_TENANT }, 'AUTH_MODE=none: every request is accepted as the default tenant; use only for local demos');
    }
    this.kafka = createKafka(cfg.REDPANDA_BROKERS, `${cfg.KAFKA_CLIENT_ID}-ingester`, logger);
    this.producer = new RecordProducer(this.kafka, cfg.PRODUCE_TIMEOUT_MS, logger);
    this.http = new HttpServer('ingester.http', cfg.INGESTER_HOST, cfg.INGESTER_HTTP_PORT, logger)
      .route('POST', '/v1/logs', (req, res) => this.handleLogs(req, res))
      .route('GET', '/healthz', async (_req, res) => sendJson(res, 200, { status: 'ok' }))
      .route('GET', '/readyz', async (_req, res) =>
        this.producer.isConnected
          ? sendJson(res, 200, { status: 'ready' })
          : sendJson(res, 503, { status: 'not ready', reason: 'broker not connected' }, { 'retry-after': '5' }),
      );
    // Downstream first: the producer must be up before the server takes requests.
    this.group = new ComponentGroup('ingester', [
      {
        name: 'kafka.topics',
        start: () =>
          ensureTopics(this.kafka, topicWithDlq(cfg.REDPANDA_TOPIC), {
            partitions: cfg.TOPIC_PARTITIONS,
            replicationFactor: cfg.TOPIC_REPLICATION_FACTOR,
          }, logger),
        stop: async () => {},
      },
      this.producer,
      this.http,
    ]);
  }

  start(): Promise<void> {
    return this.group.start();
  }

  /** Stops taking requests, lets in-flight ones finish, then disconnects the producer. */
  stop(): Promise<void> {
    return this.group.stop();
  }

  private authenticate(req: IncomingMessage): string {
    const tenant = this.tenants.resolve(req.headers.authorization);
    if (!tenant) throw new LakehouseError('UNAUTHORIZED', 'missing or unknown bearer token');
    return tenant;
  }

  private async handleLogs(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const tenant = this.authenticate(req);
    const type = mediaType(req);
    if (type !== PROTOBUF) {
      req.resume();
      throw new LakehouseError('UNSUPPORTED_MEDIA_TYPE', `Content-Type '${type || '(none)'}' is not supported on /v1/logs; use ${PROTOBUF}`);
    }
    const raw = await readBody(req, this.cfg.MAX_BODY_BYTES);
    const body = await decodeContentEncoding(raw, req.headers['content-encoding'], this.cfg.MAX_BODY_BYTES);
    let records: number;
    try {
      records = countLogRecords(decodeLogsRequest(body));
    } catch (e) {
      throw new LakehouseError('DECODE_FAILED', `body is not a valid ExportLogsServiceRequest: ${(e as Error).message}`);
    }
    if (records > 0) {
      await this.producer.send(this.cfg.REDPANDA_TOPIC, [
        { key: tenant, value: body, headers: recordHeaders(tenant, 'logs', receivedAt) },
      ]);
    }
    res.writeHead(200, { 'content-type': PROTOBUF, 'content-length': EMPTY_LOGS_RESPONSE.length });
    res.end(EMPTY_LOGS_RESPONSE);
  }
}

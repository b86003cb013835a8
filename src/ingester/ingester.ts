import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
import { asLakehouseError, LakehouseError } from '../core/errors.js';
import { ComponentGroup, type Component } from '../core/lifecycle.js';
import { createKafka } from '../kafka/client.js';
import { BrokerProbe } from '../kafka/health.js';
import { RecordProducer } from '../kafka/producer.js';
import { ensureTopics, topicWithDlq } from '../kafka/topics.js';
import { RpcStatus } from '../otlp/codec.js';
import { SIGNALS, type SignalSpec } from '../otlp/signals.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { Admission, type Lease } from './admission.js';
import { RefusalPause } from '../core/refusal-pause.js';
import { tenantLimitsFromConfig } from '../config/tenants.js';
import { authenticate, tenantResolverFromConfig, type TenantResolver } from '../core/auth.js';
import { decodeContentEncoding, readBody, refuseUnread } from '../core/body.js';
import { GrpcServer } from './grpc-server.js';
import { HttpServer, sendError, sendJson, sendMetrics } from '../core/http-server.js';
import { DecodePool } from './decode-pool.js';
import { DECODE_THREAD_YOUNG_BYTES, decodeThreadOldBytes } from './memory-bound.js';
import { decodeLimits, Ingest, type BodyFormat, type IngestResult } from './ingest.js';
import { unsnappy } from './snappy.js';

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';

function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

function bodyFormat(req: IncomingMessage, path: string): BodyFormat {
  const type = mediaType(req);
  if (type === PROTOBUF) return 'protobuf';
  if (type === JSON_TYPE) return 'json';
  throw new LakehouseError('UNSUPPORTED_MEDIA_TYPE', `Content-Type '${type || '(none)'}' is not supported on ${path}; use ${PROTOBUF} or ${JSON_TYPE}`);
}

/** The outcome label of a refused request (the registry's, src/core/errors.ts). */
function outcomeOf(e: unknown): string {
  return asLakehouseError(e).outcome;
}

/** The Export*ServiceResponse of a result, with partial success when items were rejected. */
function exportResponse(spec: SignalSpec, result: IngestResult): Record<string, unknown> {
  if (result.rejected === 0) return {};
  return { partialSuccess: { [spec.partialField]: result.rejected, errorMessage: result.errorMessage ?? '' } };
}

/**
 * Kafka producers the ingester writes through, each one write at a time (see RecordProducer):
 * requests to different brokers, or queued behind a slow one, are not held behind one write.
 * One of them is kept for a tenant that holds none, so a busy tenant writes through four.
 */
const INGESTER_PRODUCERS = 5;

/**
 * The ingester: OTLP/HTTP (protobuf and JSON) and OTLP/gRPC for logs, traces and metrics, and
 * Prometheus remote_write; each request is authenticated to a tenant, admitted under the
 * in-flight limits, decoded and validated, and answered only after the broker acknowledged
 * every Kafka record of it (acks=all).
 */
export class Ingester implements Component {
  readonly name = 'ingester';
  readonly http: HttpServer;
  readonly grpc: GrpcServer;
  readonly metrics: Metrics;
  private readonly producer: RecordProducer;
  private readonly tenants: TenantResolver;
  private readonly admission: Admission;
  private readonly pause = new RefusalPause();
  private readonly ingest: Ingest;
  private readonly decoders: DecodePool;
  private readonly probe: BrokerProbe;
  private readonly group: ComponentGroup;
  private readonly log: Logger;
  private draining = false;

  constructor(
    private readonly cfg: Config,
    logger: Logger,
    metrics: Metrics = createMetrics(),
  ) {
    this.log = logger.child({ component: 'ingester' });
    this.metrics = metrics;
    this.tenants = tenantResolverFromConfig(cfg, this.log);
    const kafka = createKafka(cfg.REDPANDA_BROKERS, `${cfg.KAFKA_CLIENT_ID}-ingester`, logger);
    this.producer = new RecordProducer(kafka, cfg.PRODUCE_TIMEOUT_MS, logger, INGESTER_PRODUCERS, cfg.KAFKA_COMPRESSION);
    this.probe = new BrokerProbe(kafka);
    const limits = { maxRequests: cfg.MAX_INFLIGHT_REQUESTS, maxBytes: cfg.MAX_INFLIGHT_BYTES, tenant: tenantLimitsFromConfig(cfg) };
    this.admission = new Admission(limits, (requests, bytes, tenant, tenantBytes) => {
      metrics.ingesterInflightRequests.set(requests);
      metrics.ingesterInflightBytes.set(bytes);
      metrics.ingesterTenantInflightBytes.set({ tenant }, tenantBytes);
    });
    const topics = { logs: cfg.REDPANDA_TOPIC, traces: cfg.REDPANDA_TRACES_TOPIC, metrics: cfg.REDPANDA_METRICS_TOPIC };
    const MiB = 1024 * 1024;
    this.decoders = new DecodePool(
      cfg.INGESTER_DECODE_THREADS,
      decodeLimits(cfg),
      { maxOldGenerationSizeMb: Math.ceil(decodeThreadOldBytes(cfg) / MiB), maxYoungGenerationSizeMb: DECODE_THREAD_YOUNG_BYTES / MiB },
      logger,
    );
    this.ingest = new Ingest(cfg, this.producer, metrics, topics, this.decoders);

    this.http = new HttpServer('ingester.http', cfg.INGESTER_HOST, cfg.INGESTER_HTTP_PORT, logger);
    for (const spec of Object.values(SIGNALS)) this.http.route('POST', spec.path, (req, res) => this.handleOtlpHttp(spec, req, res));
    this.http
      .route('POST', '/api/v1/write', (req, res) => this.handleRemoteWrite(req, res))
      .route('GET', '/healthz', async (_req, res) => sendJson(res, 200, { status: 'ok' }))
      .route('GET', '/readyz', (_req, res) => this.handleReady(res))
      .route('GET', '/metrics', (_req, res) => sendMetrics(res, metrics.registry));
    this.grpc = new GrpcServer(
      cfg.INGESTER_HOST,
      cfg.INGESTER_GRPC_PORT,
      { maxMessageBytes: cfg.GRPC_MAX_MESSAGE_BYTES, maxConcurrentStreams: cfg.GRPC_MAX_CONCURRENT_STREAMS },
      (auth) => this.admitGrpc(auth),
      (spec, body, lease) => this.handleOtlpGrpc(spec, body, lease),
      (e) => this.pause.before(e),
      logger,
    );

    // Downstream first: topics and producer before the servers take requests; stopped in
    // reverse, so the servers finish their requests before the producer disconnects.
    this.group = new ComponentGroup('ingester', [
      {
        name: 'kafka.topics',
        start: () =>
          ensureTopics(kafka, [...topicWithDlq(topics.logs), ...topicWithDlq(topics.traces), ...topicWithDlq(topics.metrics)], {
            partitions: cfg.TOPIC_PARTITIONS,
            replicationFactor: cfg.TOPIC_REPLICATION_FACTOR,
          }, logger),
        stop: () => this.probe.close(),
      },
      this.producer,
      this.decoders,
      this.grpc,
      this.http,
    ]);
  }

  start(): Promise<void> {
    return this.group.start();
  }

  /** Stops taking requests, lets in-flight ones finish, then disconnects the producer. */
  stop(): Promise<void> {
    this.draining = true;
    return this.group.stop();
  }


  private async handleReady(res: ServerResponse): Promise<void> {
    if (this.draining) return sendJson(res, 503, { status: 'not ready', reason: 'shutting down' }, { 'retry-after': '5' });
    const broker = await this.probe.check();
    if (!broker.ok) return sendJson(res, 503, { status: 'not ready', reason: broker.reason }, { 'retry-after': '5' });
    sendJson(res, 200, { status: 'ready' });
  }

  private count(signal: string, transport: string, tenant: string, outcome: string): void {
    this.metrics.ingesterRequests.inc({ signal, transport, tenant, outcome });
  }

  /**
   * A request's body, read and inflated against its lease and its tenant's rate: the token and
   * the headers are judged before a byte of it is read, and every chunk is charged before it is
   * kept (see Admission).
   */
  private async httpBody(req: IncomingMessage, lease: Lease): Promise<Buffer> {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared)) lease.rate('bytes', declared, true);
    const raw = await readBody(req, this.cfg.MAX_BODY_BYTES, (n) => lease.grow(n, 'this request body'));
    return raw;
  }

  private async handleOtlpHttp(spec: SignalSpec, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    let tenant = 'unknown';
    let format: BodyFormat | undefined;
    let lease: Lease | undefined;
    try {
      tenant = authenticate(this.tenants, req.headers.authorization);
      format = bodyFormat(req, spec.path);
      lease = this.admission.enter(tenant);
      const raw = await this.httpBody(req, lease);
      this.metrics.ingesterBodyBytes.inc({ signal: spec.signal }, raw.length);
      const admitted = lease;
      const body = await decodeContentEncoding(raw, req.headers['content-encoding'], this.cfg.MAX_BODY_BYTES, (n) => admitted.grow(n, 'this request, inflated,'));
      lease.rate('bytes', body.length);
      const result = await this.ingest.otlp(spec, format, body, lease, receivedAt);
      const response = exportResponse(spec, result);
      if (format === 'json') {
        sendJson(res, 200, spec.response.toObject(spec.response.fromObject(response), { longs: String }));
      } else {
        const bytes = spec.response.encode(spec.response.fromObject(response)).finish();
        res.writeHead(200, { 'content-type': PROTOBUF, 'content-length': bytes.length });
        res.end(bytes);
      }
      this.count(spec.signal, 'http', tenant, result.rejected > 0 ? 'partial' : 'accepted');
    } catch (e) {
      refuseUnread(req, res);
      this.count(spec.signal, 'http', tenant, outcomeOf(e));
      lease?.end();
      await this.pause.before(e);
      this.sendOtlpError(res, e, format);
    } finally {
      lease?.end();
    }
  }

  /** OTLP/HTTP error answer: google.rpc.Status in the request's format (JSON when unknown). */
  private sendOtlpError(res: ServerResponse, e: unknown, format: BodyFormat | undefined): void {
    sendError(res, e, this.log, format === 'protobuf' ? (code, message) => RpcStatus.encode({ code, message }).finish() : undefined);
  }

  /**
   * A gRPC call, from its headers alone, before its message is read: the token decides the
   * tenant, and the largest message grpc-js may hold for it (compressed and inflated) is
   * reserved from the tenant's and the ingester's in-flight bytes.
   */
  private admitGrpc(authorization: string | undefined): Lease {
    let tenant = 'unknown';
    try {
      tenant = authenticate(this.tenants, authorization);
      const lease = this.admission.enter(tenant);
      try {
        lease.grow(2 * this.cfg.GRPC_MAX_MESSAGE_BYTES, 'a gRPC call (its message, compressed and inflated, at GRPC_MAX_MESSAGE_BYTES)');
      } catch (e) {
        lease.end();
        throw e;
      }
      return lease;
    } catch (e) {
      this.count('unknown', 'grpc', tenant, outcomeOf(e));
      throw e;
    }
  }

  private async handleOtlpGrpc(spec: SignalSpec, body: Buffer, lease: Lease): Promise<{ result: IngestResult; response: Buffer }> {
    const receivedAt = Date.now();
    const tenant = lease.tenant;
    try {
      // grpc-js has let go of the compressed message: what remains is the message itself
      lease.shrinkTo(body.length);
      lease.rate('bytes', body.length);
      this.metrics.ingesterBodyBytes.inc({ signal: spec.signal }, body.length);
      const result = await this.ingest.otlp(spec, 'protobuf', body, lease, receivedAt);
      const response = Buffer.from(spec.response.encode(spec.response.fromObject(exportResponse(spec, result))).finish());
      this.count(spec.signal, 'grpc', tenant, result.rejected > 0 ? 'partial' : 'accepted');
      return { result, response };
    } catch (e) {
      this.count(spec.signal, 'grpc', tenant, outcomeOf(e));
      throw e;
    } finally {
      lease.end();
    }
  }

  /** Prometheus remote_write 1.0: snappy-compressed WriteRequest; 204 once acknowledged. */
  private async handleRemoteWrite(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    let tenant = 'unknown';
    let lease: Lease | undefined;
    try {
      tenant = authenticate(this.tenants, req.headers.authorization);
      const type = mediaType(req);
      if (type !== PROTOBUF) throw new LakehouseError('UNSUPPORTED_MEDIA_TYPE', `Content-Type '${type || '(none)'}' is not supported on /api/v1/write; use ${PROTOBUF}`);
      const encoding = (req.headers['content-encoding'] ?? 'snappy').toLowerCase();
      if (encoding !== 'snappy') throw new LakehouseError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding '${encoding}' is not supported on /api/v1/write; remote_write 1.0 uses snappy`);
      const admitted = (lease = this.admission.enter(tenant));
      const raw = await this.httpBody(req, admitted);
      this.metrics.ingesterBodyBytes.inc({ signal: 'prom-rw' }, raw.length);
      // the rate is taken from what the block declares, before it is inflated
      const body = unsnappy(raw, this.cfg.MAX_BODY_BYTES, (n) => {
        admitted.rate('bytes', n);
        admitted.grow(n, 'this request, inflated,');
      });
      await this.ingest.promRemoteWrite(body, admitted, receivedAt);
      res.writeHead(204);
      res.end();
      this.count('prom-rw', 'http', tenant, 'accepted');
    } catch (e) {
      refuseUnread(req, res);
      this.count('prom-rw', 'http', tenant, outcomeOf(e));
      lease?.end();
      await this.pause.before(e);
      this.sendOtlpError(res, e, undefined);
    } finally {
      lease?.end();
    }
  }
}

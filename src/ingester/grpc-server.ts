import * as grpc from '@grpc/grpc-js';
import { asLakehouseError } from '../core/errors.js';
import type { Component } from '../core/lifecycle.js';
import { SIGNALS, type SignalSpec } from '../otlp/signals.js';
import type { Logger } from '../telemetry/logger.js';
import type { Lease } from './admission.js';
import type { IngestResult } from './ingest.js';

/** Admits a call from its `authorization` header alone (throws to refuse it); its lease is ended by the server. */
export type GrpcAdmit = (authorization: string | undefined) => Lease;

/** Handles one gRPC Export call's message: returns the response message bytes. */
export type GrpcExport = (spec: SignalSpec, body: Buffer, lease: Lease) => Promise<{ result: IngestResult; response: Buffer }>;

/** What the admitting interceptor hands the method handler in place of the bare message. */
interface AdmittedMessage {
  body: Buffer;
  lease: Lease;
}

export interface GrpcLimits {
  /** largest message, compressed and inflated (grpc-js enforces both) */
  maxMessageBytes: number;
  /** calls open at once on one connection */
  maxConcurrentStreams: number;
}

const passthrough = (b: Buffer) => b;

/** gRPC status for an error: the registry's (src/core/errors.ts). */
export function grpcStatus(e: unknown): grpc.status {
  return grpc.status[asLakehouseError(e).grpc];
}

/**
 * OTLP/gRPC: the three Export services. Messages arrive as raw bytes (gzip already undone by
 * grpc-js) and go through the same ingest path as OTLP/HTTP protobuf.
 *
 * A call is admitted by an interceptor from its headers, before grpc-js reads its message: a
 * call without a valid token, or over its tenant's or the ingester's limits, is answered at once
 * and its message is never taken off the connection (grpc-js reads it only once the handler
 * asks for it).
 */
export class GrpcServer implements Component {
  readonly name = 'ingester.grpc';
  private server: grpc.Server | undefined;
  private port = 0;
  private readonly log: Logger;

  constructor(
    private readonly host: string,
    private readonly requestedPort: number,
    private readonly limits: GrpcLimits,
    private readonly admit: GrpcAdmit,
    private readonly handle: GrpcExport,
    /** resolves when a refusal may be answered (see RefusalPause) */
    private readonly pause: (e: unknown) => Promise<void>,
    logger: Logger,
  ) {
    this.log = logger.child({ component: this.name });
  }

  get boundPort(): number {
    return this.port;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = new grpc.Server({
      'grpc.max_receive_message_length': this.limits.maxMessageBytes,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
      'grpc.max_concurrent_streams': this.limits.maxConcurrentStreams,
      interceptors: [(_method, call) => this.admitting(call)],
    });
    for (const spec of Object.values(SIGNALS)) {
      const [, service, method] = /^\/(.+)\/(\w+)$/.exec(spec.grpcMethod)!;
      const definition: grpc.ServiceDefinition = {
        [method!]: {
          path: spec.grpcMethod,
          requestStream: false,
          responseStream: false,
          requestSerialize: passthrough,
          requestDeserialize: passthrough,
          responseSerialize: passthrough,
          responseDeserialize: passthrough,
        },
      };
      server.addService(definition, {
        [method!]: (call: grpc.ServerUnaryCall<AdmittedMessage, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const { body, lease } = call.request;
          this.handle(spec, body, lease)
            .then(({ response }) => callback(null, response))
            .catch(async (e) => {
              const err = asLakehouseError(e);
              if (err.code === 'INTERNAL') this.log.error({ err: e, service }, 'export failed');
              await this.pause(err);
              callback({ code: grpcStatus(err), details: err.message });
            });
        },
      });
    }
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.host}:${this.requestedPort}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.server = server;
    this.log.info({ host: this.host, port: this.port }, 'listening');
  }

  /** The interceptor that admits a call from its metadata (see the class comment). */
  private admitting(call: grpc.ServerInterceptingCallInterface): grpc.ServerInterceptingCall {
    let lease: Lease | undefined;
    // once the handler has the message, its lease is the handler's to end (after the decode and
    // the write, however the call ends): a client that cancels does not free what is still held
    let handed = false;
    let received = 0;
    const end = () => {
      if (!handed) lease?.end();
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            const auth = metadata.get('authorization')[0];
            try {
              lease = this.admit(typeof auth === 'string' ? auth : auth?.toString());
            } catch (e) {
              const err = asLakehouseError(e);
              if (err.code === 'INTERNAL') this.log.error({ err: e }, 'admitting a call failed');
              void this.pause(err).then(() => call.sendStatus({ code: grpcStatus(err), details: err.message }));
              return;
            }
            nextMetadata(metadata);
          },
          onReceiveMessage: (message: Buffer, nextMessage) => {
            received++;
            nextMessage({ body: message, lease: lease! } satisfies AdmittedMessage);
          },
          // grpc-js calls the handler on the half-close that follows the one message
          onReceiveHalfClose: (next) => {
            handed = received === 1;
            next();
          },
          onCancel: end,
        }),
      sendStatus: (status, nextStatus) => {
        end();
        nextStatus(status);
      },
    });
  }

  /** Stops taking calls and lets the running ones finish. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    this.log.info('stopped');
  }
}

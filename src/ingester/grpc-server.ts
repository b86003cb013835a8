import * as grpc from '@grpc/grpc-js';
import { asLakehouseError } from '../core/errors.js';
import type { Component } from '../core/lifecycle.js';
import { SIGNALS, type SignalSpec } from '../otlp/signals.js';
import type { Logger } from '../telemetry/logger.js';
import type { IngestResult } from './ingest.js';

/** Handles one decoded gRPC Export call: returns the response message bytes. */
export type GrpcExport = (spec: SignalSpec, body: Buffer, authorization: string | undefined) => Promise<{ result: IngestResult; response: Buffer }>;

const passthrough = (b: Buffer) => b;

/** gRPC status for an error: the registry's (src/core/errors.ts). */
export function grpcStatus(e: unknown): grpc.status {
  return grpc.status[asLakehouseError(e).grpc];
}

/**
 * OTLP/gRPC: the three Export services. Messages arrive as raw bytes (gzip already undone by
 * grpc-js) and go through the same ingest path as OTLP/HTTP protobuf.
 */
export class GrpcServer implements Component {
  readonly name = 'ingester.grpc';
  private server: grpc.Server | undefined;
  private port = 0;
  private readonly log: Logger;

  constructor(
    private readonly host: string,
    private readonly requestedPort: number,
    private readonly maxMessageBytes: number,
    private readonly handle: GrpcExport,
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
      'grpc.max_receive_message_length': this.maxMessageBytes,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
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
        [method!]: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const auth = call.metadata.get('authorization')[0];
          this.handle(spec, call.request, typeof auth === 'string' ? auth : auth?.toString())
            .then(({ response }) => callback(null, response))
            .catch((e) => {
              const err = asLakehouseError(e);
              if (err.code === 'INTERNAL') this.log.error({ err: e, service }, 'export failed');
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

  /** Stops taking calls and lets the running ones finish. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    this.log.info('stopped');
  }
}

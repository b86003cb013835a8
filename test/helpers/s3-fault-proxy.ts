import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A pass-through HTTP proxy in front of MinIO that can be told to fail: while `failing`, each
 * request is, by the seeded `random`, answered 503 SlowDown (as S3 answers when it sheds load),
 * cut by resetting its connection, or passed on. Requests go on with their Host header as the
 * client sent it, so a SigV4 signature made for the proxy's address still verifies at MinIO.
 */
export class S3FaultProxy {
  private server: Server | undefined;
  failing = false;
  /** what a failing proxy did: answered 503, reset, passed */
  readonly counts = { slowDown: 0, reset: 0, passed: 0 };

  constructor(
    private readonly target: string,
    private readonly random: () => number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    const target = new URL(this.target);
    this.server = createServer((req, res) => {
      if (this.failing) {
        const roll = this.random();
        if (roll < 0.3) {
          this.counts.slowDown++;
          req.resume();
          res.writeHead(503, { 'content-type': 'application/xml', 'retry-after': '1' });
          res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
          return;
        }
        if (roll < 0.4) {
          this.counts.reset++;
          req.socket.resetAndDestroy();
          return;
        }
        this.counts.passed++;
      }
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => req.socket.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/**
 * A part of a process with a lifecycle. start() and stop() are idempotent; stop() is safe
 * without start() and flushes whatever the component holds.
 */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts components in order (downstream first) and stops them in reverse. */
export class ComponentGroup implements Component {
  private started: Component[] = [];
  constructor(
    readonly name: string,
    private readonly components: Component[],
  ) {}

  async start(): Promise<void> {
    for (const c of this.components) {
      if (this.started.includes(c)) continue;
      await c.start();
      this.started.push(c);
    }
  }

  async stop(): Promise<void> {
    const errors: unknown[] = [];
    while (this.started.length > 0) {
      const c = this.started.pop()!;
      try {
        await c.stop();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `${this.name}: ${errors.length} component(s) failed to stop`);
  }
}

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openLakeSession, ensureLakeTables, qualifiedNamespace } from '../../src/lake/session.js';
import { stackEnv } from '../helpers/stack.js';
import { topicFixture } from '../helpers/topic-fixture.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Starts the appender (lake only) on the fixture's topic and namespace; how it ended within `timeoutMs`. */
function appender(env: Record<string, string>, timeoutMs: number) {
  const r = spawnSync(process.execPath, ['dist/cli/appender.js'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...stackEnv(), PIPELINES: 'lake', APPENDER_HTTP_PORT: '0', LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { status: r.status, stderr: r.stderr, timedOut: (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT' };
}

/**
 * Two operator moves that would double or skip records in silence: a renamed consumer group (the
 * lake's offsets are per group) and a topic deleted and created again (its offsets start below
 * the lake's). The appender refuses to start, saying what happened and what to do.
 */
describe('the appender refuses a renamed group and a recreated topic', () => {
  const { f } = topicFixture();

  it('names the group the lake knows, the topic that went back, and starts a new group only when told to', async () => {
    const cfg = f.cfg;
    const session = await openLakeSession(cfg);
    try {
      await ensureLakeTables(session.connection, cfg);
      // what an appender of group `old` left: partition 0 committed up to offset 5 of this topic,
      // which (empty, as if created again) now ends at 0
      await session.connection.run(
        `INSERT INTO ${qualifiedNamespace(cfg)}.appender_offsets (consumer_group, topic, "partition", next_offset, committed_at, batch_id) VALUES ('${cfg.APPENDER_GROUP_ID}-old', '${cfg.REDPANDA_TOPIC}', 0, 5, now(), 'b1')`,
      );
    } finally {
      session.close();
    }
    const common = { REDPANDA_TOPIC: cfg.REDPANDA_TOPIC, ICEBERG_NAMESPACE: cfg.ICEBERG_NAMESPACE, TOPIC_PARTITIONS: '1' };

    const renamed = appender({ ...common, APPENDER_GROUP_ID: cfg.APPENDER_GROUP_ID }, 60_000);
    expect(renamed.status, renamed.stderr).toBe(2);
    expect(renamed.stderr).toContain(`for consumer group(s) ${cfg.APPENDER_GROUP_ID}-old and none for APPENDER_GROUP_ID=${cfg.APPENDER_GROUP_ID}`);
    expect(renamed.stderr).toContain(`set APPENDER_GROUP_ID back to ${cfg.APPENDER_GROUP_ID}-old`);

    const recreated = appender({ ...common, APPENDER_GROUP_ID: `${cfg.APPENDER_GROUP_ID}-old` }, 60_000);
    expect(recreated.status, recreated.stderr).toBe(2);
    expect(recreated.stderr).toContain('partition 0: the lake is at 5, the topic ends at 0');

    // told to: it starts and runs until the timeout's SIGTERM, on which it stops cleanly
    const allowed = appender({ ...common, APPENDER_GROUP_ID: cfg.APPENDER_GROUP_ID, APPENDER_ALLOW_NEW_GROUP: 'true' }, 15_000);
    expect(allowed.timedOut, allowed.stderr).toBe(true);
    expect(allowed.status, allowed.stderr).toBe(0);
    expect(allowed.stderr).not.toContain('invalid configuration');
  });
});

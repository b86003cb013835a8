import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { TENANT_LIMIT_KEYS } from '../../../src/config/tenants.js';
import { REFUSAL_PAUSE_MS } from '../../../src/core/refusal-pause.js';
import { DECODE_THREAD_REPLACE_BYTES, DECODE_THREAD_YOUNG_BYTES, INGESTER_BASE_BYTES, INGESTER_MAIN_BYTES_PER_CHARGED_BYTE, ingesterMemoryBoundBytes } from '../../../src/ingester/memory-bound.js';
import { APPENDER_BASE_BYTES, appenderMemoryBoundBytes, DUCKDB_BYTES_PER_LIMIT_BYTE, LAKE_BATCH_BYTES, SINK_BYTES_PER_DECODED_BYTE } from '../../../src/appender/memory-bound.js';
import { QUERY_PROCESS_BASE_BYTES, QUERY_PROCESS_REGROWTH, QUERY_SERVICE_BASE_BYTES, queryProcessLimitBytes, queryServiceMemoryBoundBytes } from '../../../src/query/query-processes.js';

const MiB = 1024 * 1024;
const doc = readFileSync(new URL('../../../docs/limits.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');

describe('docs/limits.md holds the figures of the code', () => {
  it('states each bound with the constants it is computed from, and its value at the defaults', () => {
    const cfg = loadConfig({ AUTH_MODE: 'none', DEFAULT_TENANT: 'a' });
    expect(doc).toContain(
      `| ingester | ${INGESTER_BASE_BYTES / MiB} MiB + ${INGESTER_MAIN_BYTES_PER_CHARGED_BYTE} × \`MAX_INFLIGHT_BYTES\` + \`INGESTER_DECODE_THREADS\` × (\`MAX_INFLIGHT_BYTES\` + ${DECODE_THREAD_YOUNG_BYTES / MiB} MiB) | ${(ingesterMemoryBoundBytes(cfg) / MiB).toLocaleString('en-US')} MiB |`,
    );
    expect(doc).toContain(
      `| query service | ${QUERY_SERVICE_BASE_BYTES / MiB} MiB + \`QUERY_MAX_INFLIGHT\` × (${QUERY_PROCESS_BASE_BYTES / MiB} MiB + 2 × \`QUERY_MEMORY_LIMIT_MB\`) + ${QUERY_PROCESS_BASE_BYTES / MiB} MiB | ${(queryServiceMemoryBoundBytes(cfg) / MiB).toLocaleString('en-US')} MiB |`,
    );
    const all = loadConfig({ AUTH_MODE: 'none', DEFAULT_TENANT: 'a', PIPELINES: 'lake,loki,opensearch,tempo,prometheus' });
    expect(doc).toContain(
      `| appender | ${APPENDER_BASE_BYTES / MiB} MiB + (with \`lake\` in \`PIPELINES\`) ${DUCKDB_BYTES_PER_LIMIT_BYTE} × DuckDB's memory limit + ${LAKE_BATCH_BYTES / MiB} MiB + for each hot-path sink in \`PIPELINES\` (${SINK_BYTES_PER_DECODED_BYTE} × \`SINK_MAX_DECODED_BYTES\` + \`TOPIC_PARTITIONS\` × \`SINK_MAX_BATCH_BYTES\`) | ${(appenderMemoryBoundBytes(cfg) / MiB).toLocaleString('en-US')} MiB (\`PIPELINES=lake\`); ${(appenderMemoryBoundBytes(all) / MiB).toLocaleString('en-US')} MiB with all five |`,
    );
    expect(doc).toContain(`when it passes ${QUERY_PROCESS_BASE_BYTES / MiB} MiB + 2 × \`QUERY_MEMORY_LIMIT_MB\``);
    expect(doc).toContain(`ended past ${(queryProcessLimitBytes(cfg) / MiB).toLocaleString('en-US')} MB (the default \`QUERY_MEMORY_LIMIT_MB\` of ${cfg.QUERY_MEMORY_LIMIT_MB},`);
    expect(doc).toContain(`more than ${QUERY_PROCESS_REGROWTH} × its memory when it was warm`);
    expect(doc).toContain(`heap has grown past ${DECODE_THREAD_REPLACE_BYTES / MiB} MiB is replaced`);
    expect(doc).toContain(`${REFUSAL_PAUSE_MS.UNAUTHORIZED} ms for 401 and 413`);
    expect(REFUSAL_PAUSE_MS.PAYLOAD_TOO_LARGE).toBe(REFUSAL_PAUSE_MS.UNAUTHORIZED);
    expect(doc).toContain(`(a second at most;`);
    expect(REFUSAL_PAUSE_MS.TENANT_LIMITED).toBe(1000);
  });

  it('lists every per-tenant limit key with its setting', () => {
    for (const [key, setting] of Object.entries(TENANT_LIMIT_KEYS)) expect(doc).toContain(`| \`${key}\` | \`${setting}\` |`);
  });
});

import { z } from 'zod';
import { RENAMED } from './load.js';
import { configSections, OWN_PREFIXES, type SettingDoc } from './schema.js';

/**
 * Renders docs/configuration.md and .env.example from the config schema, so that names,
 * defaults and descriptions have one source. `npm run docs:config` writes both files.
 */

interface Row {
  name: string;
  /** The default as it would be written in the environment; undefined when unset has a meaning of its own. */
  value: string | undefined;
  unset: string | undefined;
  description: string;
}

function inputDefault(schema: z.ZodType): unknown {
  const def = (schema as unknown as { _zod: { def: { type: string; defaultValue?: unknown; in?: z.ZodType } } })._zod.def;
  if (def.type === 'default' || def.type === 'prefault') return def.defaultValue;
  if (def.type === 'pipe' && def.in) return inputDefault(def.in);
  return undefined;
}

function rows(settings: Record<string, z.ZodType>): Row[] {
  return Object.entries(settings).map(([name, schema]) => {
    const meta = z.globalRegistry.get(schema) as SettingDoc | undefined;
    if (!meta?.description) throw new Error(`${name} has no description`);
    const d = inputDefault(schema);
    const value = d === undefined ? undefined : Array.isArray(d) ? d.join(',') : String(d);
    if (value === undefined && meta.unset === undefined) throw new Error(`${name} has neither a default nor a meaning when unset`);
    return { name, value, unset: meta.unset, description: meta.description };
  });
}

const STACK_VARIABLES: [string, string, string][] = [
  ['`OTEL_LAKEHOUSE_CACHE`', '`~/.cache/otel-lakehouse`', 'where the local stack is installed and keeps its data and logs'],
  ['`STACK_KAFKA_PORT`, `STACK_KAFKA_CONTROLLER_PORT`', '`9092`, `9093`', 'Kafka listener and KRaft controller ports'],
  ['`STACK_MINIO_PORT`, `STACK_MINIO_CONSOLE_PORT`', '`9000`, `9001`', 'MinIO API and console ports'],
  ['`STACK_ICEBERG_PORT`', '`8181`', 'REST catalog port'],
  ['`STACK_PROMETHEUS_PORT`', '`9090`', 'Prometheus port'],
  ['`STACK_LOKI_PORT`, `STACK_LOKI_GRPC_PORT`', '`3100`, `9095`', 'Loki ports'],
  ['`STACK_OPENSEARCH_PORT`, `STACK_OPENSEARCH_TRANSPORT_PORT`', '`9200`, `9300`', 'OpenSearch ports'],
  ['`OPENSEARCH_JAVA_HOME`', '(first JDK ≥ 21 found)', 'the JDK that runs OpenSearch'],
  ['`STACK_S3_ACCESS_KEY`, `STACK_S3_SECRET_KEY`, `STACK_S3_BUCKET`', '`lakehouse`, `lakehouse-secret`, `warehouse`', 'MinIO credentials and bucket'],
  ['`STACK_KEEP`', '`0`', '`1`: `npm test` leaves a stack it started running'],
  ['`TEST_LOG_LEVEL`', '`warn`', 'log level of the services inside integration tests'],
];

export function renderConfigurationDoc(): string {
  const out: string[] = [
    '# Configuration',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; edit the schema, not this file. -->',
    '',
    'Every process (ingester, appender, maintainer, query CLI) reads its settings from the environment.',
    'A bad value stops start-up with exit code 2 and a message naming the variable. So does an unknown',
    `variable that carries one of this service’s own prefixes (${OWN_PREFIXES.map((p) => `\`${p}\``).join(', ')})`,
    'or is one or two letters away from a known name: the message names the closest setting.',
    'Kubernetes service links (`<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT_…`) are ignored.',
    '`.env.example` lists every setting with its default; pass a copy with `docker run --env-file`,',
    '`env_file:` in compose, or `node --env-file=.env dist/cli/appender.js`.',
    '',
    'Durations take `ms`, `s`, `m`, `h` or `d` (`90s`, `12h`, `7d`; a bare number is seconds).',
    '',
    `Former names still read: ${Object.entries(RENAMED).map(([o, n]) => `\`${o}\` (now \`${n}\`)`).join(', ')}.`,
    '',
  ];
  for (const section of configSections) {
    out.push(`## ${section.title}`, '', '| variable | default | meaning |', '|---|---|---|');
    for (const r of rows(section.settings)) {
      const def = r.unset ?? `\`${r.value}\``;
      out.push(`| \`${r.name}\` | ${def} | ${r.description} |`);
    }
    out.push('');
  }
  out.push('## The local stack and the test scripts', '', 'Read by `stack/stack.sh` and `scripts/test.sh`, not by the services.', '');
  out.push('| variable | default | meaning |', '|---|---|---|');
  for (const [n, d, m] of STACK_VARIABLES) out.push(`| ${n} | ${d} | ${m} |`);
  out.push('');
  return out.join('\n');
}

const plain = (s: string) => s.replace(/`/g, '');

export function renderEnvExample(): string {
  const out: string[] = [
    '# Every setting of otel-lakehouse with its default (generated from src/config/schema.ts by',
    '# `npm run docs:config`). Unset means the default. Use a copy with `docker run --env-file`,',
    '# `env_file:` in compose, or `node --env-file=.env dist/cli/<process>.js`.',
  ];
  for (const section of configSections) {
    out.push('', `# --- ${section.title}`);
    for (const r of rows(section.settings)) {
      out.push(`# ${plain(r.description)}`);
      out.push(r.value === undefined ? `# ${r.name}=   ${plain(r.unset ?? '')}` : `${r.name}=${r.value}`);
    }
  }
  out.push('');
  return out.join('\n');
}

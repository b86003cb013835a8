import { configSchema, OWN_PREFIXES, type Config } from './schema.js';

/** Raised when the environment does not satisfy the config schema; names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const KNOWN = Object.keys(configSchema.shape);

/** Former names still read, each for the setting that replaced it. */
export const RENAMED: Readonly<Record<string, keyof typeof configSchema.shape>> = { SINKS: 'PIPELINES' };
const known = new Set(KNOWN);

/** Optimal string alignment distance (Levenshtein with adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

function closestKnown(name: string): { name: string; distance: number } {
  let best = { name: KNOWN[0]!, distance: Number.POSITIVE_INFINITY };
  for (const k of KNOWN) {
    const distance = editDistance(name, k);
    if (distance < best.distance) best = { name: k, distance };
  }
  return best;
}

/**
 * Kubernetes gives every pod `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT_<n>_TCP` and the like for
 * each service in its namespace; a service named `appender` or `redpanda` must not stop start-up.
 */
const SERVICE_LINK = /_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/;

/**
 * A variable we do not know is a mistake when it carries one of our own prefixes, or when it
 * is one or two edits away from a setting (a typo such as BUFFER_SIZE_MBS would otherwise be
 * ignored silently and the default used).
 */
export function unknownSettings(env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(env)) {
    if (known.has(name) || name in RENAMED || SERVICE_LINK.test(name)) continue;
    const closest = closestKnown(name);
    const ours = OWN_PREFIXES.some((p) => name.startsWith(p));
    const typo = name.length >= 6 && closest.distance <= 2;
    if (ours || typo) problems.push(`${name}: not a setting of this service; did you mean ${closest.name}?`);
  }
  return problems;
}

/** Parses this service's variables from `env`, once, frozen; refuses unknown ones that look like ours. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (known.has(k) && v !== undefined && v !== '') input[k] = v;
  }
  const problems = unknownSettings(env);
  for (const [old, now] of Object.entries(RENAMED)) {
    const v = env[old];
    if (v === undefined || v === '') continue;
    if (input[now] !== undefined) problems.push(`${old}: the former name of ${now}; set ${now} only`);
    else input[now] = v;
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const cfg = parsed.data;
  if (cfg.AUTH_MODE === 'none' && !cfg.DEFAULT_TENANT) {
    throw new ConfigError(['DEFAULT_TENANT: required when AUTH_MODE=none']);
  }
  // a gRPC call reserves twice its largest message from the in-flight bytes (grpc-server.ts)
  const inflight = Math.min(cfg.MAX_INFLIGHT_BYTES, cfg.TENANT_MAX_INFLIGHT_BYTES);
  if (2 * cfg.GRPC_MAX_MESSAGE_BYTES > inflight) {
    throw new ConfigError([`GRPC_MAX_MESSAGE_BYTES: ${cfg.GRPC_MAX_MESSAGE_BYTES} leaves no gRPC call room: twice it must fit in MAX_INFLIGHT_BYTES and TENANT_MAX_INFLIGHT_BYTES (${inflight})`]);
  }
  return Object.freeze(cfg);
}

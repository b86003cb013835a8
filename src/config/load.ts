import { configSchema, type Config } from './schema.js';

/** Raised when the environment does not satisfy the config schema; names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const known = new Set(Object.keys(configSchema.shape));

/** Parses the variables this service knows from `env` (others are ignored), once, frozen. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (known.has(k) && v !== undefined && v !== '') input[k] = v;
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  const cfg = parsed.data;
  if (cfg.AUTH_MODE === 'none' && !cfg.DEFAULT_TENANT) {
    throw new ConfigError(['DEFAULT_TENANT: required when AUTH_MODE=none']);
  }
  return Object.freeze(cfg);
}

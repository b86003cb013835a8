import { writeFileSync } from 'node:fs';
import { renderConfigurationDoc, renderEnvExample } from '../config/docs.js';

/** Writes docs/configuration.md and .env.example from the config schema (run from the repository root). */
writeFileSync('docs/configuration.md', renderConfigurationDoc());
writeFileSync('.env.example', renderEnvExample());
process.stdout.write('wrote docs/configuration.md and .env.example\n');

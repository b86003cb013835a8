import { defineConfig } from 'vitest/config';

// Suites that spawn the services build them from src/ first (test/helpers/build.ts).
const buildFirst = ['test/helpers/build.ts'];

export default defineConfig({
  test: {
    projects: [
      // the generated tests run thousands of cases: a loaded CI machine must not fail them on time
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node', testTimeout: 60_000 } },
      {
        test: {
          name: 'integration',
          globalSetup: buildFirst,
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // The integration tests share one local stack; run their files one at a time.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'containers',
          globalSetup: buildFirst,
          include: ['test/containers/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'chaos',
          globalSetup: buildFirst,
          include: ['test/chaos/**/*.test.ts'],
          environment: 'node',
          testTimeout: 900_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

import { defineConfig } from 'vitest/config';

const shared = { testTimeout: 30_000, hookTimeout: 30_000, pool: 'forks' as const };

export default defineConfig({
  test: {
    projects: [
      // Unit and integration tests (Node).
      { test: { name: 'unit', include: ['src/**/*.test.ts', 'packages/*/src/**/*.test.ts', 'test/*.test.ts'], ...shared } },
      // The end-to-end suite (test/runtimes/suite.ts) against the gateway on each runtime.
      { test: { name: 'node', include: ['test/runtimes/node.test.ts'], ...shared } },
      { test: { name: 'deno', include: ['test/runtimes/deno*.test.ts'], ...shared } },
      { test: { name: 'workerd', include: ['test/runtimes/workerd*.test.ts'], ...shared, hookTimeout: 90_000 } },
    ],
  },
});

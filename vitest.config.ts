import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.js'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores, shared: a few workers keep loopback servers from starving each other.
    maxWorkers: 2,
    // `pnpm test` runs every suite with --coverage: the gate is on core, where all behaviour
    // lives. The adapters and the tests reach core through its build (dist), whose source maps
    // lead back to src, so conformance and security suites count as well as core's unit tests.
    coverage: {
      provider: 'v8',
      include: ['packages/core/src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
      reportOnFailure: true,
      thresholds: { lines: 0 },
    },
  },
});

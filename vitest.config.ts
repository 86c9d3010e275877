import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.js'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores, shared: a few workers keep loopback servers from starving each other.
    maxWorkers: 2,
    // `pnpm test` runs every suite with --coverage; the gate is on core, where all behaviour
    // lives. Core's unit tests load src; the adapters, conformance and security suites load core's
    // build (dist), whose source maps lead back to src: dist is included so that those runs are
    // remapped onto src and count too (without it they would count for nothing).
    coverage: {
      provider: 'v8',
      include: ['packages/core/src/**/*.ts', 'packages/core/dist/**/*.js'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
      reportOnFailure: true,
      // Measured: 97.4% of lines with every suite (core's unit tests alone: 95.1%).
      thresholds: { lines: 95 },
    },
  },
});

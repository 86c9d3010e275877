import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.js'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores, shared: a few workers keep loopback servers from starving each other.
    maxWorkers: 2,
  },
});

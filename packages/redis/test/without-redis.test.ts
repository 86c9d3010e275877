// The package as an app sees it when `redis` is not installed (an optional peer): a copy of the
// built package in a temp folder whose node_modules holds core but no `redis`, run by plain Node.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let app: string;

beforeAll(() => {
  app = mkdtempSync(join(tmpdir(), 'tokengate-redis-'));
  const scope = join(app, 'node_modules', '@tokengate');
  mkdirSync(join(scope, 'redis'), { recursive: true });
  cpSync(join(pkg, 'package.json'), join(scope, 'redis', 'package.json'));
  cpSync(join(pkg, 'dist'), join(scope, 'redis', 'dist'), { recursive: true });
  symlinkSync(resolve(pkg, '../core'), join(scope, 'core'), 'dir');
});

afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

/** Runs `source` as an ES module in the app; returns what it printed, or the error message. */
function runInApp(source: string, extraEnv: Record<string, string> = {}): string {
  const file = join(app, `run-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, source);
  // pnpm sets NODE_PATH (its hoisted node_modules) for the processes it runs: a user's app has
  // no such path, and require.resolve would find redis through it.
  const { NODE_PATH: _hoisted, ...env } = process.env;
  const result = spawnSync(process.execPath, [file], {
    env: { ...env, ...extraEnv },
    cwd: app,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return `${result.stdout}${result.stderr}`.trim();
}

describe('@tokengate/redis without the redis package', () => {
  it('is not installed in the test app', () => {
    expect(
      runInApp(`import('redis').then(() => console.log('found'), (e) => console.log(e.code));`),
    ).toBe('ERR_MODULE_NOT_FOUND');
  });

  it('works with a client you pass in', () => {
    const out = runInApp(`
      import { createRedisReplayStore } from '@tokengate/redis';
      const seen = new Set();
      const client = { async set(key) { if (seen.has(key)) return null; seen.add(key); return 'OK'; } };
      const store = createRedisReplayStore({ client });
      console.log(await store.add('k', 60), await store.add('k', 60));
    `);
    expect(out).toBe('true false');
  });

  it('refuses a url at once with a TypeError saying what to install', () => {
    const out = runInApp(`
      import { createRedisReplayStore } from '@tokengate/redis';
      try { createRedisReplayStore({ url: 'redis://127.0.0.1:6379' }); console.log('created'); }
      catch (e) { console.log(e.name + ': ' + e.message); }
    `);
    expect(out).toBe(
      'TypeError: "url" needs the redis package (node-redis v5): npm install redis, or pass your own "client"',
    );
  });

  // NODE_PATH lets require.resolve find a package that import() cannot: the check at
  // construction passes, the load fails. The store then reports it and fails closed.
  it('reports a redis that resolves but cannot be imported: onError, add() rejects, close() resolves', () => {
    const hoisted = join(pkg, 'node_modules');
    const out = runInApp(
      `
      import { createRedisReplayStore } from '@tokengate/redis';
      const errors = [];
      const store = createRedisReplayStore({ url: 'redis://127.0.0.1:1', onError: (e) => errors.push(e.code) });
      const added = await store.add('k', 60).then(() => 'added', (e) => 'rejected ' + e.code);
      await store.close();
      console.log(added, errors.join(','));
    `,
      { NODE_PATH: hoisted },
    );
    expect(out).toBe('rejected ERR_MODULE_NOT_FOUND ERR_MODULE_NOT_FOUND');
  });
});

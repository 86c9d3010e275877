// createRedisJwksStore against a real redis-server (127.0.0.1, a free port): the stored key
// sets, the fetch lock (owner-only release, expiry) and the failures a fleet must survive
// (Redis down, silent, full). Bounded waits only; every server and client is closed.
import { describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { createRedisJwksStore } from '../src/index.js';
import type { RedisJwksStore, RedisJwksStoreOptions } from '../src/index.js';
import { startRedisServer, startSilentServer } from '@tokengate/test-fixtures/redis-server';
import { redisSuite } from './redis-suite.js';

const redis = redisSuite();
const opened = redis.opened;

let counter = 0;
/** A key no other test uses. */
const fresh = () => `jwks-${++counter}-${Date.now()}`;

function store(options: RedisJwksStoreOptions): RedisJwksStore {
  const s = createRedisJwksStore(options);
  opened.push(s);
  return s;
}

async function connectedClient(url = redis.server.url) {
  const client = createClient({ url });
  await client.connect();
  opened.push({ close: async () => client.isOpen && client.destroy() });
  return client;
}

const document = {
  url: 'https://issuer.example/jwks.json',
  body: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'abc', kid: 'k1' }] },
  digest: 'd1',
  etag: '"v1"',
  lastModified: 'Thu, 01 Jan 2026 00:00:00 GMT',
  fetchedAt: 1_767_225_600,
  freshUntil: 1_767_225_900,
};

/** Retries `check` every 20 ms until it holds, at most `ms`; returns its last answer. */
async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('createRedisJwksStore: the stored key sets', () => {
  it('keeps a set with its ETag, Last-Modified and freshness, for ttlSeconds', async () => {
    const s = store({ url: redis.server.url });
    const key = fresh();
    expect(await s.get(key)).toBeUndefined();
    await s.set(key, document, 120);
    expect(await s.get(key)).toEqual(document);
    const pttl = await redis.admin.pTTL(key);
    expect(pttl).toBeGreaterThan(110_000);
    expect(pttl).toBeLessThanOrEqual(120_000);
  });

  it('a second receiver (its own connection) reads what the first one stored', async () => {
    const a = store({ client: await connectedClient() });
    const b = store({ url: redis.server.url });
    const key = fresh();
    await a.set(key, document, 60);
    expect(await b.get(key)).toEqual(document);
  });

  it('prefixes every key; a value that is not JSON counts as absent', async () => {
    const s = store({ url: redis.server.url, prefix: 'staging:' });
    const key = fresh();
    await s.set(key, document, 60);
    expect(await redis.admin.exists(`staging:${key}`)).toBe(1);
    await redis.admin.set(`staging:${key}`, 'not json {');
    expect(await s.get(key)).toBeUndefined();
  });
});

describe('createRedisJwksStore: the fetch lock', () => {
  it('one owner at a time: of 40 concurrent acquires over two connections, one wins', async () => {
    const a = store({ client: await connectedClient() });
    const b = store({ url: redis.server.url });
    const key = fresh();
    const tokens = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).acquire(key, 10_000)),
    );
    const won = tokens.filter((t) => t !== undefined);
    expect(won).toHaveLength(1);
    expect(await redis.admin.get(key)).toBe(won[0]);
  });

  it('only its owner releases it: another token leaves it held', async () => {
    const s = store({ url: redis.server.url });
    const key = fresh();
    const token = (await s.acquire(key, 10_000))!;
    expect(token).toEqual(expect.any(String));
    await s.release(key, 'someone-else');
    expect(await s.acquire(key, 10_000)).toBeUndefined();
    await s.release(key, token);
    expect(await s.acquire(key, 10_000)).toEqual(expect.any(String));
  });

  it('expires after ttlMs; the late first owner cannot release the next owner`s lock', async () => {
    const s = store({ url: redis.server.url });
    const key = fresh();
    const first = (await s.acquire(key, 50))!;
    let second: string | undefined;
    // Bounded: the lock must expire within 5 s (it is set for 50 ms).
    const expired = await eventually(async () => {
      second = await s.acquire(key, 10_000);
      return second !== undefined;
    });
    expect(expired).toBe(true);
    await s.release(key, first);
    expect(await redis.admin.get(key)).toBe(second);
    expect(await redis.admin.pTTL(key)).toBeGreaterThan(0);
  });
});

describe('createRedisJwksStore: failures reject within timeoutMs (the receiver then fetches alone)', () => {
  it('Redis down (nothing listens): every command rejects', async () => {
    const closed = await startRedisServer();
    await closed.close();
    const s = store({ url: closed.url, timeoutMs: 300, onError: () => {} });
    const key = fresh();
    await expect(s.get(key)).rejects.toThrow();
    await expect(s.set(key, document, 60)).rejects.toThrow();
    await expect(s.acquire(key, 1000)).rejects.toThrow();
    await expect(s.release(key, 'token')).rejects.toThrow();
  });

  it('Redis that accepts but never answers: rejects after timeoutMs', async () => {
    const silent = await startSilentServer();
    opened.push(silent);
    const s = store({ url: silent.url, timeoutMs: 200, onError: () => {} });
    await expect(s.get(fresh())).rejects.toThrow(/within 200 ms|not connected/);
    await expect(s.acquire(fresh(), 1000)).rejects.toThrow(/within 200 ms|not connected/);
  });

  it('Redis full (maxmemory, noeviction): writes and locks reject, reads still answer', async () => {
    const full = await startRedisServer();
    opened.push({ close: () => full.close() });
    const s = store({ url: full.url });
    const key = fresh();
    await s.set(key, document, 60);
    const fullAdmin = await connectedClient(full.url);
    await fullAdmin.configSet({ maxmemory: '1', 'maxmemory-policy': 'noeviction' });
    await expect(s.set(fresh(), document, 60)).rejects.toThrow(/OOM/);
    await expect(s.acquire(fresh(), 1000)).rejects.toThrow(/OOM/);
    expect(await s.get(key)).toEqual(document);
  });
});

describe('createRedisJwksStore: configuration mistakes are TypeErrors', () => {
  it.each([
    ['no options', undefined, /needs \{ client \} or \{ url \}/],
    ['neither client nor url', {}, /exactly one/],
    ['both', { url: 'redis://127.0.0.1:1', client: {} }, /exactly one/],
    ['a URL that is not redis', { url: 'http://127.0.0.1:6379' }, /redis:\/\//],
    ['a client without eval', { client: { get() {}, set() {} } }, /get, set, eval/],
    ['a prefix that is not a string', { url: 'redis://127.0.0.1:1', prefix: 1 }, /prefix/],
    ['a zero timeout', { url: 'redis://127.0.0.1:1', timeoutMs: 0 }, /timeoutMs/],
  ])('%s', (_name, options, message) => {
    expect(() => createRedisJwksStore(options as RedisJwksStoreOptions)).toThrow(TypeError);
    expect(() => createRedisJwksStore(options as RedisJwksStoreOptions)).toThrow(message);
  });
});

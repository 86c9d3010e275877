// Against a real redis-server started here (127.0.0.1, a free port). Without redis-server these
// tests fail with a message saying how to install it; they never skip.
import { describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { createRedisReplayStore } from '../src/index.js';
import type { RedisReplayStore } from '../src/index.js';
import { redisSuite } from './redis-suite.js';

const redis = redisSuite();
const opened = redis.opened;

let counter = 0;
/** A key no other test uses. */
const fresh = () => `key-${++counter}-${Date.now()}`;

async function connectedClient() {
  const client = createClient({ url: redis.server.url });
  await client.connect();
  opened.push({ close: async () => client.isOpen && client.destroy() });
  return client;
}

function store(options: Parameters<typeof createRedisReplayStore>[0]): RedisReplayStore {
  const s = createRedisReplayStore(options);
  opened.push(s);
  return s;
}

describe('createRedisReplayStore', () => {
  it('answers true on first use and false on a replay', async () => {
    const s = store({ client: await connectedClient() });
    const key = fresh();
    expect(await s.add(key, 60)).toBe(true);
    expect(await s.add(key, 60)).toBe(false);
    expect(await s.add(fresh(), 60)).toBe(true);
  });

  it('two receivers with their own connections share one replay window', async () => {
    const a = store({ client: await connectedClient() });
    const b = store({ url: redis.server.url });
    const key = fresh();
    expect(await a.add(key, 60)).toBe(true);
    expect(await b.add(key, 60)).toBe(false);
  });

  it('is atomic: of 40 concurrent adds of one key across two connections, one wins', async () => {
    const a = store({ client: await connectedClient() });
    const b = store({ client: await connectedClient() });
    const key = fresh();
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).add(key, 60)),
    );
    expect(answers.filter(Boolean)).toHaveLength(1);
  });

  it('sets the key under the prefix with the ttl, rounded up to whole seconds', async () => {
    const s = store({ client: await connectedClient(), prefix: 'test:' });
    const key = fresh();
    await s.add(key, 41.2);
    expect(await redis.admin.get(`test:${key}`)).toBe('1');
    const ttl = await redis.admin.ttl(`test:${key}`);
    expect(ttl).toBeGreaterThan(40);
    expect(ttl).toBeLessThanOrEqual(42);
    const defaultPrefix = store({ client: await connectedClient() });
    const other = fresh();
    await defaultPrefix.add(other, 0);
    expect(await redis.admin.ttl(`tokengate:dpop:${other}`)).toBe(1); // never 0: that would mean no TTL
  });

  it('forgets a key once redis expires it', async () => {
    const s = store({ client: await connectedClient() });
    const key = fresh();
    await s.add(key, 60);
    await redis.admin.del(`tokengate:dpop:${key}`); // what EX does when the ttl runs out
    expect(await s.add(key, 60)).toBe(true);
  });

  it('rejects after timeoutMs when redis does not answer (writes paused)', async () => {
    const s = store({ client: await connectedClient(), timeoutMs: 100 });
    await redis.admin.sendCommand(['CLIENT', 'PAUSE', '2000', 'WRITE']);
    try {
      await expect(s.add(fresh(), 60)).rejects.toThrow(/did not answer within 100 ms/);
    } finally {
      await redis.admin.sendCommand(['CLIENT', 'UNPAUSE']);
    }
  });

  it('rejects (never hangs, never crashes) when redis is unreachable', async () => {
    const errors: Error[] = [];
    const s = createRedisReplayStore({
      url: 'redis://127.0.0.1:1',
      timeoutMs: 200,
      onError: (err) => errors.push(err),
    });
    try {
      await expect(s.add(fresh(), 60)).rejects.toThrow();
    } finally {
      await s.close();
    }
    expect(errors.length).toBeGreaterThan(0);
  });

  const bad: { name: string; options: unknown }[] = [
    { name: 'neither client nor url', options: {} },
    { name: 'both client and url', options: { client: { set: () => {} }, url: 'redis://x' } },
    { name: 'a url of another scheme', options: { url: 'http://127.0.0.1:6379' } },
    { name: 'a client without set', options: { client: {} } },
    { name: 'timeoutMs 0', options: { url: 'redis://x', timeoutMs: 0 } },
  ];
  it.each(bad)('$name is a TypeError', ({ options }) => {
    expect(() => createRedisReplayStore(options as never)).toThrow(TypeError);
  });
});

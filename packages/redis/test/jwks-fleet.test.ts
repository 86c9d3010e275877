// Fleet coordination in one process: several remote JWKS caches, each with its own Redis
// connection (as separate receivers have), against a loopback key server that counts requests
// and a real redis-server. The child-process fleet (test/fleet) runs the same rows end to end.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { createRemoteJwks } from '@tokengate/core';
import type { RemoteJwks, RemoteJwksOptions } from '@tokengate/core';
import { createRedisJwksStore } from '../src/index.js';
import type { RedisJwksStore } from '../src/index.js';
import { startRedisServer, startSilentServer } from '@tokengate/test-fixtures/redis-server';
import type { RedisServer } from '@tokengate/test-fixtures/redis-server';
import { startJwksServer } from '@tokengate/test-fixtures/jwks-server';
import type { JwksServer } from '@tokengate/test-fixtures/jwks-server';
import { publicJwks, signing } from '@tokengate/test-fixtures/keys';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import type { CapturingLogger } from '@tokengate/test-fixtures/logger';

const KID = signing.es256.publicJwk.kid!;
const ALG = 'ES256';

let redis: RedisServer;
const toClose: { close(): Promise<unknown> }[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
});

afterEach(async () => {
  for (const c of toClose.splice(0).reverse()) await c.close().catch(() => {});
});

afterAll(async () => {
  await redis?.close();
});

interface Receiver {
  jwks: RemoteJwks;
  store: RedisJwksStore;
  logger: CapturingLogger;
}

async function keyServer(maxAge: number): Promise<JwksServer> {
  const server = await startJwksServer(publicJwks(signing.es256), {
    cacheControl: `public, max-age=${maxAge}`,
  });
  toClose.push(server);
  return server;
}

/** `count` receivers of `server`, each with its own Redis connection. */
function receivers(
  server: JwksServer,
  count: number,
  redisUrl = redis.url,
  options: RemoteJwksOptions = {},
): Receiver[] {
  return Array.from({ length: count }, () => {
    // 5 s: on a loaded machine a slow first command must not count as an outage.
    const store = createRedisJwksStore({ url: redisUrl, timeoutMs: 5000, onError: () => {} });
    toClose.push(store);
    const logger = createCapturingLogger();
    const jwks = createRemoteJwks(server.url, {
      store,
      logger,
      minTtl: 1,
      cooldown: 1,
      // The others wait half of this for the one fetching: generous, for a loaded machine.
      maxWait: 10,
      ...options,
    });
    return { jwks, store, logger };
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const events = (r: Receiver, event: string) =>
  r.logger.entries.filter((e) => e.obj.event === event);

/** Waits (bounded by `ms`) until `check` holds; fails the test with `what` otherwise. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

describe('a fleet sharing createRedisJwksStore', () => {
  it('cold start of 8 receivers at once: one request; a 9th cold receiver makes none', async () => {
    const server = await keyServer(300);
    const fleet = receivers(server, 8);
    const keys = await Promise.all(fleet.map((r) => r.jwks.getKey({ kid: KID, alg: ALG })));
    expect(keys.every((k) => k !== undefined)).toBe(true);
    expect(server.count()).toBe(1);
    const [late] = receivers(server, 1);
    await late!.jwks.getKey({ kid: KID, alg: ALG });
    expect(late!.jwks.status()).toMatchObject({ fetches: 0, state: 'fresh' });
    expect(server.count()).toBe(1);
  });

  it('after max-age: one conditional request, answered 304, refreshes all 8', async () => {
    const server = await keyServer(1);
    const fleet = receivers(server, 8);
    await Promise.all(fleet.map((r) => r.jwks.refresh()));
    expect(server.count()).toBe(1);
    const first = fleet[0]!.jwks.status().fetchedAt!;
    await until('the set is stale', () => fleet.every((r) => r.jwks.status().state === 'stale'));
    await Promise.all(fleet.map((r) => r.jwks.refresh()));
    expect(server.count()).toBe(2);
    expect(server.requests[1]!.headers['if-none-match']).toBe(server.etag);
    expect(fleet.reduce((n, r) => n + r.jwks.status().notModified, 0)).toBe(1);
    expect(fleet.every((r) => r.jwks.status().fetchedAt! > first)).toBe(true);
  });

  it('unknown kids spread over 8 receivers: at most one request per cooldown, fleet-wide', async () => {
    const server = await keyServer(300);
    const fleet = receivers(server, 8);
    await Promise.all(fleet.map((r) => r.jwks.refresh()));
    server.resetRequests();
    const started = performance.now();
    let sent = 0;
    // Two cooldowns (1 s each) of random kids, round-robin over the fleet.
    while (performance.now() - started < 2000 && sent < 10_000) {
      const batch = fleet.map((r) =>
        r.jwks.getKey({ kid: `random-${sent++}`, alg: ALG }).catch(() => undefined),
      );
      await Promise.all(batch);
    }
    const windows = Math.ceil((performance.now() - started) / 1000);
    expect(server.count()).toBeGreaterThanOrEqual(1);
    expect(server.count()).toBeLessThanOrEqual(windows);
  });

  it('a lock holder that never writes back: the others wait half of maxWait, then fetch', async () => {
    const server = await keyServer(300);
    const admin = createClient({ url: redis.url });
    await admin.connect();
    toClose.push({ close: async () => admin.destroy() });
    await admin.set(`tokengate:jwks ${server.url} lock`, 'crashed-receiver', { PX: 60_000 });
    const [receiver] = receivers(server, 1, redis.url, { maxWait: 2 });
    await expect(receiver!.jwks.getKey({ kid: KID, alg: ALG })).resolves.toBeDefined();
    expect(server.count()).toBe(1);
    // The lock is the crashed owner's: never released by someone else.
    expect(await admin.get(`tokengate:jwks ${server.url} lock`)).toBe('crashed-receiver');
  });

  it('a stored set that does not parse counts as absent: fetched again and overwritten', async () => {
    const server = await keyServer(300);
    const admin = createClient({ url: redis.url });
    await admin.connect();
    toClose.push({ close: async () => admin.destroy() });
    const planted = {
      url: server.url,
      body: { keys: 'not a list' },
      digest: 'planted',
      fetchedAt: Date.now() / 1000,
      freshUntil: Date.now() / 1000 + 3600,
    };
    await admin.set(`tokengate:jwks ${server.url}`, JSON.stringify(planted), { EX: 60 });
    const [receiver] = receivers(server, 1);
    await expect(receiver!.jwks.getKey({ kid: KID, alg: ALG })).resolves.toBeDefined();
    expect(server.count()).toBe(1);
    expect(events(receiver!, 'jwks_fetch_failed')).toHaveLength(0);
    const stored = JSON.parse((await admin.get(`tokengate:jwks ${server.url}`))!);
    expect(stored.digest).not.toBe('planted');
  });

  it('Redis down: each receiver fetches alone, logged once per outage; back: coordinated again', async () => {
    const own = await startRedisServer();
    toClose.push({ close: () => own.close() });
    const server = await keyServer(1);
    const fleet = receivers(server, 3, own.url);
    await Promise.all(fleet.map((r) => r.jwks.refresh()));
    expect(server.count()).toBe(1);

    await own.close('SIGKILL');
    await until('the set is stale', () => fleet.every((r) => r.jwks.status().state === 'stale'));
    // Valid keys are still served, and each receiver revalidates on its own.
    for (let round = 0; round < 3; round++) {
      const keys = await Promise.all(fleet.map((r) => r.jwks.getKey({ kid: KID, alg: ALG })));
      expect(keys.every((k) => k !== undefined)).toBe(true);
      await Promise.all(fleet.map((r) => r.jwks.refresh()));
      await Promise.all(
        fleet.map((r) => r.jwks.getKey({ kid: 'unknown', alg: ALG }).catch(() => 0)),
      );
    }
    expect(server.count()).toBeGreaterThanOrEqual(1 + fleet.length);
    for (const r of fleet) {
      expect(events(r, 'jwks_store_unavailable')).toHaveLength(1);
      expect(events(r, 'jwks_store_recovered')).toHaveLength(0);
    }

    const back = await startRedisServer({ port: own.port });
    toClose.push({ close: () => back.close() });
    await until('every store reconnected', async () => {
      const answers = await Promise.all(
        fleet.map((r) =>
          Promise.resolve(r.store.get('probe')).then(
            () => true,
            () => false,
          ),
        ),
      );
      return answers.every(Boolean);
    });
    await until('the set is stale', () => fleet.every((r) => r.jwks.status().state === 'stale'));
    const before = server.count();
    await Promise.all(fleet.map((r) => r.jwks.refresh()));
    expect(server.count()).toBe(before + 1);
    for (const r of fleet) {
      expect(events(r, 'jwks_store_unavailable')).toHaveLength(1);
      expect(events(r, 'jwks_store_recovered')).toHaveLength(1);
    }
  });

  it('Redis that never answers: after timeoutMs each receiver fetches alone, logged once', async () => {
    const silent = await startSilentServer();
    toClose.push(silent);
    const server = await keyServer(300);
    const url = silent.url;
    const fleet = Array.from({ length: 2 }, () => {
      const store = createRedisJwksStore({ url, timeoutMs: 200, onError: () => {} });
      toClose.push(store);
      const logger = createCapturingLogger();
      return { jwks: createRemoteJwks(server.url, { store, logger, maxWait: 10 }), logger };
    });
    for (const r of fleet) {
      await expect(r.jwks.getKey({ kid: KID, alg: ALG })).resolves.toBeDefined();
      await r.jwks.getKey({ kid: 'unknown', alg: ALG }).catch(() => undefined);
    }
    expect(server.count()).toBeGreaterThanOrEqual(2);
    for (const r of fleet) {
      const unavailable = r.logger.entries.filter((e) => e.obj.event === 'jwks_store_unavailable');
      expect(unavailable).toHaveLength(1);
      expect(unavailable[0]!.obj.reason).toMatch(/within 200 ms|did not answer/);
    }
  });

  it('Redis full: valid keys still load (each alone), logged once', async () => {
    const full = await startRedisServer();
    toClose.push({ close: () => full.close() });
    const admin = createClient({ url: full.url });
    await admin.connect();
    toClose.push({ close: async () => admin.destroy() });
    await admin.configSet({ maxmemory: '1', 'maxmemory-policy': 'noeviction' });
    const server = await keyServer(300);
    const fleet = receivers(server, 2, full.url);
    for (const r of fleet)
      await expect(r.jwks.getKey({ kid: KID, alg: ALG })).resolves.toBeDefined();
    expect(server.count()).toBe(2);
    for (const r of fleet) expect(events(r, 'jwks_store_unavailable')).toHaveLength(1);
  });
});

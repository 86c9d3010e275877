// Behaviours 1–5, 8, 10 and 11 of issue 3, each against a real loopback JWKS server that counts
// requests and records their headers. Failures and hostile servers: remote-jwks-hostile.test.ts.
import { describe, expect, it } from 'vitest';
import { createRemoteJwks } from '../../src/keys/remote-jwks.js';
import { sharedRemoteJwks } from '../../src/keys/shared.js';
import { createClock } from '@tokengate/test-fixtures/clock';
import { createSigningKey, publicJwks, signing } from '@tokengate/test-fixtures/keys';
import { NOW } from '@tokengate/test-fixtures/tokens';
import { JWKS_PATH, harness, heldResponse, serve } from './harness.js';

const { es256, rs256, eddsa } = signing;
const es = { kid: es256.kid, alg: 'ES256' };
const rs = { kid: rs256.kid, alg: 'RS256' };
const fresh = await createSigningKey('ES256', 'es256-2026-02-01');
const all = publicJwks(es256, rs256, eddsa);

describe('1. conditional requests', () => {
  it('revalidates with If-None-Match; a 304 keeps the key objects and renews freshness from its own headers', async () => {
    const h = await harness(all);
    const key = await h.jwks.getKey(es);
    expect(h.server.requests[0]!.headers['if-none-match']).toBeUndefined();
    h.server.configure({ cacheControl: 'max-age=1000' });
    h.clock.advance(300);
    expect(await h.jwks.getKey(es)).toBe(key);
    await h.events.settle(2);
    expect(h.events.seen).toEqual(['fetch 200', 'fetch 304']);
    expect(h.server.count(JWKS_PATH)).toBe(2);
    expect(h.server.requests[1]!.headers['if-none-match']).toBe(h.server.etag);
    expect(h.jwks.isPublished(key)).toBe(true);
    expect(h.jwks.status()).toMatchObject({ fetches: 2, notModified: 1, freshUntil: NOW + 1300 });
    h.clock.advance(999);
    await h.jwks.getKey(es);
    expect(h.server.count(JWKS_PATH)).toBe(2);
  });

  it('sends a weak ETag back verbatim', async () => {
    const h = await harness(all, { server: { etag: 'weak' } });
    await h.jwks.getKey(es);
    expect(h.server.etag).toMatch(/^W\/"/);
    h.clock.advance(300);
    await h.jwks.getKey(es);
    await h.events.settle(2);
    expect(h.server.requests[1]!.headers['if-none-match']).toBe(h.server.etag);
    expect(h.events.seen).toEqual(['fetch 200', 'fetch 304']);
  });

  it('revalidates with If-Modified-Since when the server sends only Last-Modified', async () => {
    const lastModified = 'Wed, 31 Dec 2025 12:00:00 GMT';
    const h = await harness(all, { server: { etag: false, lastModified } });
    const key = await h.jwks.getKey(es);
    h.clock.advance(300);
    await h.jwks.getKey(es);
    await h.events.settle(2);
    const second = h.server.requests[1]!.headers;
    expect([second['if-modified-since'], second['if-none-match']]).toEqual([
      lastModified,
      undefined,
    ]);
    expect(h.events.seen).toEqual(['fetch 200', 'fetch 304']);
    expect(h.jwks.isPublished(key)).toBe(true);
  });

  it('imports keys once per set version: the same bytes in a plain 200 keep the key objects', async () => {
    const h = await harness(all, { server: { etag: false } });
    const key = await h.jwks.getKey(es);
    h.clock.advance(300);
    await h.jwks.getKey(es);
    await h.events.settle(2);
    expect(h.events.seen).toEqual(['fetch 200', 'fetch 200']);
    expect(h.server.requests[1]!.headers['if-none-match']).toBeUndefined();
    expect(await h.jwks.getKey(es)).toBe(key);
    expect(h.jwks.isPublished(key)).toBe(true);
  });
});

describe('2. freshness from HTTP', () => {
  const cases = [
    { name: 'max-age=120', cacheControl: 'max-age=120', ttl: 120, options: {} },
    { name: 'no caching headers: 10 min', cacheControl: null, ttl: 600, options: {} },
    { name: 'max-age=5 raised to minTtl (30 s)', cacheControl: 'max-age=5', ttl: 30, options: {} },
    {
      name: 'a year of max-age capped at maxTtl (24 h)',
      cacheControl: 'public, max-age=31536000',
      ttl: 86_400,
      options: {},
    },
    { name: 'no-cache: once per cooldown (30 s)', cacheControl: 'no-cache', ttl: 30, options: {} },
    { name: 'no-store: once per cooldown (30 s)', cacheControl: 'no-store', ttl: 30, options: {} },
    {
      name: 'no-store with cooldown 45 s',
      cacheControl: 'no-store',
      ttl: 45,
      options: { cooldown: '45s' },
    },
    { name: 'minTtl 1 min', cacheControl: 'max-age=5', ttl: 60, options: { minTtl: '1m' } },
    { name: 'defaultTtl 2 min', cacheControl: null, ttl: 120, options: { defaultTtl: 120 } },
  ];

  it.each(cases)('$name: no request before, one at the end', async (c) => {
    const h = await harness(all, { server: { cacheControl: c.cacheControl }, ...c.options });
    await h.jwks.getKey(es);
    h.clock.advance(c.ttl - 1);
    await Promise.all(Array.from({ length: 50 }, () => h.jwks.getKey(es)));
    expect(h.server.count(JWKS_PATH)).toBe(1);
    h.clock.advance(1);
    await Promise.all(Array.from({ length: 50 }, () => h.jwks.getKey(es)));
    await h.events.settle(2);
    expect(h.server.count(JWKS_PATH)).toBe(2);
    expect(h.server.requests[1]!.headers['if-none-match']).toBe(h.server.etag);
  });
});

describe('3. never block on revalidation', () => {
  it('serves stale keys at once while one background request is still unanswered', async () => {
    const h = await harness(all);
    const key = await h.jwks.getKey(es);
    const { handler, received, hold } = heldResponse();
    h.server.setHandler(handler);
    h.clock.advance(301);
    const keys = await Promise.all(Array.from({ length: 100 }, () => h.jwks.getKey(es)));
    expect(keys.every((k) => k === key)).toBe(true);
    await received.wait;
    expect(h.jwks.status()).toMatchObject({ state: 'stale', refreshing: true });
    hold.release();
    await h.events.settle(2);
    expect(h.server.count(JWKS_PATH)).toBe(2);
    expect(h.jwks.status()).toMatchObject({ state: 'fresh', refreshing: false });
  });

  it('makes a request wait only when the cache is cold', async () => {
    const { handler, received, hold } = heldResponse();
    const h = await harness(all, { server: { handler } });
    let done = false;
    const pending = h.jwks.getKey(es).then((k) => ((done = true), k));
    await received.wait;
    expect(done).toBe(false);
    hold.release();
    expect((await pending).kid).toBe(es256.kid);
    expect(h.server.count(JWKS_PATH)).toBe(1);
  });
});

describe('4. single flight', () => {
  it('answers 1,000 concurrent cold requests with one HTTP request', async () => {
    const { handler, received, hold } = heldResponse();
    const h = await harness(all, { server: { handler } });
    const pending = Array.from({ length: 1000 }, (_, i) => h.jwks.getKey(i % 2 ? es : rs));
    await received.wait;
    hold.release();
    const keys = await Promise.all(pending);
    expect(new Set(keys).size).toBe(2);
    expect(h.server.count(JWKS_PATH)).toBe(1);
  });

  it('shares one failure among 1,000 concurrent cold requests', async () => {
    const h = await harness(all);
    h.server.down();
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, () => h.jwks.getKeys(es)),
    );
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({
      code: 'jwks_unavailable',
      status: 503,
    });
    expect(h.server.count(JWKS_PATH)).toBe(1);
    expect(h.logger.at('error')).toHaveLength(1);
  });
});

describe('5. unknown kid', () => {
  it('a flood of 10,000 random kids makes one request, then conditional ones at most every cooldown/15', async () => {
    const h = await harness(all);
    await h.jwks.getKey(es);
    const flood = await Promise.allSettled(
      Array.from({ length: 10_000 }, (_, i) =>
        h.jwks.getKeys({ kid: `random-${i}`, alg: 'ES256' }),
      ),
    );
    expect(flood.every((r) => r.status === 'rejected' && r.reason.code === 'kid_unknown')).toBe(
      true,
    );
    expect(h.server.count(JWKS_PATH)).toBe(2);
    // The forced refresh is conditional too.
    expect(h.server.requests[1]!.headers['if-none-match']).toBe(h.server.etag);
    // Five cooldowns of random kids, 100 every half second (simulated).
    for (let step = 1; step < 300; step++) {
      h.clock.advance(0.5);
      const batch = await Promise.allSettled(
        Array.from({ length: 100 }, (_, i) =>
          h.jwks.getKeys({ kid: `late-${step}-${i}`, alg: 'ES256' }),
        ),
      );
      expect(batch.every((r) => r.status === 'rejected')).toBe(true);
    }
    // One refresh every 2 s (30 s / 15) over 150 s: 75, plus the first load.
    expect(h.server.count(JWKS_PATH)).toBe(76);
    expect(
      h.server.requests.slice(1).every((r) => r.headers['if-none-match'] === h.server.etag),
    ).toBe(true);
    expect(h.events.seen.filter((e) => e === 'fetch 200')).toHaveLength(1);
    expect(h.events.seen.filter((e) => e === 'fetch 304')).toHaveLength(75);
  });

  it('without validators (no ETag, no Last-Modified), a flood makes one request per cooldown', async () => {
    const h = await harness(all, { server: { etag: false } });
    await h.jwks.getKey(es);
    await expect(h.jwks.getKeys({ kid: 'random-0', alg: 'ES256' })).rejects.toMatchObject({
      code: 'kid_unknown',
    });
    expect(h.server.count(JWKS_PATH)).toBe(2);
    for (let i = 0; i < 29; i++) {
      h.clock.advance(1);
      await expect(h.jwks.getKeys({ kid: `late-${i}`, alg: 'ES256' })).rejects.toMatchObject({
        code: 'kid_unknown',
        reason: 'no key has this "kid"; a refresh is cooling down',
      });
    }
    expect(h.server.count(JWKS_PATH)).toBe(2);
    h.clock.advance(1);
    await expect(h.jwks.getKeys({ kid: 'after-cooldown', alg: 'ES256' })).rejects.toMatchObject({
      code: 'kid_unknown',
      reason: 'no key in the key set has this "kid"',
    });
    expect(h.server.count(JWKS_PATH)).toBe(3);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])(
    'kid %s is just an unknown string',
    async (kid) => {
      const h = await harness(all);
      await expect(h.jwks.getKeys({ kid, alg: 'ES256' })).rejects.toMatchObject({
        code: 'kid_unknown',
      });
      // Cold start, then one forced refresh, then the cooldown.
      for (const alg of ['RS256', 'EdDSA']) {
        await expect(h.jwks.getKey({ kid, alg })).rejects.toMatchObject({ code: 'kid_unknown' });
      }
      expect(h.server.count(JWKS_PATH)).toBe(2);
      expect(h.jwks.status().keys).toEqual([es256.kid, rs256.kid, eddsa.kid]);
    },
  );

  it('a kid whose key does not fit alg counts as unknown', async () => {
    const h = await harness(all);
    await h.jwks.refresh();
    await expect(h.jwks.getKeys({ kid: es256.kid, alg: 'RS256' })).rejects.toMatchObject({
      code: 'kid_unknown',
    });
    expect(h.server.count(JWKS_PATH)).toBe(2);
  });

  it('an unknown kid on a cold cache makes one request, not a load and a forced refresh', async () => {
    const h = await harness(all);
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) => h.jwks.getKeys({ kid: `cold-${i}`, alg: 'ES256' })),
    );
    expect(results.every((r) => r.status === 'rejected' && r.reason.code === 'kid_unknown')).toBe(
      true,
    );
    expect(h.server.count(JWKS_PATH)).toBe(1);
  });

  it('without a kid, returns the keys that fit alg', async () => {
    const h = await harness(all);
    const keys = await h.jwks.getKeys({ alg: 'EdDSA' });
    expect(keys.map((k) => k.kid)).toEqual([eddsa.kid]);
    expect(h.server.count(JWKS_PATH)).toBe(1);
  });
});

describe('8. rotation', () => {
  it('picks up a new key on the first token that names it', async () => {
    const h = await harness(publicJwks(es256));
    await h.jwks.getKey(es);
    const oldEtag = h.server.etag;
    h.server.setJwks(publicJwks(es256, fresh));
    const key = await h.jwks.getKey({ kid: fresh.kid, alg: 'ES256' });
    expect(key.kid).toBe(fresh.kid);
    expect(h.server.count(JWKS_PATH)).toBe(2);
    expect(h.server.requests[1]!.headers['if-none-match']).toBe(oldEtag);
  });

  it('a removed key stops being published as soon as the new set is seen', async () => {
    const h = await harness(publicJwks(es256, rs256));
    const esKey = await h.jwks.getKey(es);
    const rsKey = await h.jwks.getKey(rs);
    h.server.setJwks(publicJwks(rs256));
    h.clock.advance(300);
    // Only cached tokens arrive: isPublished itself starts the revalidation.
    expect(h.jwks.isPublished(esKey)).toBe(true);
    await h.events.settle(2);
    expect(h.server.count(JWKS_PATH)).toBe(2);
    expect(h.jwks.isPublished(esKey)).toBe(false);
    // An unchanged key keeps its object, so tokens it verified stay cached.
    expect(h.jwks.isPublished(rsKey)).toBe(true);
    expect(await h.jwks.getKey(rs)).toBe(rsKey);
    expect(h.jwks.status().keys).toEqual([rs256.kid]);
  });
});

describe('10. sharing', () => {
  it('verifiers naming the same URI on the same clock share one cache and one request', async () => {
    const server = await serve(all);
    const clock = createClock();
    const a = sharedRemoteJwks(server.url, { now: clock.now });
    const b = sharedRemoteJwks(server.url, { now: clock.now });
    expect(b).toBe(a);
    await Promise.all([a.getKey(es), b.getKey(rs)]);
    expect(server.count(JWKS_PATH)).toBe(1);
    const other = sharedRemoteJwks(server.url, { now: createClock().now });
    expect(other).not.toBe(a);
    const own = createRemoteJwks(server.url, { now: clock.now });
    expect(own).not.toBe(a);
    await Promise.all([other.getKey(es), own.getKey(es)]);
    expect(server.count(JWKS_PATH)).toBe(3);
  });

  it('checks each caller’s URL policy even for a shared cache', () => {
    const uri = 'http://keys.internal.example/jwks.json';
    sharedRemoteJwks(uri, { allowInsecureHttp: true });
    expect(() => sharedRemoteJwks(uri)).toThrow(TypeError);
  });
});

describe('11. observability', () => {
  it('status() and the hooks report fetches, 304s, failures, key ids and age', async () => {
    const h = await harness(all);
    expect(h.jwks.status()).toMatchObject({ state: 'cold', keys: [], fetches: 0 });
    await h.jwks.refresh();
    expect(h.jwks.status()).toEqual({
      uri: h.server.url,
      state: 'fresh',
      keys: [es256.kid, rs256.kid, eddsa.kid],
      keyCount: 3,
      etag: h.server.etag,
      lastModified: undefined,
      fetchedAt: NOW,
      freshUntil: NOW + 300,
      age: 0,
      refreshing: false,
      fetches: 1,
      notModified: 0,
      failures: 0,
      consecutiveFailures: 0,
      retryAt: undefined,
      lastError: undefined,
    });
    h.clock.advance(400);
    expect(h.jwks.status()).toMatchObject({ state: 'stale', age: 400 });
    h.server.down();
    await h.jwks.refresh();
    expect(h.jwks.status()).toMatchObject({
      state: 'stale',
      fetches: 2,
      failures: 1,
      consecutiveFailures: 1,
      retryAt: NOW + 401,
      lastError: { message: 'unexpected HTTP status 500', status: 500, at: NOW + 400 },
    });
    h.server.up();
    h.clock.advance(1);
    await h.jwks.refresh();
    expect(h.jwks.status()).toMatchObject({ state: 'fresh', notModified: 1, failures: 1 });
    expect(h.events.seen).toEqual(['fetch 200', 'error unexpected HTTP status 500', 'fetch 304']);
    expect(h.server.count(JWKS_PATH)).toBe(3);
  });

  it('a throwing hook does not break key loading', async () => {
    const h = await harness(all, {
      onFetch: () => {
        throw new Error('hook bug');
      },
    });
    expect((await h.jwks.getKey(es)).kid).toBe(es256.kid);
    expect(h.server.count(JWKS_PATH)).toBe(1);
  });
});

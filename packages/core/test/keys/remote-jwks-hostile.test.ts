// Behaviours 6 (stale-if-error) and 7 (hostile or broken server) of issue 3, against a real
// loopback server that counts requests and records their headers.
import { describe, expect, it } from 'vitest';
import { createRemoteJwks } from '../../src/keys/remote-jwks.js';
import type { RemoteJwksOptions } from '../../src/keys/remote-jwks.js';
import { createSigningKey, encryption, publicJwks, signing } from '@tokengate/test-fixtures/keys';
import type { Handler } from '@tokengate/test-fixtures/jwks-server';
import { NOW } from '@tokengate/test-fixtures/tokens';
import { JWKS_PATH, harness, serve, weakRsaJwk } from './harness.js';

const { es256, rs256 } = signing;
const es = { kid: es256.kid, alg: 'ES256' };
const all = publicJwks(es256, rs256);
const otherRsa = await createSigningKey('RS256', 'rs-other');

const failures: {
  name: string;
  handler: Handler;
  reason: RegExp;
  options?: RemoteJwksOptions;
}[] = [
  { name: 'HTTP 500', handler: () => ({ status: 500, body: 'oops' }), reason: /status 500/ },
  { name: 'HTTP 503', handler: () => ({ status: 503 }), reason: /status 503/ },
  { name: 'HTTP 404', handler: () => ({ status: 404 }), reason: /status 404/ },
  { name: 'a dropped connection', handler: () => ({ destroy: true }), reason: /network error/ },
  {
    name: 'a timeout',
    handler: () => ({ delayMs: 3000 }),
    reason: /timed out after 200 ms/,
    options: { timeout: '200ms' },
  },
  { name: 'invalid JSON', handler: () => ({ body: '{"keys": [' }), reason: /not JSON/ },
  {
    name: 'invalid UTF-8',
    handler: () => ({ body: Buffer.from([0x7b, 0xff, 0x7d]) }),
    reason: /not JSON/,
  },
  { name: 'a JSON array', handler: () => ({ body: [] }), reason: /"keys" array/ },
  { name: 'JSON null', handler: () => ({ body: 'null' }), reason: /"keys" array/ },
  { name: '"keys" not an array', handler: () => ({ body: { keys: {} } }), reason: /"keys" array/ },
  { name: 'an empty set', handler: () => ({ body: { keys: [] } }), reason: /no usable/ },
  {
    name: 'a set of unusable keys',
    handler: () => ({
      body: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }, weakRsaJwk('weak')] },
    }),
    reason: /no usable/,
  },
  { name: 'a redirect loop', handler: () => ({ redirect: JWKS_PATH }), reason: /too many/ },
];

describe('6. stale-if-error', () => {
  it.each(failures)('$name: keeps serving the last good keys, logs once', async (f) => {
    const h = await harness(all, f.options);
    const key = await h.jwks.getKey(es);
    h.server.setHandler(f.handler);
    h.clock.advance(300);
    expect(await h.jwks.getKey(es)).toBe(key);
    await h.events.settle(2);
    expect(h.events.seen[1]).toMatch(f.reason);
    const errors = h.logger.at('error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.obj).toMatchObject({
      event: 'jwks_fetch_failed',
      uri: h.server.url,
      consecutiveFailures: 1,
      retryInSeconds: 1,
      servingStale: true,
    });
    expect(errors[0]!.obj.reason).toMatch(f.reason);
    expect(h.jwks.isPublished(key)).toBe(true);
    expect(await h.jwks.getKey(es)).toBe(key); // within the backoff: no request
    const requests = h.server.count(JWKS_PATH);
    expect(requests).toBe(f.name === 'a redirect loop' ? 4 : 2);
    expect(h.server.requests[1]!.headers['if-none-match']).toBe(h.server.etag);
  });

  it.each(failures)('$name on a cold cache: jwks_unavailable (503)', async (f) => {
    const h = await harness(all, { ...f.options, server: { handler: f.handler } });
    const err = await Promise.resolve(h.jwks.getKeys(es)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'jwks_unavailable', status: 503 });
    expect(((err as Error).cause as Error).message).toMatch(f.reason);
    expect(h.logger.at('error')).toHaveLength(1);
    expect(h.logger.at('error')[0]!.obj.servingStale).toBe(false);
  });

  it('retries with exponential backoff, one log record per attempt, capped at the cooldown', async () => {
    const h = await harness(all);
    await h.jwks.getKey(es);
    h.server.down();
    h.clock.advance(300);
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 12; attempt++) {
      await h.jwks.getKey(es);
      await h.events.settle(attempt + 1);
      expect(h.server.count(JWKS_PATH)).toBe(attempt + 1);
      const wait = h.logger.at('error')[attempt - 1]!.obj.retryInSeconds as number;
      waits.push(wait);
      h.clock.advance(wait - 1);
      await h.jwks.getKey(es); // still backing off
      expect(h.server.count(JWKS_PATH)).toBe(attempt + 1);
      h.clock.advance(1);
    }
    expect(waits).toEqual([1, 2, 4, 8, 16, 30, 30, 30, 30, 30, 30, 30]);
    h.server.up();
    await h.jwks.getKey(es);
    await h.events.settle(14);
    expect(h.events.seen.at(-1)).toBe('fetch 304');
    expect(h.jwks.status()).toMatchObject({ consecutiveFailures: 0, failures: 12 });
  });

  it('after maxStale the old keys are no longer served: jwks_unavailable', async () => {
    const h = await harness(all, { maxStale: '1h' });
    const key = await h.jwks.getKey(es);
    h.server.down();
    h.clock.advance(300 + 3600);
    expect(await h.jwks.getKey(es)).toBe(key); // exactly at the limit: still served
    await h.events.settle(2);
    h.clock.advance(1);
    const err = await h.jwks.getKey(es).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'jwks_unavailable' });
    expect(((err as Error).cause as Error).message).toBe('unexpected HTTP status 500');
    expect(h.server.count(JWKS_PATH)).toBe(3);
    expect(h.jwks.status()).toMatchObject({ state: 'expired', keys: [] });
    h.server.up();
    h.clock.advance(2);
    expect(await h.jwks.getKey(es)).toBe(key); // a 304 revives the same keys
    expect(h.server.requests.at(-1)!.headers['if-none-match']).toBe(h.server.etag);
  });

  it('a cold cache that failed fails fast during the backoff, then retries', async () => {
    const h = await harness(all);
    h.server.down();
    await expect(h.jwks.refresh()).rejects.toMatchObject({ code: 'jwks_unavailable' });
    await expect(h.jwks.getKeys(es)).rejects.toMatchObject({
      code: 'jwks_unavailable',
      reason: 'the key server is backing off after failures',
    });
    expect(h.server.count(JWKS_PATH)).toBe(1);
    h.server.up();
    h.clock.advance(1);
    expect((await h.jwks.getKey(es)).kid).toBe(es256.kid);
    expect(h.server.count(JWKS_PATH)).toBe(2);
  });

  it('never logs the query string of the URL (it may carry a secret)', async () => {
    const server = await serve(all);
    const entries: unknown[] = [];
    const logger = { warn: (o: object) => entries.push(o), error: (o: object) => entries.push(o) };
    const jwks = createRemoteJwks(`${server.url}?client_secret=s3cr3t`, { logger });
    server.down();
    await expect(jwks.refresh()).rejects.toMatchObject({ code: 'jwks_unavailable' });
    expect(server.requests[0]!.path).toContain('s3cr3t');
    expect(entries).toHaveLength(1);
    expect(JSON.stringify([entries, jwks.status()])).not.toContain('s3cr3t');
  });

  it('a failing background refresh never produces an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown): number => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      const h = await harness(all);
      const key = await h.jwks.getKey(es);
      h.server.down('destroy');
      h.clock.advance(300);
      expect(h.jwks.isPublished(key)).toBe(true);
      await h.events.settle(2);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
      expect(h.server.count(JWKS_PATH)).toBe(2);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });
});

describe('7. hostile or broken server', () => {
  it('times out a server that trickles bytes (the timeout covers the body)', async () => {
    const h = await harness(all, {
      timeout: '300ms',
      server: { handler: () => ({ trickle: { intervalMs: 20 } }) },
    });
    const started = performance.now();
    const err = await Promise.resolve(h.jwks.getKeys(es)).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(((err as Error).cause as Error).message).toBe('timed out after 300 ms');
    expect(h.server.count(JWKS_PATH)).toBe(1);
  });

  it.each([
    { name: 'a streamed 2 MiB body', handler: (() => ({ huge: 2 * 1024 * 1024 })) as Handler },
    {
      name: 'a declared 600 KiB body',
      handler: (() => ({ body: ' '.repeat(600 * 1024) })) as Handler,
    },
  ])('refuses $name (limit 512 KiB)', async ({ handler }) => {
    const h = await harness(all, { server: { handler } });
    const err = await Promise.resolve(h.jwks.getKeys(es)).catch((e: unknown) => e);
    expect(((err as Error).cause as Error).message).toBe('body larger than 524288 bytes');
    expect(h.server.count(JWKS_PATH)).toBe(1);
  });

  it('applies maxBodyBytes', async () => {
    const h = await harness(all, { maxBodyBytes: 500 });
    await expect(h.jwks.getKeys(es)).rejects.toMatchObject({ code: 'jwks_unavailable' });
    expect(h.events.seen).toEqual(['error body larger than 500 bytes']);
  });

  it('follows same-origin redirects (at most 2), keeping the conditional headers', async () => {
    const h = await harness(all, {
      server: {
        handler: (req, ctx) =>
          req.path === '/a'
            ? { redirect: '/b' }
            : req.path === '/b'
              ? { redirect: JWKS_PATH }
              : ctx.fallback(),
      },
    });
    const jwks = createRemoteJwks(`${h.server.origin}/a`, { now: h.clock.now });
    expect((await jwks.getKey(es)).kid).toBe(es256.kid);
    expect(h.server.requests.map((r) => r.path)).toEqual(['/a', '/b', JWKS_PATH]);
    h.clock.advance(300);
    await jwks.refresh();
    expect(h.server.requests.slice(3).map((r) => [r.path, r.headers['if-none-match']])).toEqual([
      ['/a', h.server.etag],
      ['/b', h.server.etag],
      [JWKS_PATH, h.server.etag],
    ]);
  });

  it('never follows a redirect to another origin', async () => {
    const elsewhere = await serve(all);
    const h = await harness(all, { server: { handler: () => ({ redirect: elsewhere.url }) } });
    const err = await Promise.resolve(h.jwks.getKeys(es)).catch((e: unknown) => e);
    expect(((err as Error).cause as Error).message).toBe('redirect to another origin refused');
    expect([h.server.count(), elsewhere.count()]).toEqual([1, 0]);
  });

  it('skips unusable keys and logs them once per set version', async () => {
    const bad = [
      weakRsaJwk('weak-rsa'),
      { ...es256.publicJwk, kid: 'ops-twice', key_ops: ['verify', 'verify'] },
      { kty: 'EC', crv: 'P-256', kid: 'off-curve', x: 'AAAA', y: 'AAAA' },
      { ...es256.publicJwk, kid: 'no-verify', key_ops: ['sign'] },
    ];
    const h = await harness({ keys: [...bad, es256.publicJwk] }, { server: { etag: false } });
    expect((await h.jwks.getKey(es)).kid).toBe(es256.kid);
    for (const kid of ['weak-rsa', 'ops-twice', 'off-curve', 'no-verify']) {
      await expect(h.jwks.getKeys({ kid, alg: 'ES256' })).rejects.toMatchObject({
        code: 'kid_unknown',
      });
    }
    const warns = h.logger.at('warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]!.obj).toMatchObject({ event: 'jwks_keys_skipped', skipped: 4 });
    expect((warns[0]!.obj.keys as { kid: string }[]).map((k) => k.kid)).toEqual([
      'weak-rsa',
      'ops-twice',
      'off-curve',
      'no-verify',
    ]);
    h.clock.advance(300);
    await h.jwks.getKey(es);
    await h.events.settle(3);
    expect(h.events.seen).toEqual(['fetch 200', 'fetch 200', 'fetch 200']);
    expect(h.logger.at('warn')).toHaveLength(1); // same bytes: not imported (or logged) again
  });

  it('never verifies with an encryption key, even under a signing algorithm', async () => {
    const { alg: _alg, ...rsaWithoutAlg } = rs256.publicJwk;
    const h = await harness({
      keys: [
        { ...rsaWithoutAlg, kid: 'dual', use: 'enc' },
        encryption.rsaOaep.publicJwk,
        es256.publicJwk,
      ],
    });
    await expect(h.jwks.getKeys({ kid: 'dual', alg: 'RS256' })).rejects.toMatchObject({
      code: 'kid_unknown',
    });
    await expect(h.jwks.getKeys({ alg: 'RS256' })).rejects.toMatchObject({ code: 'kid_unknown' });
    expect(h.jwks.status().keys).toEqual([es256.kid]);
    expect(h.logger.at('warn')).toHaveLength(0);
  });

  it('resolves duplicate kids by alg and key type, never by guessing', async () => {
    const { alg: _a, ...rsa1 } = rs256.publicJwk;
    const { alg: _b, ...rsa2 } = otherRsa.publicJwk;
    const h = await harness({
      keys: [
        { ...es256.publicJwk, kid: 'dup' },
        { ...rs256.publicJwk, kid: 'dup' },
        { ...rsa1, kid: 'twin' },
        { ...rsa2, kid: 'twin' },
      ],
    });
    expect((await h.jwks.getKey({ kid: 'dup', alg: 'ES256' })).kty).toBe('EC');
    expect((await h.jwks.getKey({ kid: 'dup', alg: 'RS256' })).kty).toBe('RSA');
    expect(await h.jwks.getKeys({ kid: 'twin', alg: 'PS256' })).toHaveLength(2);
    await expect(h.jwks.getKey({ kid: 'twin', alg: 'RS256' })).rejects.toMatchObject({
      code: 'kid_unknown',
      reason: 'several keys fit and none was chosen',
    });
    expect(h.server.count(JWKS_PATH)).toBe(1);
  });

  it('reads at most maxKeys keys', async () => {
    const h = await harness(publicJwks(es256, rs256, otherRsa), { maxKeys: 2 });
    expect(h.jwks.status().keys).toEqual([]);
    await h.jwks.refresh();
    expect(h.jwks.status().keys).toEqual([es256.kid, rs256.kid]);
    expect(h.logger.at('warn')[0]!.obj).toMatchObject({ skipped: 1 });
  });

  const refused = [
    'http://issuer.example.com/jwks.json',
    'ftp://127.0.0.1/jwks.json',
    'file:///etc/jwks.json',
    'https://user:pass@issuer.example.com/jwks.json',
    '/relative/jwks.json',
  ];
  it.each(refused)('refuses %s at construction (TypeError)', (uri) => {
    expect(() => createRemoteJwks(uri)).toThrow(TypeError);
  });

  const allowed: [string, RemoteJwksOptions][] = [
    ['https://issuer.example.com/jwks.json', {}],
    ['http://127.0.0.1:8080/jwks.json', {}],
    ['http://127.1.2.3/jwks.json', {}],
    ['http://localhost:8080/jwks.json', {}],
    ['http://[::1]:8080/jwks.json', {}],
    ['http://keys.internal/jwks.json', { allowInsecureHttp: true }],
  ];
  it.each(allowed)('accepts %s %o', (uri, options) => {
    expect(createRemoteJwks(uri, options).uri).toBe(uri);
  });

  it.each([
    ['timeout', { timeout: 'soon' }],
    ['timeout', { timeout: 0 }],
    ['cooldown', { cooldown: -1 }],
    ['minTtl', { minTtl: '1h', maxTtl: '1m' }],
    ['maxBodyBytes', { maxBodyBytes: 0 }],
    ['maxKeys', { maxKeys: 1.5 }],
    ['onFetch', { onFetch: 'yes' }],
  ])('refuses a bad "%s" option', (name, options) => {
    expect(() => createRemoteJwks('https://a.example/jwks', options as RemoteJwksOptions)).toThrow(
      new RegExp(`"${name}"`),
    );
  });

  it('fetches nothing before first use', async () => {
    const h = await harness(all);
    expect(h.jwks.status().fetchedAt).toBeUndefined();
    expect(h.server.count()).toBe(0);
    expect(h.jwks.status().freshUntil).toBe(undefined);
    await h.jwks.getKeys(es);
    expect(h.jwks.status().freshUntil).toBe(NOW + 300);
  });
});

// Behaviour 9 of issue 3 (discovery), plus sharing of discovered caches (behaviour 10).
import { describe, expect, it } from 'vitest';
import { createDiscoveredJwks, discoveryUrls } from '../../src/keys/discovery.js';
import type { RemoteJwksOptions } from '../../src/keys/remote-jwks.js';
import { sharedDiscoveredJwks, sharedRemoteJwks } from '../../src/keys/shared.js';
import { createClock } from '@tokengate/test-fixtures/clock';
import { publicJwks, signing } from '@tokengate/test-fixtures/keys';
import type { JwksServer } from '@tokengate/test-fixtures/jwks-server';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import { DISCOVERY_PATH, JWKS_PATH, createEvents, serve } from './harness.js';

const { es256, rs256 } = signing;
const es = { kid: es256.kid, alg: 'ES256' };
const OAUTH_PATH = '/.well-known/oauth-authorization-server';

function discover(server: JwksServer, issuer = server.issuer, options: RemoteJwksOptions = {}) {
  const clock = createClock();
  const logger = createCapturingLogger();
  const events = createEvents();
  const keys = createDiscoveredJwks(issuer, {
    now: clock.now,
    logger,
    onFetch: events.onFetch,
    onError: events.onError,
    ...options,
  });
  return { keys, clock, logger, events };
}

const paths = (server: JwksServer): string[] => server.requests.map((r) => r.path);

describe('9. discovery', () => {
  it('reads openid-configuration, checks the issuer, then uses its jwks_uri', async () => {
    const server = await serve(publicJwks(es256));
    const { keys } = discover(server);
    expect((await keys.getKeys(es))[0]!.kid).toBe(es256.kid);
    expect(paths(server)).toEqual([DISCOVERY_PATH, JWKS_PATH]);
    expect(await keys.metadata()).toMatchObject({ issuer: server.issuer, jwksUri: server.url });
  });

  it.each([
    { name: 'without the trailing slash', issuer: (s: JwksServer) => s.origin },
    {
      name: 'with another host spelling',
      issuer: (s: JwksServer) => s.issuer.replace('127.0.0.1', '127.000.0.1'),
    },
  ])('refuses metadata whose issuer differs from the configured one $name', async ({ issuer }) => {
    const server = await serve(publicJwks(es256));
    const { keys, logger } = discover(server, issuer(server));
    const err = await Promise.resolve(keys.getKeys(es)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'jwks_unavailable', status: 503 });
    expect(((err as Error).cause as Error).message).toBe('metadata "issuer" does not match');
    expect(server.count(JWKS_PATH)).toBe(0);
    expect(logger.at('error')).toHaveLength(1);
    expect(logger.at('error')[0]!.obj).toMatchObject({
      event: 'discovery_fetch_failed',
      uri: server.origin + DISCOVERY_PATH,
    });
  });

  it('refuses metadata naming another issuer (impersonation)', async () => {
    const server = await serve(publicJwks(es256), {
      metadata: { issuer: 'https://evil.example/' },
    });
    const { keys } = discover(server);
    await expect(keys.getKeys(es)).rejects.toMatchObject({ code: 'jwks_unavailable' });
    expect(paths(server)).toEqual([DISCOVERY_PATH]);
  });

  it.each([
    { name: 'no jwks_uri', metadata: { jwks_uri: undefined }, reason: /no "jwks_uri"/ },
    {
      name: 'a plain-http jwks_uri',
      metadata: { jwks_uri: 'http://keys.example.com/jwks' },
      reason: /must use https/,
    },
    { name: 'nothing at either well-known path', metadata: null, reason: /status 404/ },
  ])('refuses metadata with $name', async ({ metadata, reason }) => {
    const server = await serve(publicJwks(es256), { metadata });
    const { keys } = discover(server);
    const err = await keys.refresh().catch((e: unknown) => e);
    expect(((err as Error).cause as Error).message).toMatch(reason);
    expect(server.count(JWKS_PATH)).toBe(0);
  });

  it('falls back to oauth-authorization-server when openid-configuration is missing', async () => {
    const server = await serve(publicJwks(es256), {
      metadata: null,
      handler: (req, ctx) =>
        req.path === OAUTH_PATH
          ? { body: { issuer: ctx.server.issuer, jwks_uri: ctx.server.url } }
          : undefined,
    });
    const { keys } = discover(server);
    await keys.getKeys(es);
    expect(paths(server)).toEqual([DISCOVERY_PATH, OAUTH_PATH, JWKS_PATH]);
    expect(keys.status().metadataUri).toBe(server.origin + OAUTH_PATH);
  });

  it('inserts the well-known segment before an issuer path (RFC 8414 §3)', async () => {
    const server = await serve(publicJwks(es256), {
      metadata: null,
      handler: (req, ctx) =>
        req.path === `${OAUTH_PATH}/tenant`
          ? { body: { issuer: `${ctx.server.origin}/tenant`, jwks_uri: ctx.server.url } }
          : undefined,
    });
    const { keys } = discover(server, `${server.origin}/tenant`);
    await keys.getKeys(es);
    expect(paths(server)).toEqual([`/tenant${DISCOVERY_PATH}`, `${OAUTH_PATH}/tenant`, JWKS_PATH]);
  });

  it.each([
    [
      'https://id.example',
      [
        'https://id.example/.well-known/openid-configuration',
        'https://id.example/.well-known/oauth-authorization-server',
      ],
    ],
    [
      'https://id.example/',
      [
        'https://id.example/.well-known/openid-configuration',
        'https://id.example/.well-known/oauth-authorization-server',
      ],
    ],
    [
      'https://id.example/t/1/',
      [
        'https://id.example/t/1/.well-known/openid-configuration',
        'https://id.example/.well-known/oauth-authorization-server/t/1',
      ],
    ],
  ])('discoveryUrls(%s)', (issuer, expected) => {
    expect(discoveryUrls(new URL(issuer)).map(String)).toEqual(expected);
  });

  it('1,000 concurrent cold requests make one metadata and one JWKS request', async () => {
    const server = await serve(publicJwks(es256, rs256));
    const { keys } = discover(server);
    const results = await Promise.all(Array.from({ length: 1000 }, () => keys.getKeys(es)));
    expect(new Set(results.map((r) => r[0])).size).toBe(1);
    expect(paths(server)).toEqual([DISCOVERY_PATH, JWKS_PATH]);
  });

  it('caches the metadata by HTTP rules and revalidates it with If-None-Match', async () => {
    const server = await serve(publicJwks(es256), {
      handler: (req, ctx) => {
        if (req.path !== DISCOVERY_PATH) return undefined;
        const headers = { etag: '"m1"', 'cache-control': 'max-age=600' };
        if (req.headers['if-none-match'] === '"m1"') return { status: 304, headers };
        return { ...ctx.fallback(), headers };
      },
    });
    const { keys, clock, events } = discover(server);
    const key = (await keys.getKeys(es))[0]!;
    clock.advance(599);
    await keys.getKeys(es);
    await events.settle(3);
    expect(server.count(DISCOVERY_PATH)).toBe(1);
    expect(server.count(JWKS_PATH)).toBe(2); // the JWKS has its own lifetime (300 s)
    clock.advance(1);
    expect(keys.isPublished(key)).toBe(true); // starts the metadata revalidation
    await events.settle(4);
    expect(server.requestsTo(DISCOVERY_PATH)[1]!.headers['if-none-match']).toBe('"m1"');
    expect(keys.status().metadata).toMatchObject({ fetches: 2, notModified: 1, state: 'fresh' });
    expect(keys.isPublished(key)).toBe(true);
  });

  it('keeps serving keys while the metadata endpoint fails (stale-if-error)', async () => {
    const server = await serve(publicJwks(es256), { cacheControl: 'max-age=60' });
    const { keys, clock, events } = discover(server);
    await keys.getKeys(es);
    server.setHandler((req) => (req.path === DISCOVERY_PATH ? { status: 502 } : undefined));
    clock.advance(60);
    expect((await keys.getKeys(es))[0]!.kid).toBe(es256.kid);
    await events.settle(4);
    expect(events.seen.filter((e) => e.startsWith('error'))).toEqual([
      'error unexpected HTTP status 502',
    ]);
    expect(server.count(DISCOVERY_PATH)).toBe(2);
    expect(keys.status().metadata.lastError).toMatchObject({ status: 502 });
  });

  it('moves to a new jwks_uri: keys of the old set stop being published', async () => {
    const server = await serve(publicJwks(es256));
    const next = await serve(publicJwks(rs256));
    const { keys, clock, events } = discover(server);
    const oldKey = (await keys.getKeys(es))[0]!;
    server.configure({ metadata: { jwks_uri: next.url } });
    clock.advance(300);
    expect(keys.isPublished(oldKey)).toBe(true);
    await events.settle(4); // the new metadata, and a 304 for the old JWKS
    expect(keys.isPublished(oldKey)).toBe(false);
    expect((await keys.getKeys({ kid: rs256.kid, alg: 'RS256' }))[0]!.kid).toBe(rs256.kid);
    expect([server.count(JWKS_PATH), next.count(JWKS_PATH)]).toEqual([2, 1]);
    expect(keys.status().jwksUri).toBe(next.url);
  });

  it('refresh() warms metadata and keys; status() reports both', async () => {
    const server = await serve(publicJwks(es256));
    const { keys } = discover(server);
    expect(keys.status()).toMatchObject({ jwks: undefined, metadata: { state: 'cold' } });
    await keys.refresh();
    expect(paths(server)).toEqual([DISCOVERY_PATH, JWKS_PATH]);
    expect(keys.status()).toMatchObject({
      issuer: server.issuer,
      jwksUri: server.url,
      metadata: { state: 'fresh', fetches: 1 },
      jwks: { state: 'fresh', keys: [es256.kid] },
    });
  });

  it.each([
    'http://issuer.example.com/',
    'https://issuer.example.com/?tenant=1',
    'https://issuer.example.com/#x',
    'issuer.example.com',
  ])('refuses issuer %s at construction (TypeError)', (issuer) => {
    expect(() => createDiscoveredJwks(issuer)).toThrow(TypeError);
  });
});

describe('10. sharing discovered caches', () => {
  it('shares by issuer and clock, and shares the JWKS cache with sharedRemoteJwks', async () => {
    const server = await serve(publicJwks(es256));
    const clock = createClock();
    const a = sharedDiscoveredJwks(server.issuer, { now: clock.now });
    expect(sharedDiscoveredJwks(server.issuer, { now: clock.now })).toBe(a);
    expect(sharedDiscoveredJwks(server.issuer, { now: createClock().now })).not.toBe(a);
    await a.getKeys(es);
    await sharedRemoteJwks(server.url, { now: clock.now }).getKeys(es);
    expect(paths(server)).toEqual([DISCOVERY_PATH, JWKS_PATH]);
  });
});

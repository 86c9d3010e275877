// The verifier with keys from real loopback key servers: persistence, telemetry, sharing,
// discovery and several issuers. Each test counts what the key servers received.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFileStore, createMemoryStore, createVerifier } from '../../src/index.js';
import type { JwksStore, TokengateEvent, VerifierOptions } from '../../src/index.js';
import { createClock } from '@tokengate/test-fixtures/clock';
import type { FakeClock } from '@tokengate/test-fixtures/clock';
import { JWKS_PATH, DISCOVERY_PATH, startJwksServer } from '@tokengate/test-fixtures/jwks-server';
import type { JwksServer } from '@tokengate/test-fixtures/jwks-server';
import { createSigningKey, publicJwks, signing } from '@tokengate/test-fixtures/keys';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import { AUDIENCE, claims, sign } from '@tokengate/test-fixtures/tokens';

let server: JwksServer;
let clock: FakeClock;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tokengate-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await server?.close();
});

async function setup(): Promise<VerifierOptions> {
  server = await startJwksServer(publicJwks(signing.es256, signing.rs256));
  clock = createClock();
  return {
    issuer: server.issuer,
    audience: AUDIENCE,
    jwksUri: server.url,
    now: clock.now,
    logger: createCapturingLogger(),
    jwks: { shared: false },
  };
}

const tokenFor = (iss: string, extra = {}) => sign(claims({ iss, ...extra }));
/** Lets a background revalidation started by the last call finish. */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('a JWKS store turns a cold start into a conditional request', () => {
  const stores: [string, () => JwksStore][] = [
    [
      'file store',
      () => createFileStore(join(dir, `s-${Math.random()}`), { now: () => clock.now() }),
    ],
    ['memory store', () => createMemoryStore()],
  ];
  it.each(stores)('%s: fresh copy → no request; stale copy → one 304', async (_name, make) => {
    const base = await setup();
    const inner = make();
    const writes: unknown[] = [];
    // The cache writes in the background; the test waits for exactly those writes.
    const store: JwksStore = {
      get: (key) => inner.get(key),
      set: (key, value, ttl) => {
        const done = Promise.resolve(inner.set(key, value, ttl));
        writes.push(done);
        return done;
      },
    };
    const first = createVerifier({ ...base, jwks: { shared: false, store } });
    await first.verify(await tokenFor(server.issuer));
    expect(server.count(JWKS_PATH)).toBe(1);
    await settle();
    await Promise.all(writes);
    expect(writes).toHaveLength(1);

    // A new process: its own cache, the same store. Within max-age it needs no request at all.
    const second = createVerifier({ ...base, jwks: { shared: false, store } });
    await second.verify(await tokenFor(server.issuer, { jti: 'b' }));
    expect(server.count(JWKS_PATH)).toBe(1);

    // Past max-age (300 s), a third process revalidates the stored copy: 304, not 200.
    clock.advance(301);
    const third = createVerifier({ ...base, jwks: { shared: false, store } });
    await third.verify(await tokenFor(server.issuer, { jti: 'c' }));
    const requests = server.requestsTo(JWKS_PATH);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.headers['if-none-match']).toBe(server.etag);
  });

  it('a store that fails costs a warning, never a request', async () => {
    const base = await setup();
    const logger = createCapturingLogger();
    const broken: JwksStore = {
      get: () => Promise.reject(new Error('store down')),
      set: () => Promise.reject(new Error('store down')),
    };
    const v = createVerifier({ ...base, logger, jwks: { shared: false, store: broken } });
    await expect(v.verify(await tokenFor(server.issuer))).resolves.toBeDefined();
    await settle();
    expect(server.count(JWKS_PATH)).toBe(1);
    expect(
      logger.entries.filter((e) => e.obj.event === 'jwks_store_failed').map((e) => e.obj.op),
    ).toEqual(['get', 'set']);
  });

  it('a stored copy for another URL is ignored', async () => {
    const base = await setup();
    const store = createMemoryStore();
    await store.set(
      `tokengate:jwks ${server.url}`,
      {
        url: 'http://127.0.0.1:1/x',
        body: { keys: [] },
        digest: 'd',
        fetchedAt: 0,
        freshUntil: 9e9,
      },
      60,
    );
    const v = createVerifier({ ...base, jwks: { shared: false, store } });
    await v.verify(await tokenFor(server.issuer));
    expect(server.count(JWKS_PATH)).toBe(1);
  });
});

describe('telemetry from the key cache', () => {
  it('emits jwks.fetch (200, 304, error), kid.miss, cooldown.hit, and jwks.stale_served / jwks.recovered once per episode', async () => {
    const base = await setup();
    const events: TokengateEvent[] = [];
    const v = createVerifier({ ...base, onEvent: (e) => events.push(e) });
    await v.verify(await tokenFor(server.issuer));
    await v.verify(await sign(claims({ iss: server.issuer }), { kid: 'nope-1' })).catch(() => {});
    await v.verify(await sign(claims({ iss: server.issuer }), { kid: 'nope-2' })).catch(() => {});
    clock.advance(301);
    server.down();
    await v.verify(await tokenFor(server.issuer, { jti: 'stale' }));
    await settle();
    // Served stale many times within the backoff: no further event.
    for (let i = 0; i < 5; i++) await v.verify(await tokenFor(server.issuer, { jti: `s-${i}` }));
    server.up();
    clock.advance(1);
    await v.verify(await tokenFor(server.issuer, { jti: 'recovering' }));
    await settle();
    await v.verify(await tokenFor(server.issuer, { jti: 'fresh' }));
    const kinds = events
      .filter((e) => e.type !== 'token.verified' && e.type !== 'token.rejected')
      .map((e) => (e.type === 'jwks.fetch' ? `fetch ${e.status}` : e.type));
    expect(kinds).toEqual([
      'fetch 200',
      'kid.miss',
      'fetch 304',
      'kid.miss',
      'cooldown.hit',
      'fetch error',
      'jwks.stale_served',
      'fetch 304',
      'jwks.recovered',
    ]);
    const fetch = events.find((e) => e.type === 'jwks.fetch');
    expect(fetch).toMatchObject({ uri: server.url, durationMs: expect.any(Number) });
    expect(events.find((e) => e.type === 'jwks.stale_served')).toEqual({
      type: 'jwks.stale_served',
      uri: server.url,
      ageSeconds: 301,
    });
    expect(events.find((e) => e.type === 'jwks.recovered')).toEqual({
      type: 'jwks.recovered',
      uri: server.url,
      staleSeconds: 1,
    });
  });
});

describe('verifiers naming the same jwksUri share one cache', () => {
  it('makes one request for two verifiers, and both hear the fetch', async () => {
    const base = await setup();
    const heard: string[] = [];
    const opts = (name: string): VerifierOptions => ({
      ...base,
      jwks: {},
      onEvent: (e) => e.type === 'jwks.fetch' && heard.push(name),
    });
    const a = createVerifier(opts('a'));
    const b = createVerifier(opts('b'));
    await Promise.all([
      a.verify(await tokenFor(server.issuer)),
      b.verify(await tokenFor(server.issuer, { jti: 'x' })),
    ]);
    expect(server.count(JWKS_PATH)).toBe(1);
    expect(heard.sort()).toEqual(['a', 'b']);
  });
});

describe('rotation through the verifier', () => {
  it('a removed key stops verifying cached tokens once the new set is seen; a new kid is picked up', async () => {
    const base = await setup();
    const v = createVerifier(base);
    const old = await tokenFor(server.issuer);
    await v.verify(old);
    const next = await createSigningKey('ES256', 'es256-2026-02-01');
    server.setJwks(publicJwks(next)); // es256 retired
    // A token naming the new kid forces one refresh and verifies.
    await v.verify(await sign(claims({ iss: server.issuer }), { key: next }));
    expect(server.count(JWKS_PATH)).toBe(2);
    await expect(v.verify(old)).rejects.toMatchObject({ code: 'kid_unknown' });
  });
});

describe('discovery through the verifier', () => {
  it('reads jwks_uri from openid-configuration and verifies', async () => {
    const base = await setup();
    const v = createVerifier({ ...base, jwksUri: undefined, discovery: true });
    await expect(v.verify(await tokenFor(server.issuer))).resolves.toBeDefined();
    expect(server.count(DISCOVERY_PATH)).toBe(1);
    expect(server.count(JWKS_PATH)).toBe(1);
  });

  it('refuses metadata naming another issuer (503), without fetching keys', async () => {
    const base = await setup();
    server.configure({ issuer: 'https://someone.else/' });
    const v = createVerifier({ ...base, jwksUri: undefined, discovery: true });
    await expect(v.verify(await tokenFor(base.issuer as string))).rejects.toMatchObject({
      code: 'jwks_unavailable',
    });
    expect(server.count(JWKS_PATH)).toBe(0);
  });
});

describe('several issuers, each with its own key server', () => {
  let other: JwksServer;
  afterEach(async () => {
    await other?.close();
  });

  it("verifies each issuer's tokens with its own keys only, and never contacts an unlisted one", async () => {
    const base = await setup();
    const partnerKey = await createSigningKey('ES256', 'partner-1');
    other = await startJwksServer(publicJwks(partnerKey));
    const v = createVerifier({
      audience: AUDIENCE,
      now: clock.now,
      logger: base.logger!,
      issuers: [
        { issuer: server.issuer, jwksUri: server.url },
        { issuer: other.issuer, jwksUri: other.url, typ: 'at+jwt' },
      ],
    });
    await v.verify(await tokenFor(server.issuer));
    await v.verify(await sign(claims({ iss: other.issuer }), { key: partnerKey }));
    // A partner key signing a token that claims the first issuer: looked up at the first
    // issuer's key server only, where that kid does not exist.
    await expect(
      v.verify(await sign(claims({ iss: server.issuer, jti: 'p' }), { key: partnerKey })),
    ).rejects.toMatchObject({
      code: 'kid_unknown',
    });
    const before = server.count() + other.count();
    await expect(v.verify(await tokenFor('https://unlisted.example/'))).rejects.toMatchObject({
      code: 'issuer_mismatch',
    });
    expect(server.count() + other.count()).toBe(before);
    expect(other.count(JWKS_PATH)).toBe(1);
  });
});

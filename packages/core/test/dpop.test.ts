import { generateKeyPair, exportJWK, calculateJwkThumbprint } from 'jose';
import { describe, expect, it } from 'vitest';
import { normalizeDpop, normalizeHtu, verifyProof, jwkThumbprint } from '../src/binding/dpop.js';
import type { DpopOptions } from '../src/binding/dpop.js';
import { createNonceSource } from '../src/binding/dpop-nonce.js';
import { accessTokenHash } from '../src/index.js';
import { createClock } from '@tokengate/test-fixtures/clock';
import { ath, createDpopKey, proof } from '@tokengate/test-fixtures/dpop';
import type { ProofOptions } from '@tokengate/test-fixtures/dpop';
import { NOW } from '@tokengate/test-fixtures/tokens';

const URL_ = 'https://api.test/orders';
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln';
const es256 = await createDpopKey('ES256');
const other = await createDpopKey('ES256');
const options = (extra: DpopOptions = {}) => normalizeDpop(extra, () => NOW);
const request = { method: 'GET', url: URL_, accessToken: TOKEN };
const base: ProofOptions = { htu: URL_, token: TOKEN };

describe('verifyProof', () => {
  it.each(['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'])('accepts a %s proof', async (alg) => {
    const key = await createDpopKey(alg);
    const checked = verifyProof({ ...request, proof: await proof(key, base) }, options());
    expect(checked.jkt).toBe(key.jkt);
    expect(checked.payload.htu).toBe(URL_);
  });

  const rejected: { name: string; make: () => Promise<string>; reason: RegExp }[] = [
    {
      name: 'typ is not dpop+jwt',
      make: () => proof(es256, { ...base, header: { typ: 'JWT' } }),
      reason: /typ/,
    },
    {
      name: 'no typ',
      make: () => proof(es256, { ...base, header: { typ: undefined } }),
      reason: /typ/,
    },
    {
      name: 'HS256 (symmetric) even with a jwk',
      make: () => proof(es256, { ...base, header: { alg: 'HS256' }, signWith: new Uint8Array(32) }),
      reason: /"alg"/,
    },
    {
      name: 'no jwk in the header',
      make: () => proof(es256, { ...base, header: { jwk: undefined } }),
      reason: /proof has no "jwk"/,
    },
    {
      name: 'a private key in the jwk',
      make: async () => {
        const { privateKey } = await generateKeyPair('ES256', { extractable: true });
        return proof(es256, { ...base, header: { jwk: await exportJWK(privateKey) } });
      },
      reason: /private/,
    },
    {
      name: 'jwk of another curve than alg',
      make: async () => {
        const p384 = await createDpopKey('ES384');
        return proof(es256, { ...base, header: { jwk: p384.publicJwk } });
      },
      reason: /does not fit/,
    },
    {
      name: 'signed by another key than the jwk',
      make: () => proof(es256, { ...base, signWith: other.privateKey }),
      reason: /signature/,
    },
    {
      name: 'htm does not match',
      make: () => proof(es256, { ...base, htm: 'POST' }),
      reason: /"htm"/,
    },
    {
      name: 'htm in lower case',
      make: () => proof(es256, { ...base, htm: 'get' }),
      reason: /"htm"/,
    },
    {
      name: 'htu names another path',
      make: () => proof(es256, { ...base, htu: 'https://api.test/admin' }),
      reason: /"htu"/,
    },
    {
      name: 'htu names another host',
      make: () => proof(es256, { ...base, htu: 'https://evil.test/orders' }),
      reason: /"htu"/,
    },
    {
      name: 'htu over http for an https request',
      make: () => proof(es256, { ...base, htu: 'http://api.test/orders' }),
      reason: /"htu"/,
    },
    {
      name: 'htu is not a URL',
      make: () => proof(es256, { ...base, htu: '/orders' }),
      reason: /"htu"/,
    },
    {
      name: 'iat 61 s ago (window 60 s)',
      make: () => proof(es256, { ...base, iat: NOW - 61 }),
      reason: /"iat"/,
    },
    {
      name: 'iat 61 s ahead (window 60 s)',
      make: () => proof(es256, { ...base, iat: NOW + 61 }),
      reason: /"iat"/,
    },
    {
      name: 'ath of another token',
      make: () => proof(es256, { ...base, token: `${TOKEN}x` }),
      reason: /"ath" does not match/,
    },
    {
      name: 'no ath',
      make: () => proof(es256, { ...base, token: undefined }),
      reason: /proof has no "ath"/,
    },
    {
      name: 'no jti',
      make: () => proof(es256, { ...base, claims: { jti: undefined } }),
      reason: /"jti"/,
    },
    {
      name: 'iat is a string',
      make: () => proof(es256, { ...base, claims: { iat: String(NOW) as never } }),
      reason: /"iat"/,
    },
    {
      name: 'the header is not JSON',
      make: async () => `${Buffer.from('not json').toString('base64url')}.e30.c2ln`,
      reason: /malformed/,
    },
    { name: 'not a JWT', make: async () => 'not-a-jwt', reason: /malformed/ },
    { name: 'five parts (a JWE)', make: async () => 'e30.a.b.c.d', reason: /malformed|JWS/ },
    { name: 'longer than 8 KiB', make: async () => 'a'.repeat(8193), reason: /too large/ },
  ];
  it.each(rejected)('refuses a proof when $name', async ({ make, reason }) => {
    const input = { ...request, proof: await make() };
    expect(() => verifyProof(input, options())).toThrow(
      expect.objectContaining({
        code: 'dpop_proof_invalid',
        reason: expect.stringMatching(reason),
      }),
    );
  });

  it('accepts iat exactly 60 s away on either side', async () => {
    for (const iat of [NOW - 60, NOW + 60]) {
      const input = { ...request, proof: await proof(es256, { ...base, iat }) };
      expect(verifyProof(input, options()).payload.iat).toBe(iat);
    }
  });

  it('honours a narrowed iatWindow', async () => {
    const input = { ...request, proof: await proof(es256, { ...base, iat: NOW - 11 }) };
    expect(() => verifyProof(input, options({ iatWindow: '10s' }))).toThrow(/DPoP/);
    expect(verifyProof(input, options({ iatWindow: '11s' })).jkt).toBe(es256.jkt);
  });

  it('refuses an alg outside a narrowed allow-list', async () => {
    const input = { ...request, proof: await proof(es256, base) };
    expect(() => verifyProof(input, options({ algorithms: ['EdDSA'] }))).toThrow(
      expect.objectContaining({ reason: 'proof "alg" is not allowed' }),
    );
  });

  it('ignores the query of both URLs and normalises htu', async () => {
    const input = {
      ...request,
      url: 'https://API.test:443/orders?page=2',
      proof: await proof(es256, { ...base, htu: 'https://api.test/%6Frders#top' }),
    };
    expect(verifyProof(input, options()).jkt).toBe(es256.jkt);
  });
});

describe('normalizeHtu', () => {
  const same: [string, string][] = [
    ['HTTPS://Api.Test/orders', 'https://api.test/orders'],
    ['https://api.test:443/orders', 'https://api.test/orders'],
    ['http://api.test:80/orders', 'http://api.test/orders'],
    ['https://api.test', 'https://api.test/'],
    ['https://api.test/a/../orders', 'https://api.test/orders'],
    ['https://api.test/%7euser', 'https://api.test/~user'],
    ['https://api.test/a%2fb', 'https://api.test/a%2Fb'],
    ['https://api.test/orders?x=1#f', 'https://api.test/orders'],
  ];
  it.each(same)('%s → %s', (input, output) => {
    expect(normalizeHtu(input)).toBe(output);
  });

  it.each(['https://api.test:8443/orders', 'https://api.test/Orders', 'https://api.test/orders/'])(
    'keeps %s distinct from https://api.test/orders',
    (input) => {
      expect(normalizeHtu(input)).not.toBe('https://api.test/orders');
    },
  );

  it.each(['/orders', 'ftp://api.test/orders', 'not a url'])('refuses %s', (input) => {
    expect(normalizeHtu(input)).toBeUndefined();
  });
});

describe('thumbprints and ath', () => {
  it.each(['ES256', 'ES512', 'RS256', 'EdDSA'])(
    'jwkThumbprint agrees with jose for %s',
    async (alg) => {
      const { publicKey } = await generateKeyPair(alg, { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: 'k', use: 'sig' };
      expect(jwkThumbprint(jwk)).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
    },
  );

  it('matches the RFC 7638 §3.1 example', () => {
    const n =
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    expect(jwkThumbprint({ kty: 'RSA', n, e: 'AQAB', alg: 'RS256', kid: '2011-04-29' })).toBe(
      'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    );
  });

  it('ath is base64url(SHA-256) of the token', () => {
    expect(accessTokenHash(TOKEN)).toBe(ath(TOKEN));
  });
});

describe('normalizeDpop (configuration mistakes throw at start-up)', () => {
  const bad: { name: string; options: unknown; message: RegExp }[] = [
    { name: 'unknown mode', options: { mode: 'on' }, message: /mode/ },
    { name: 'HS256 in algorithms', options: { algorithms: ['HS256'] }, message: /asymmetric/ },
    { name: 'none in algorithms', options: { algorithms: ['none'] }, message: /asymmetric/ },
    { name: 'empty algorithms', options: { algorithms: [] }, message: /non-empty/ },
    { name: 'bad iatWindow', options: { iatWindow: 'soon' }, message: /iatWindow/ },
    { name: 'origin with a path', options: { origin: 'https://a.test/x' }, message: /origin/ },
    {
      name: 'origin and url',
      options: { origin: 'https://a.test', url: () => '' },
      message: /one of/,
    },
    { name: 'store without add', options: { replayStore: {} }, message: /replayStore/ },
    { name: 'short nonce secret', options: { nonce: { secret: 'short' } }, message: /32 bytes/ },
    { name: 'half a nonce source', options: { nonce: { current: () => 'n' } }, message: /isValid/ },
    { name: 'now: null', options: { now: null }, message: /"dpop.now" must not be null/ },
    {
      name: 'iatWindow: null',
      options: { iatWindow: null },
      message: /"dpop.iatWindow" must not be null/,
    },
    {
      name: 'nonce lifetime: null',
      options: { nonce: { secret: 'a nonce secret of at least 32 bytes!', lifetime: null } },
      message: /"dpop.nonce.lifetime" must not be null/,
    },
  ];
  it.each(bad)('$name', ({ options: o, message }) => {
    expect(() => normalizeDpop(o as DpopOptions, () => NOW)).toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(message) }),
    );
  });

  it('defaults: allowed, six algorithms, 60 s window; absent means disabled', () => {
    const o = normalizeDpop({}, () => NOW);
    expect([o.mode, o.algorithms.length, o.iatWindow]).toEqual(['allowed', 6, 60]);
    expect(normalizeDpop(undefined, () => NOW).mode).toBe('disabled');
    expect(normalizeDpop({ origin: 'HTTPS://Api.Test:443/' }, () => NOW).origin).toBe(
      'https://api.test',
    );
  });
});

describe('secret nonces', () => {
  const secret = 'a secret of at least thirty-two bytes';

  it('accepts the current nonce for one more lifetime, then refuses it', () => {
    const clock = createClock();
    const nonces = createNonceSource({ secret, lifetime: '1m' }, clock.now);
    const nonce = nonces.current();
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{30}$/);
    expect(nonces.isValid(nonce)).toBe(true);
    clock.advance(60);
    expect(nonces.current()).not.toBe(nonce);
    expect(nonces.isValid(nonce)).toBe(true);
    clock.advance(60);
    expect(nonces.isValid(nonce)).toBe(false);
  });

  it('refuses a nonce from another secret, a tampered one and garbage', () => {
    const clock = createClock();
    const mine = createNonceSource({ secret }, clock.now);
    const theirs = createNonceSource({ secret: `${secret}!` }, clock.now);
    const nonce = mine.current();
    // Position 20 lies in the MAC and is not the last character (whose low bits are unused).
    const tampered = nonce.slice(0, 20) + (nonce[20] === 'A' ? 'B' : 'A') + nonce.slice(21);
    expect(mine.isValid(nonce)).toBe(true);
    expect(mine.isValid(theirs.current())).toBe(false);
    expect(mine.isValid(tampered)).toBe(false);
    expect(mine.isValid('x'.repeat(30))).toBe(false);
    expect(mine.isValid('')).toBe(false);
  });

  it('a nonce from another receiver with the same secret is accepted', () => {
    const clock = createClock();
    const a = createNonceSource({ secret }, clock.now);
    const b = createNonceSource({ secret: Buffer.from(secret) }, clock.now);
    expect(b.isValid(a.current())).toBe(true);
  });

  it('a custom source whose nonce could break the header is a bug, not a 401', () => {
    const source = createNonceSource({ current: () => 'a"b', isValid: () => true }, () => NOW);
    expect(() => source.current()).toThrow(/invalid nonce/);
  });
});

describe('a broken clock', () => {
  it.each([NaN, undefined, Infinity])(
    'refuses every proof while now() reads %s (the iat window would pass anything)',
    async (reading) => {
      const errors: object[] = [];
      const logger = { warn: () => {}, error: (obj: object) => void errors.push(obj) };
      const o = normalizeDpop({}, () => reading as number, logger);
      const request_ = { ...request, proof: await proof(es256, { ...base, iat: 1 }) };
      for (let i = 0; i < 2; i++) {
        expect(() => verifyProof(request_, o)).toThrow(
          expect.objectContaining({ code: 'clock_unavailable', status: 503 }),
        );
      }
      expect(errors).toEqual([expect.objectContaining({ event: 'clock_invalid' })]);
    },
  );
});

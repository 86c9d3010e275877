// THE conformance table: one behaviour, asserted identically for every adapter (drivers.ts).
import { expect } from 'vitest';
import type { VerificationErrorCode } from '@tokengate/core';
import type { FakeClock } from '../fixtures/clock.js';
import type { JwksServer } from '../fixtures/jwks-server.js';
import { encryption, hmacSecret, rogueKey, signing } from '../fixtures/keys.js';
import {
  ISSUER,
  SUBJECT,
  claims,
  nested,
  sign,
  signWith,
  unsecured,
  withHeaderSegment,
} from '../fixtures/tokens.js';
import { ROUTES } from './drivers.js';
import type { NeutralOptions, RouteName, RunningApp } from './drivers.js';

/** What a case can touch: its own clock, key server and running app. */
export interface CaseEnv {
  clock: FakeClock;
  jwks: JwksServer;
  app: RunningApp;
}

/** One request. `headers` as an array is a raw header list, sent as is (repeats included). */
export interface Outgoing {
  route?: RouteName;
  headers?: Record<string, string> | string[];
  /** The credential sent, so the suite can check that no log record contains it. */
  secret?: string;
}

export interface Expected {
  status: number;
  /** The exact WWW-Authenticate header; absent when undefined. */
  challenge?: string;
  /** Other response headers that must be present, exactly. */
  headers?: Record<string, string>;
  body: unknown;
  /** Whether the route handler ran. */
  handled: boolean;
  /** The one rejection record (its request-specific fields are filled in by the suite). */
  log?: { code: VerificationErrorCode; kid?: string; alg?: string; iss?: string };
}

export interface Case {
  name: string;
  /** Verifier and gate options on top of the suite's defaults. */
  options?: (env: Omit<CaseEnv, 'app'>) => Partial<NeutralOptions>;
  tokenFromCookie?: boolean;
  /** Runs before the request (warm caches, take the key server down, move the clock). */
  before?: (env: CaseEnv) => Promise<void>;
  request: (env: CaseEnv) => Promise<Outgoing>;
  expect: Expected;
  /** Extra checks after the response (what the key server saw, say). */
  after?: (env: CaseEnv) => void;
}

/** The JSON body every route handler answers with. */
export function handlerBody(route: RouteName, sub: unknown, encrypted = false) {
  return { route, sub, encrypted };
}

function bearer(token: string, route?: RouteName): Outgoing {
  return { route, headers: { authorization: `Bearer ${token}` }, secret: token };
}

const es256 = signing.es256;
type LogHints = Omit<NonNullable<Expected['log']>, 'code'>;
/** What the record names for a token signed with the default key: its kid, alg and (unverified) iss. */
/** Two trusted issuers: ours (its key server) and a partner with one static key. */
const PARTNER = 'https://partner.test/';
const multiIssuer = ({ jwks }: Omit<CaseEnv, 'app'>): Partial<NeutralOptions> => ({
  issuer: undefined,
  jwksUri: undefined,
  issuers: [
    { issuer: ISSUER, jwksUri: jwks.url },
    { issuer: PARTNER, keys: [rogueKey.publicJwk] },
  ],
});

const es256Hints = (iss = ISSUER): LogHints => ({ kid: es256.kid, alg: 'ES256', iss });

/** The challenge of an invalid or rejected token (RFC 6750 §3). */
const invalidToken = (description: string) =>
  `Bearer error="invalid_token", error_description="${description}"`;
const invalidRequest =
  'Bearer error="invalid_request", error_description="malformed authorization request"';
const insufficientScope = (scope?: string) =>
  'Bearer error="insufficient_scope", error_description="token lacks the required scope"' +
  (scope ? `, scope="${scope}"` : '');

function rejected(code: VerificationErrorCode, description: string, log: LogHints = {}): Expected {
  return {
    status: 401,
    challenge: invalidToken(description),
    body: { error: 'invalid_token', error_description: description },
    handled: false,
    log: { code, ...log },
  };
}

const missing: Expected = {
  status: 401,
  challenge: 'Bearer', // RFC 6750 §3.1: no error code when the request had no credentials
  body: { error: 'unauthorized', error_description: 'bearer token required' },
  handled: false,
  log: { code: 'token_missing' },
};

const badRequest: Expected = {
  status: 400,
  challenge: invalidRequest,
  body: { error: 'invalid_request', error_description: 'malformed authorization request' },
  handled: false,
  log: { code: 'request_invalid' },
};

const forbidden = (scope?: string): Expected => ({
  status: 403,
  challenge: insufficientScope(scope),
  body: { error: 'insufficient_scope', error_description: 'token lacks the required scope' },
  handled: false,
  log: { code: 'scope_insufficient', ...es256Hints() },
});

const ok = (route: RouteName = 'open', encrypted = false): Expected => ({
  status: 200,
  body: handlerBody(route, SUBJECT, encrypted),
  handled: true,
});

// Keys stay fresh for at most 60 s, then may be served stale for a day if the server fails.
const shortLivedKeys = { jwks: { maxTtl: 60, maxStale: '24h' } };

export const cases: Case[] = [
  // Accepted tokens.
  {
    name: 'valid JWS',
    request: async () => bearer(await sign(claims())),
    expect: ok(),
  },
  {
    name: 'valid nested JWE (signed, then encrypted to the receiver)',
    request: async () => bearer(await nested(claims())),
    expect: ok('open', true),
  },
  {
    name: 'valid nested JWE to the ECDH-ES key, signed with EdDSA',
    request: async () =>
      bearer(
        await nested(claims(), {
          sign: { key: signing.eddsa },
          encrypt: { to: encryption.ecdhEs },
        }),
      ),
    expect: ok('open', true),
  },
  {
    name: 'scheme is case-insensitive ("bearer")',
    request: async () => {
      const token = await sign(claims(), { key: signing.rs256 });
      return { headers: { authorization: `bearer ${token}` }, secret: token };
    },
    expect: ok(),
  },
  {
    name: 'same token twice: the second is a token-cache hit',
    before: async ({ app }) => {
      await app.http.get(ROUTES.open).set('authorization', `Bearer ${await cachedToken}`);
    },
    request: async () => bearer(await cachedToken),
    expect: ok(),
  },

  // No usable credentials.
  {
    name: 'missing token',
    request: async () => ({}),
    expect: missing,
  },
  {
    name: 'another scheme (Basic) is not a bearer token',
    request: async () => ({ headers: { authorization: 'Basic dXNlcjpwYXNz' } }),
    expect: missing,
  },
  {
    name: 'malformed Authorization header ("Bearer" with no token)',
    request: async () => ({ headers: { authorization: 'Bearer' } }),
    expect: badRequest,
  },
  {
    name: 'malformed Authorization header (two tokens)',
    request: async () => {
      const token = await sign(claims());
      return { headers: { authorization: `Bearer ${token} ${token}` }, secret: token };
    },
    expect: badRequest,
  },
  {
    name: 'two Authorization headers',
    request: async () => {
      const token = await sign(claims());
      const value = `Bearer ${token}`;
      return { headers: ['Authorization', value, 'Authorization', value], secret: token };
    },
    expect: badRequest,
  },
  {
    name: 'token sent twice (cookie and header)',
    tokenFromCookie: true,
    request: async () => {
      const token = await sign(claims());
      return {
        headers: { authorization: `Bearer ${token}`, cookie: `token=${token}` },
        secret: token,
      };
    },
    expect: badRequest,
  },
  {
    name: 'token from getToken (cookie) alone',
    tokenFromCookie: true,
    request: async () => {
      const token = await sign(claims());
      return { headers: { cookie: `token=${token}` }, secret: token };
    },
    expect: ok(),
  },

  // Rejected tokens.
  {
    name: 'malformed token header (not JSON)',
    request: async () => bearer(withHeaderSegment(await sign(claims()), 'not json')),
    expect: rejected('token_malformed', 'token is malformed'),
  },
  {
    name: 'malformed token (two parts)',
    request: async () => bearer('eyJhbGciOiJFUzI1NiJ9.e30'),
    expect: rejected('token_malformed', 'token is malformed'),
  },
  {
    name: 'bad signature (published kid, other key)',
    request: async () => bearer(await sign(claims(), { key: rogueKey, kid: es256.kid })),
    expect: rejected('signature_invalid', 'token signature is invalid', es256Hints()),
  },
  {
    name: 'expired (exp 6 s ago, tolerance 5 s)',
    request: async ({ clock }) => bearer(await sign(claims({ exp: clock.now() - 6 }))),
    expect: rejected('token_expired', 'token has expired', es256Hints()),
  },
  {
    name: 'not yet valid (nbf 6 s ahead, tolerance 5 s)',
    request: async ({ clock }) => bearer(await sign(claims({ nbf: clock.now() + 6 }))),
    expect: rejected('token_not_yet_valid', 'token is not yet valid', es256Hints()),
  },
  {
    name: 'a cached token that has since expired',
    before: async ({ app, clock }) => {
      await app.http.get(ROUTES.open).set('authorization', `Bearer ${await cachedToken}`);
      clock.advance(300 + 6);
    },
    request: async () => bearer(await cachedToken),
    expect: rejected('token_expired', 'token has expired', es256Hints()),
  },
  {
    name: 'a second listed issuer, verified with its own keys',
    options: multiIssuer,
    request: async () => bearer(await sign(claims({ iss: PARTNER }), { key: rogueKey })),
    expect: ok(),
  },
  {
    name: "a token claiming the second issuer, signed with the first issuer's key",
    options: multiIssuer,
    request: async () => bearer(await sign(claims({ iss: PARTNER }))),
    expect: rejected('kid_unknown', 'token signing key is unknown', es256Hints(PARTNER)),
    // The partner's keys are static: the first issuer's key server is never asked.
    after: ({ jwks }) => expect(jwks.count()).toBe(0),
  },
  {
    name: 'an issuer outside the list costs no key-server request',
    options: multiIssuer,
    request: async () => bearer(await sign(claims({ iss: 'https://evil.test/' }))),
    expect: rejected(
      'issuer_mismatch',
      'token issuer is not trusted',
      es256Hints('https://evil.test/'),
    ),
    after: ({ jwks }) => expect(jwks.count()).toBe(0),
  },
  {
    name: 'wrong issuer',
    request: async () => bearer(await sign(claims({ iss: 'https://evil.test/' }))),
    expect: rejected(
      'issuer_mismatch',
      'token issuer is not trusted',
      es256Hints('https://evil.test/'),
    ),
  },
  {
    name: 'wrong audience',
    request: async () => bearer(await sign(claims({ aud: 'api://billing' }))),
    expect: rejected('audience_mismatch', 'token audience does not match', es256Hints()),
  },
  {
    name: 'unknown kid',
    request: async () => bearer(await sign(claims(), { key: rogueKey })),
    expect: rejected('kid_unknown', 'token signing key is unknown', {
      kid: rogueKey.kid,
      alg: 'ES256',
      iss: ISSUER,
    }),
  },
  {
    name: 'alg none',
    request: async () => bearer(unsecured(claims())),
    expect: rejected('alg_not_allowed', 'token algorithm is not allowed', {
      alg: 'none',
      iss: ISSUER,
    }),
  },
  {
    name: 'alg not allowed (HS256)',
    request: async () => bearer(await signWith(claims(), hmacSecret, { alg: 'HS256' })),
    expect: rejected('alg_not_allowed', 'token algorithm is not allowed', {
      alg: 'HS256',
      iss: ISSUER,
    }),
  },
  {
    name: 'alg not in a narrowed allow-list (RS256 when only ES256 is allowed)',
    options: () => ({ algorithms: ['ES256'] }),
    request: async () => bearer(await sign(claims(), { key: signing.rs256 })),
    expect: rejected('alg_not_allowed', 'token algorithm is not allowed', {
      kid: signing.rs256.kid,
      alg: 'RS256',
      iss: ISSUER,
    }),
  },
  {
    name: 'encryption required but plain JWS',
    options: () => ({ requireEncryption: true }),
    request: async () => bearer(await sign(claims())),
    expect: rejected('encryption_required', 'token must be encrypted', es256Hints()),
  },
  {
    name: 'encryption required and nested JWE',
    options: () => ({ requireEncryption: true }),
    request: async () => bearer(await nested(claims())),
    expect: ok('open', true),
  },

  // Scopes and claims.
  {
    name: 'insufficient scope (403 with scope=)',
    request: async () => bearer(await sign(claims()), 'write'),
    expect: forbidden('orders:read orders:write'),
  },
  {
    name: 'scope satisfied',
    request: async () => bearer(await sign(claims({ scope: 'orders:read orders:write' })), 'write'),
    expect: ok('write'),
  },
  {
    name: '`scp` array satisfies the scope guard',
    request: async () =>
      bearer(
        await sign(claims({ scope: undefined, scp: ['orders:write', 'orders:read'] })),
        'write',
      ),
    expect: ok('write'),
  },
  {
    name: 'a permissions array satisfies the scope guard when scopeClaims names it',
    options: () => ({ scopeClaims: ['permissions'] }),
    request: async () =>
      bearer(
        await sign(claims({ scope: undefined, permissions: ['orders:read', 'orders:write'] })),
        'write',
      ),
    expect: ok('write'),
  },
  {
    name: 'a permissions array is not read by default',
    request: async () =>
      bearer(
        await sign(claims({ scope: undefined, permissions: ['orders:read', 'orders:write'] })),
        'write',
      ),
    expect: forbidden('orders:read orders:write'),
  },
  {
    name: 'any-of scope satisfied by one scope',
    request: async () => bearer(await sign(claims({ scope: 'orders:admin' })), 'any'),
    expect: ok('any'),
  },
  {
    name: 'any-of scope with none of the scopes',
    request: async () => bearer(await sign(claims()), 'any'),
    expect: forbidden('orders:write orders:admin'),
  },
  {
    name: 'claims predicate satisfied',
    request: async () => bearer(await sign(claims({ role: 'admin' })), 'admin'),
    expect: ok('admin'),
  },
  {
    name: 'claims predicate not satisfied (403, no scope=)',
    request: async () => bearer(await sign(claims({ role: 'clerk' })), 'admin'),
    expect: forbidden(),
  },

  // Optional credentials.
  {
    name: 'credentials optional, no token',
    options: () => ({ credentialsRequired: false }),
    request: async () => ({}),
    expect: { status: 200, body: handlerBody('open', null), handled: true },
  },
  {
    name: 'credentials optional, valid token',
    options: () => ({ credentialsRequired: false }),
    request: async () => bearer(await sign(claims())),
    expect: ok(),
  },
  {
    name: 'credentials optional, bad token is still rejected',
    options: () => ({ credentialsRequired: false }),
    request: async ({ clock }) => bearer(await sign(claims({ exp: clock.now() - 6 }))),
    expect: rejected('token_expired', 'token has expired', es256Hints()),
  },
  {
    name: 'credentials optional, no token, scope guard answers 401',
    options: () => ({ credentialsRequired: false }),
    request: async () => ({ route: 'write' }),
    expect: missing,
  },

  // The key server.
  {
    name: 'key server down, keys cached (stale) → 200',
    options: () => shortLivedKeys,
    before: async ({ app, jwks, clock }) => {
      // Warm the key cache, then let it go stale while the server is down.
      const res = await app.http
        .get(ROUTES.open)
        .set('authorization', `Bearer ${await sign(claims())}`);
      if (res.status !== 200) throw new Error(`warm-up answered ${res.status}`);
      jwks.down();
      clock.advance(3600);
    },
    request: async ({ clock }) => bearer(await sign(claims({}, clock.now()))),
    expect: ok(),
    after: ({ jwks }) => {
      // The stale keys answered although a refresh was tried and failed.
      expect(jwks.count()).toBeGreaterThanOrEqual(2);
    },
  },
  {
    name: 'key server down, no keys cached → 503',
    options: () => shortLivedKeys,
    before: async ({ jwks }) => {
      jwks.down();
    },
    request: async () => bearer(await sign(claims())),
    expect: {
      status: 503,
      headers: { 'retry-after': '30' },
      body: {
        error: 'temporarily_unavailable',
        error_description: 'signing keys are temporarily unavailable',
      },
      handled: false,
      log: { code: 'jwks_unavailable', ...es256Hints() },
    },
    after: ({ jwks }) => {
      expect(jwks.count()).toBeGreaterThanOrEqual(1);
    },
  },

  // Settings.
  {
    name: 'realm is named in the challenge',
    options: () => ({ realm: 'orders' }),
    request: async () => ({}),
    expect: { ...missing, challenge: 'Bearer realm="orders"' },
  },
];

// One token shared by the cache cases: minted once, at NOW.
const cachedToken = sign(claims());

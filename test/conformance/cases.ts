// THE conformance table: one behaviour, asserted identically for every adapter (drivers.ts).
import { expect } from 'vitest';
import type { ReplayStore, VerificationErrorCode } from '@tokengate/core';
import type { FakeClock } from '../fixtures/clock.js';
import { createDpopKey, proof } from '../fixtures/dpop.js';
import type { DpopKey, ProofOptions } from '../fixtures/dpop.js';
import type { JwksServer } from '../fixtures/jwks-server.js';
import { testPki } from '../fixtures/tls.js';
import type { Identity } from '../fixtures/tls.js';
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
import { ROUTES, reshapedBody } from './drivers.js';
import type { NeutralOptions, RouteName, RunningApp } from './drivers.js';

/** What a case can touch: its own clock, key server and running app. */
export interface CaseEnv {
  clock: FakeClock;
  jwks: JwksServer;
  app: RunningApp;
  /** The second receiver of an `instances: 2` case (same options, its own replay store). */
  other?: RunningApp;
}

/** What `options` sees: one call per receiver. */
export interface OptionsEnv extends Omit<CaseEnv, 'app' | 'other'> {
  /** With `redis: true`: this receiver's replay store on the shared Redis (own connection). */
  replayStore?: ReplayStore;
}

/** One request. `headers` as an array is a raw header list, sent as is (repeats included). */
export interface Outgoing {
  route?: RouteName;
  headers?: Record<string, string> | string[];
  /** The credential sent, so the suite can check that no log record contains it. */
  secret?: string;
  /** Send to the second receiver (`instances: 2`). */
  to?: 'other';
  /** The TLS client certificate to present (`tls` cases). */
  certificate?: Identity;
  /**
   * The request target as sent, when it is not the route's path: an absolute-form URL, or a
   * path with a query. The log record must still name the route's path alone.
   */
  target?: string;
  /** The Host header lines to send instead of the app's own (raw: none, one or several). */
  hosts?: string[];
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
  log?: {
    code: VerificationErrorCode;
    kid?: string;
    alg?: string;
    iss?: string;
    /** The exact log reason, when it tells two rejections with one code apart. */
    reason?: string;
    /** The record's level. Default `info` for `token_missing`, `warn` for every other code. */
    level?: 'info' | 'warn' | 'error';
  };
}

export interface Case {
  name: string;
  /** Verifier and gate options on top of the suite's defaults (called once per receiver). */
  options?: (env: OptionsEnv) => Partial<NeutralOptions>;
  /** Serve HTTPS and ask for a client certificate (mTLS). */
  tls?: boolean;
  /** The app rewrites `<prefix>/orders` to `/orders` before the gate; requests use the prefix. */
  rewritePrefix?: string;
  /** Start two receivers with the same options (`env.other`). */
  instances?: 2;
  /** Give each receiver a replay store on one shared redis-server (`env.replayStore`). */
  redis?: boolean;
  tokenFromCookie?: boolean;
  /** The framework's error handling upstream of tokengate (with `passErrors`, see drivers.ts). */
  upstreamErrorHandler?: boolean;
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
const invalidRequestParams =
  'error="invalid_request", error_description="malformed authorization request"';
const invalidRequest = `Bearer ${invalidRequestParams}`;
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

// --- Sender-constrained tokens: DPoP (RFC 9449) and mTLS (RFC 8705) -------------------------

const dpopClient = await createDpopKey();
const strangerKey = await createDpopKey();
const pki = await testPki();
const ALGS = 'algs="ES256 ES384 PS256 RS256 EdDSA Ed25519"';
const BINDING = 'token is not bound to the presented key or certificate';
const PROOF_INVALID = 'DPoP proof is invalid';
const NONCE_REQUIRED = 'DPoP proof must carry the server nonce';
/** The URL every receiver behind one load balancer is called at. */
const PUBLIC_ORIGIN = 'https://api.test';
const dpopAllowed = (extra: Partial<NonNullable<NeutralOptions['dpop']>> = {}) => ({
  dpop: { mode: 'allowed' as const, ...extra },
});

/** A token bound to `dpopClient`'s key (`cnf.jkt`). */
const boundToken = () => sign(claims({ cnf: { jkt: dpopClient.jkt } }));
/** A token bound to the test client certificate (`cnf["x5t#S256"]`). */
const certBoundToken = () => sign(claims({ cnf: { 'x5t#S256': pki.client.x5tS256 } }));

/** `Authorization: DPoP <token>` and a proof for GET `<origin><route>` made for that token. */
async function dpopRequest(
  origin: string,
  token: string,
  options: Partial<ProofOptions> & { route?: RouteName; signer?: DpopKey } = {},
): Promise<Outgoing> {
  const { route = 'open', signer = dpopClient, ...rest } = options;
  const dpop = await proof(signer, { htu: `${origin}${ROUTES[route]}`, token, ...rest });
  return { route, headers: { authorization: `DPoP ${token}`, dpop }, secret: token };
}

/** Sends `out` once to `app` and insists on 200 (a case's warm-up). */
async function sendOk(app: RunningApp, out: Outgoing): Promise<Record<string, string>> {
  const res = await app.http
    .get(ROUTES[out.route ?? 'open'])
    .set(out.headers as Record<string, string>);
  if (res.status !== 200) throw new Error(`warm-up answered ${res.status}`);
  return res.headers as Record<string, string>;
}

/** A rejected proof: `invalid_dpop_proof` on the DPoP challenge, both schemes offered. */
function proofRejected(reason: string, log: LogHints = es256Hints()): Expected {
  return {
    status: 401,
    challenge: `Bearer, DPoP error="invalid_dpop_proof", error_description="${PROOF_INVALID}", ${ALGS}`,
    body: { error: 'invalid_dpop_proof', error_description: PROOF_INVALID },
    handled: false,
    log: { code: 'dpop_proof_invalid', ...log, reason },
  };
}

/** A binding refused; the error sits on the scheme the request used. */
function bindingRefused(
  on: 'bearer only' | 'bearer' | 'dpop' | 'dpop only',
  reason: string,
  log: LogHints = es256Hints(),
): Expected {
  const error = `error="invalid_token", error_description="${BINDING}"`;
  const challenge = {
    'bearer only': `Bearer ${error}`,
    bearer: `Bearer ${error}, DPoP ${ALGS}`,
    dpop: `Bearer, DPoP ${error}, ${ALGS}`,
    'dpop only': `DPoP ${error}, ${ALGS}`,
  }[on];
  return {
    status: 401,
    challenge,
    body: { error: 'invalid_token', error_description: BINDING },
    handled: false,
    log: { code: 'token_binding_mismatch', ...log, reason },
  };
}

const nonceRequired = (nonce: string, reason: string): Expected => ({
  status: 401,
  challenge: `Bearer, DPoP error="use_dpop_nonce", error_description="${NONCE_REQUIRED}", ${ALGS}`,
  headers: { 'dpop-nonce': nonce },
  body: { error: 'use_dpop_nonce', error_description: NONCE_REQUIRED },
  handled: false,
  log: { code: 'dpop_nonce_required', ...es256Hints(), reason },
});

/** A server nonce the tests can predict. */
const fixedNonce = { current: () => 'nonce-1', isValid: (nonce: string) => nonce === 'nonce-1' };

// State a case carries from `before` to `request` (cases run one at a time).
let carried: { out?: Outgoing; nonce?: string } = {};

const senderConstrainedCases: Case[] = [
  // DPoP accepted.
  {
    name: 'DPoP: bound token with a valid proof',
    options: () => dpopAllowed(),
    request: async ({ app }) => dpopRequest(app.origin, await boundToken()),
    expect: ok(),
  },
  {
    name: 'DPoP: proof iat exactly 60 s old (window 60 s)',
    options: () => dpopAllowed(),
    request: async ({ app, clock }) =>
      dpopRequest(app.origin, await boundToken(), { iat: clock.now() - 60 }),
    expect: ok(),
  },
  {
    name: 'DPoP: a cached bound token with a new proof',
    options: () => dpopAllowed(),
    before: async ({ app }) => {
      await sendOk(app, await dpopRequest(app.origin, await cachedBoundToken));
    },
    request: async ({ app }) => dpopRequest(app.origin, await cachedBoundToken),
    expect: ok(),
  },
  {
    name: 'DPoP: bound token through a scope guard',
    options: () => dpopAllowed(),
    request: async ({ app }) =>
      dpopRequest(
        app.origin,
        await sign(claims({ cnf: { jkt: dpopClient.jkt }, scope: 'orders:read orders:write' })),
        { route: 'write' },
      ),
    expect: ok('write'),
  },
  {
    name: 'DPoP: required mode accepts a valid DPoP request',
    options: () => ({ dpop: { mode: 'required' } }),
    request: async ({ app }) => dpopRequest(app.origin, await boundToken()),
    expect: ok(),
  },

  // Replay.
  {
    name: 'DPoP: the same proof twice is refused (replay)',
    options: () => dpopAllowed(),
    before: async ({ app }) => {
      carried = { out: await dpopRequest(app.origin, await cachedBoundToken) };
      await sendOk(app, carried.out!);
    },
    request: async () => carried.out!,
    expect: proofRejected('proof "jti" was seen before (a replay)'),
  },
  {
    name: 'DPoP: replay at a second receiver sharing Redis is refused',
    instances: 2,
    redis: true,
    options: ({ replayStore }) => dpopAllowed({ origin: PUBLIC_ORIGIN, replayStore }),
    before: async ({ app }) => {
      carried = { out: await dpopRequest(PUBLIC_ORIGIN, await cachedBoundToken) };
      await sendOk(app, carried.out!);
    },
    request: async () => ({ ...carried.out!, to: 'other' }),
    expect: proofRejected('proof "jti" was seen before (a replay)'),
  },
  {
    name: 'DPoP: a fresh proof at a second receiver sharing Redis passes',
    instances: 2,
    redis: true,
    options: ({ replayStore }) => dpopAllowed({ origin: PUBLIC_ORIGIN, replayStore }),
    before: async ({ app }) => {
      await sendOk(app, await dpopRequest(PUBLIC_ORIGIN, await cachedBoundToken));
    },
    request: async () => ({
      ...(await dpopRequest(PUBLIC_ORIGIN, await cachedBoundToken)),
      to: 'other',
    }),
    expect: ok(),
  },
  {
    name: 'DPoP: receivers with their own in-memory stores do not see each other (why fleets share Redis)',
    instances: 2,
    options: () => dpopAllowed({ origin: PUBLIC_ORIGIN }),
    before: async ({ app }) => {
      carried = { out: await dpopRequest(PUBLIC_ORIGIN, await cachedBoundToken) };
      await sendOk(app, carried.out!);
    },
    request: async () => ({ ...carried.out!, to: 'other' }),
    expect: ok(),
  },

  // Proofs that do not fit the request.
  {
    name: 'DPoP: wrong htm (POST proof on a GET)',
    options: () => dpopAllowed(),
    request: async ({ app }) => dpopRequest(app.origin, await boundToken(), { htm: 'POST' }),
    expect: proofRejected('"htm" does not match the request method'),
  },
  {
    name: 'DPoP: wrong htu (another path)',
    options: () => dpopAllowed(),
    request: async ({ app }) =>
      dpopRequest(app.origin, await boundToken(), { htu: `${app.origin}${ROUTES.admin}` }),
    expect: proofRejected('"htu" does not match the request URL'),
  },
  {
    name: 'DPoP: wrong htu (another origin)',
    options: () => dpopAllowed(),
    request: async ({ app }) =>
      dpopRequest(app.origin, await boundToken(), { htu: `http://evil.test${ROUTES.open}` }),
    expect: proofRejected('"htu" does not match the request URL'),
  },
  {
    name: 'DPoP: wrong ath (proof made for another token)',
    options: () => dpopAllowed(),
    request: async ({ app }) =>
      dpopRequest(app.origin, await boundToken(), { token: await cachedBoundToken }),
    expect: proofRejected('"ath" does not match the access token'),
  },
  {
    name: 'DPoP: stale iat (61 s old, window 60 s)',
    options: () => dpopAllowed(),
    request: async ({ app, clock }) =>
      dpopRequest(app.origin, await boundToken(), { iat: clock.now() - 61 }),
    expect: proofRejected('proof "iat" is outside the window'),
  },
  {
    name: 'DPoP: proof signed by another key than the jwk it names',
    options: () => dpopAllowed(),
    request: async ({ app }) =>
      dpopRequest(app.origin, await boundToken(), { signWith: strangerKey.privateKey }),
    expect: proofRejected('proof signature is invalid'),
  },
  {
    name: 'DPoP: no DPoP header',
    options: () => dpopAllowed(),
    request: async () => {
      const token = await boundToken();
      return { headers: { authorization: `DPoP ${token}` }, secret: token };
    },
    expect: proofRejected('request has no DPoP header'),
  },
  {
    name: 'DPoP: two DPoP headers',
    options: () => dpopAllowed(),
    request: async ({ app }) => {
      const token = await boundToken();
      const dpop = (await dpopRequest(app.origin, token)).headers as Record<string, string>;
      return {
        headers: ['Authorization', `DPoP ${token}`, 'DPoP', dpop.dpop!, 'DPoP', dpop.dpop!],
        secret: token,
      };
    },
    expect: proofRejected('request has several DPoP headers'),
  },
  {
    name: 'DPoP: proof key is not the one in cnf.jkt',
    options: () => dpopAllowed(),
    request: async ({ app }) =>
      dpopRequest(app.origin, await boundToken(), { signer: strangerKey }),
    expect: bindingRefused('dpop', 'proof key does not match "cnf.jkt"'),
  },
  {
    name: 'DPoP: an error after the proof is answered on the DPoP challenge (403 scope)',
    options: () => dpopAllowed(),
    request: async ({ app }) => dpopRequest(app.origin, await boundToken(), { route: 'write' }),
    expect: {
      ...forbidden(),
      challenge:
        'Bearer, DPoP error="insufficient_scope", error_description="token lacks the required scope", ' +
        `scope="orders:read orders:write", ${ALGS}`,
    },
  },

  // Scheme downgrade, both ways.
  {
    name: 'DPoP: a bound token sent as Bearer is refused',
    options: () => dpopAllowed(),
    request: async () => bearer(await boundToken()),
    expect: bindingRefused('bearer', 'DPoP-bound token was sent as Bearer'),
  },
  {
    name: 'DPoP: a cached bound token sent as Bearer is refused',
    options: () => dpopAllowed(),
    before: async ({ app }) => {
      await sendOk(app, await dpopRequest(app.origin, await cachedBoundToken));
    },
    request: async () => bearer(await cachedBoundToken),
    expect: bindingRefused('bearer', 'DPoP-bound token was sent as Bearer'),
  },
  {
    name: 'DPoP: a bound token sent as Bearer is refused when DPoP is not configured',
    request: async () => bearer(await boundToken()),
    expect: bindingRefused('bearer only', 'DPoP-bound token was sent as Bearer'),
  },
  {
    name: 'DPoP: a plain token sent as DPoP is refused',
    options: () => dpopAllowed(),
    request: async ({ app }) => dpopRequest(app.origin, await sign(claims())),
    expect: bindingRefused('dpop', 'token without "cnf.jkt" was sent as DPoP'),
  },
  {
    name: 'DPoP: required mode refuses Bearer',
    options: () => ({ dpop: { mode: 'required' } }),
    request: async () => bearer(await sign(claims())),
    expect: bindingRefused('dpop only', 'DPoP is required and the request used Bearer', {}),
  },
  // A proof beside Bearer credentials: a client mixing schemes (RFC 9449 §7.1, RFC 6750 §3.1).
  {
    name: 'DPoP: a proof sent with Bearer is 400 invalid_request, on the Bearer challenge',
    options: () => dpopAllowed(),
    request: async ({ app }) => {
      const token = await sign(claims());
      const { dpop } = (await dpopRequest(app.origin, token)).headers as Record<string, string>;
      return { headers: { authorization: `Bearer ${token}`, dpop: dpop! }, secret: token };
    },
    expect: {
      ...badRequest,
      challenge: `${invalidRequest}, DPoP ${ALGS}`,
      log: { code: 'request_invalid', reason: 'DPoP proof sent with Bearer' },
    },
  },
  {
    name: 'DPoP not configured: a DPoP header beside a Bearer token is not read',
    request: async () => {
      const token = await sign(claims());
      const { dpop } = (await dpopRequest('http://api.test', token)).headers as Record<
        string,
        string
      >;
      return { headers: { authorization: `Bearer ${token}`, dpop: dpop! }, secret: token };
    },
    expect: ok(),
  },
  {
    name: 'DPoP: a DPoP request also sending the token in a cookie: the error is on the DPoP challenge',
    options: () => dpopAllowed(),
    tokenFromCookie: true,
    request: async ({ app }) => {
      const out = await dpopRequest(app.origin, await boundToken());
      const headers = out.headers as Record<string, string>;
      return { ...out, headers: { ...headers, cookie: `token=${out.secret}` } };
    },
    expect: { ...badRequest, challenge: `Bearer, DPoP ${invalidRequestParams}, ${ALGS}` },
  },
  {
    name: 'DPoP: a malformed DPoP Authorization header: the error is on the DPoP challenge',
    options: () => dpopAllowed(),
    request: async () => ({ headers: { authorization: 'DPoP' } }),
    expect: { ...badRequest, challenge: `Bearer, DPoP ${invalidRequestParams}, ${ALGS}` },
  },
  {
    name: 'DPoP: allowed mode, no token: both challenges',
    options: () => dpopAllowed(),
    request: async () => ({}),
    expect: { ...missing, challenge: `Bearer, DPoP ${ALGS}` },
  },
  {
    name: 'DPoP: required mode, no token: the DPoP challenge alone',
    options: () => ({ dpop: { mode: 'required' }, realm: 'orders' }),
    request: async () => ({}),
    expect: { ...missing, challenge: `DPoP realm="orders", ${ALGS}` },
  },

  // Server nonces.
  {
    name: 'DPoP: nonce required, proof without one (use_dpop_nonce + DPoP-Nonce)',
    options: () => dpopAllowed({ nonce: fixedNonce }),
    request: async ({ app }) => dpopRequest(app.origin, await boundToken()),
    expect: nonceRequired('nonce-1', 'proof has no nonce'),
  },
  {
    name: 'DPoP: nonce required, proof with a stale nonce',
    options: () => dpopAllowed({ nonce: fixedNonce }),
    request: async ({ app }) => dpopRequest(app.origin, await boundToken(), { nonce: 'nonce-0' }),
    expect: nonceRequired('nonce-1', 'proof nonce is invalid or stale'),
  },
  {
    name: 'DPoP: the nonce from a 401 makes the retry pass (secret-based nonces)',
    options: () => dpopAllowed({ nonce: { secret: 'conformance nonce secret, 32+ bytes' } }),
    before: async ({ app }) => {
      const res = await app.http
        .get(ROUTES.open)
        .set((await dpopRequest(app.origin, await boundToken())).headers as Record<string, string>);
      if (res.status !== 401) throw new Error(`first try answered ${res.status}`);
      carried = { nonce: res.headers['dpop-nonce'] as string };
    },
    request: async ({ app }) =>
      dpopRequest(app.origin, await boundToken(), { nonce: carried.nonce! }),
    expect: ok(),
  },

  // mTLS-bound tokens over a real HTTPS server.
  {
    name: 'mTLS: certificate-bound token with the bound client certificate',
    tls: true,
    request: async () => ({ ...bearer(await certBoundToken()), certificate: pki.client }),
    expect: ok(),
  },
  {
    name: 'mTLS: certificate-bound token without a client certificate',
    tls: true,
    request: async () => bearer(await certBoundToken()),
    expect: bindingRefused(
      'bearer only',
      'certificate-bound token came without a client certificate',
    ),
  },
  {
    name: 'mTLS: certificate-bound token with another client certificate',
    tls: true,
    request: async () => ({ ...bearer(await certBoundToken()), certificate: pki.otherClient }),
    expect: bindingRefused('bearer only', 'client certificate does not match "x5t#S256"'),
  },
  {
    name: 'mTLS required: a plain bearer token is refused, even over a client certificate',
    tls: true,
    options: () => ({ mtls: { required: true } }),
    request: async () => ({ ...bearer(await sign(claims())), certificate: pki.client }),
    expect: bindingRefused('bearer only', 'certificate-bound token required'),
  },
  {
    name: 'mTLS required: a certificate-bound token with its certificate',
    tls: true,
    options: () => ({ mtls: { required: true } }),
    request: async () => ({ ...bearer(await certBoundToken()), certificate: pki.client }),
    expect: ok(),
  },
  {
    name: 'mTLS: an unbound token needs no certificate',
    tls: true,
    request: async () => bearer(await sign(claims())),
    expect: ok(),
  },
];

// --- The request URL: Host and request target are attacker input (issue 13) ------------------
// A DPoP proof names one method and one URL (RFC 9449 §4.3 steps 9-10). Each "forged Host" row
// carries a valid proof for the URL that Host would have produced by pasting it in front of the
// path: before Host was checked, most of them passed (200) for a URL the proof was not made for.

/** A DPoP request whose Host or target cannot give a URL: 400, before the token is read. */
const badUrl = (reason: string): Expected => ({
  status: 400,
  challenge: `Bearer, DPoP error="invalid_request", error_description="malformed authorization request", ${ALGS}`,
  body: { error: 'invalid_request', error_description: 'malformed authorization request' },
  handled: false,
  log: { code: 'request_invalid', reason },
});

/** A DPoP request to `/orders` with a valid proof for `htu`, sent with these Host lines. */
async function withHosts(hosts: string[], htu: string): Promise<Outgoing> {
  return { ...(await dpopRequest('', await boundToken(), { htu })), hosts };
}

const hostOf = (app: RunningApp): string => new URL(app.origin).host;
const REWRITE_PREFIX = '/v1';

const requestUrlCases: Case[] = [
  ...(
    [
      ['?', ['api.example?'], 'http://api.example/'],
      ['#', ['api.example#'], 'http://api.example/'],
      ['/ and ?', ['h/elsewhere?'], 'http://h/elsewhere'],
      ['/', ['api.example/admin'], 'http://api.example/admin/orders'],
      ['@', ['alice@api.example'], 'http://api.example/orders'],
      ['a space', ['api .example'], 'http://api .example/orders'],
      ['nothing (empty)', [''], 'http:///orders'],
    ] as const
  ).map(([what, hosts, htu]): Case => ({
    name: `request URL: DPoP with a Host holding ${what} is 400, whatever the proof names`,
    options: () => dpopAllowed(),
    request: async () => withHosts([...hosts], htu),
    expect: badUrl('Host is not host[:port]'),
  })),
  {
    name: 'request URL: DPoP with two Host headers is 400',
    options: () => dpopAllowed(),
    request: async ({ app }) =>
      withHosts([hostOf(app), 'evil.test'], `${app.origin}${ROUTES.open}`),
    expect: badUrl('several Host headers'),
  },
  {
    name: 'request URL: DPoP with a forged Host is 400 even when the proof is missing',
    options: () => dpopAllowed(),
    request: async () => {
      const token = await boundToken();
      return { headers: { authorization: `DPoP ${token}` }, secret: token, hosts: ['a.test?'] };
    },
    expect: badUrl('Host is not host[:port]'),
  },
  {
    name: 'request URL: Bearer requests do not depend on Host',
    options: () => dpopAllowed(),
    request: async () => ({ ...bearer(await sign(claims())), hosts: ['api.example?'] }),
    expect: ok(),
  },
  {
    name: 'request URL: DPoP with an absolute-form target (RFC 9112 §3.2.2): the target is the URL',
    options: () => dpopAllowed(),
    request: async ({ app }) => ({
      ...(await dpopRequest(app.origin, await boundToken())),
      target: `${app.origin}${ROUTES.open}`,
    }),
    expect: ok(),
  },
  {
    name: 'request URL: DPoP with an absolute-form target naming another host than Host is 400',
    options: () => dpopAllowed(),
    request: async ({ app }) => ({
      ...(await dpopRequest('http://evil.test', await boundToken())),
      target: `http://evil.test${ROUTES.open}`,
      hosts: [hostOf(app)],
    }),
    expect: badUrl('Host does not match the request target'),
  },
  {
    name: 'request URL: DPoP with Host naming another host than the absolute-form target is 400',
    options: () => dpopAllowed(),
    request: async ({ app }) => ({
      ...(await dpopRequest(app.origin, await boundToken())),
      target: `${app.origin}${ROUTES.open}`,
      hosts: ['evil.test'],
    }),
    expect: badUrl('Host does not match the request target'),
  },
  {
    name: 'request URL: DPoP with userinfo in an absolute-form target is 400 (RFC 9110 §4.2.4)',
    options: () => dpopAllowed(),
    request: async ({ app }) => ({
      ...(await dpopRequest(app.origin, await boundToken())),
      target: `http://alice:secret@${hostOf(app)}${ROUTES.open}`,
    }),
    expect: badUrl('request target carries userinfo'),
  },
  {
    name: 'request URL: Bearer with an absolute-form target',
    request: async ({ app }) => ({
      ...bearer(await sign(claims())),
      target: `${app.origin}${ROUTES.open}`,
    }),
    expect: ok(),
  },
  {
    name: 'request URL: the log names the path of an absolute-form target, never userinfo or query',
    request: async ({ app }) => ({
      target: `http://alice:s3cr3t-userinfo@${hostOf(app)}${ROUTES.open}?access_token=x`,
      secret: 's3cr3t-userinfo',
    }),
    expect: missing,
  },
  {
    name: 'request URL: the log names the path of an origin-form target, never its query',
    request: async () => ({
      target: `${ROUTES.open}?access_token=secret-in-query&page=2`,
      secret: 'secret-in-query',
    }),
    expect: missing,
  },
  {
    name: 'request URL: a proof for the URL as called passes although the app rewrote it',
    rewritePrefix: REWRITE_PREFIX,
    options: () => dpopAllowed(),
    request: async ({ app }) =>
      dpopRequest(app.origin, await boundToken(), {
        htu: `${app.origin}${REWRITE_PREFIX}${ROUTES.open}`,
      }),
    expect: ok(),
  },
  {
    name: 'request URL: a proof for the rewritten URL is refused',
    rewritePrefix: REWRITE_PREFIX,
    options: () => dpopAllowed(),
    request: async ({ app }) => dpopRequest(app.origin, await boundToken()),
    expect: proofRejected('"htu" does not match the request URL'),
  },
  {
    name: 'request URL: the log names the path as called, not the rewritten one',
    rewritePrefix: REWRITE_PREFIX,
    request: async () => ({}),
    expect: missing,
  },
];

// One DPoP-bound token shared by the cache and replay cases: minted once, at NOW.
const cachedBoundToken = boundToken();

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
    name: 'exp equal to now with clockTolerance 0 (RFC 7519 §4.1.4)',
    options: () => ({ clockTolerance: 0 }),
    request: async ({ clock }) => bearer(await sign(claims({ exp: clock.now() }))),
    expect: rejected('token_expired', 'token has expired', es256Hints()),
  },
  {
    name: 'a clock that reads NaN fails closed (503), not open',
    options: () => ({ now: () => NaN }),
    request: async ({ clock }) => bearer(await sign(claims({ exp: clock.now() - 30 }))),
    expect: {
      status: 503,
      headers: { 'retry-after': '30' },
      body: {
        error: 'temporarily_unavailable',
        error_description: 'server clock is temporarily unavailable',
      },
      handled: false,
      log: { code: 'clock_unavailable' },
    },
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
    name: 'a `scope` array of strings satisfies the scope guard',
    request: async () =>
      bearer(await sign(claims({ scope: ['orders:write', 'orders:read'] })), 'write'),
    expect: ok('write'),
  },
  {
    name: 'a `scope` array passes a route without a scope guard',
    request: async () => bearer(await sign(claims({ scope: ['orders:read'] }))),
    expect: ok(),
  },
  {
    name: 'a `scope` that is a number passes a route without a scope guard',
    request: async () => bearer(await sign(claims({ scope: 7 as never }))),
    expect: ok(),
  },
  {
    name: 'a `scope` that is a number is claim_invalid where a scope guard reads it',
    request: async () => bearer(await sign(claims({ scope: 7 as never })), 'write'),
    expect: rejected('claim_invalid', 'token has an invalid claim', {
      ...es256Hints(),
      reason: '"scope" is not a string or strings',
    }),
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
  {
    name: 'async claims predicate satisfied',
    request: async () => bearer(await sign(claims({ role: 'admin' })), 'lookup'),
    expect: ok('lookup'),
  },
  {
    name: 'async claims predicate not satisfied (403)',
    request: async () => bearer(await sign(claims({ role: 'clerk' })), 'lookup'),
    expect: forbidden(),
  },
  {
    name: 'async claims predicate that rejects is 403, never 500',
    request: async () => bearer(await sign(claims({ role: 'unreachable' })), 'lookup'),
    expect: {
      ...forbidden(),
      log: { code: 'scope_insufficient', ...es256Hints(), reason: 'claims check threw' },
    },
  },
  {
    name: 'async claims predicate on a cached token (the token path stays synchronous)',
    before: async ({ app }) => {
      await sendOk(app, bearer(await cachedAdminToken, 'lookup'));
    },
    request: async () => bearer(await cachedAdminToken, 'lookup'),
    expect: ok('lookup'),
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

  // Log levels.
  {
    name: 'logLevels: token_missing silenced',
    options: () => ({ logLevels: { token_missing: 'silent' } }),
    request: async () => ({}),
    expect: { ...missing, log: undefined },
  },
  {
    name: 'logLevels: token_missing raised to warn',
    options: () => ({ logLevels: { token_missing: 'warn' } }),
    request: async () => ({}),
    expect: { ...missing, log: { code: 'token_missing', level: 'warn' } },
  },
  {
    name: 'logLevels: token_expired at error',
    options: () => ({ logLevels: { token_expired: 'error' } }),
    request: async ({ clock }) => bearer(await sign(claims({ exp: clock.now() - 6 }))),
    expect: (({ log, ...rest }) => ({ ...rest, log: { ...log!, level: 'error' as const } }))(
      rejected('token_expired', 'token has expired', es256Hints()),
    ),
  },
  {
    name: 'scope_insufficient logs the missing scope',
    request: async () => bearer(await sign(claims({ scope: 'orders:read' })), 'write'),
    expect: (({ log, ...rest }) => ({
      ...rest,
      log: { ...log!, reason: 'token lacks the scope orders:write' },
    }))(forbidden('orders:read orders:write')),
  },

  // passErrors: the framework's error handling answers; status and challenge survive.
  ...passedErrorCases(),

  // Sender-constrained tokens (DPoP, mTLS) and the request URL: defined above.
  ...senderConstrainedCases,
  ...requestUrlCases,
];

/**
 * The same rejections with `passErrors` and an upstream error handler that reshapes the body:
 * the status, `WWW-Authenticate` (realm and scope included) and `Retry-After` reach the client
 * unchanged, the body is the handler's, and the rejection is still logged once.
 */
function passedErrorCases(): Case[] {
  const passed = (expected: Expected): Expected => ({
    ...expected,
    body: reshapedBody(expected.log!.code),
  });
  const base = { upstreamErrorHandler: true };
  return [
    {
      ...base,
      name: 'passErrors: missing token (realm in the challenge)',
      options: () => ({ passErrors: true, realm: 'orders' }),
      request: async () => ({}),
      expect: passed({ ...missing, challenge: 'Bearer realm="orders"' }),
    },
    {
      ...base,
      name: 'passErrors: expired token',
      options: () => ({ passErrors: true }),
      request: async ({ clock }) => bearer(await sign(claims({ exp: clock.now() - 6 }))),
      expect: passed(rejected('token_expired', 'token has expired', es256Hints())),
    },
    {
      ...base,
      name: 'passErrors: a scope guard refuses (403, scope= in the challenge)',
      options: () => ({ passErrors: true }),
      request: async () => bearer(await sign(claims({ scope: 'orders:read' })), 'write'),
      expect: passed(forbidden('orders:read orders:write')),
    },
    {
      ...base,
      name: 'passErrors: key server down and nothing cached (503, Retry-After)',
      options: () => ({ ...shortLivedKeys, passErrors: true }),
      before: async ({ jwks }) => {
        jwks.down();
      },
      request: async () => bearer(await sign(claims())),
      expect: passed({
        status: 503,
        headers: { 'retry-after': '30' },
        body: undefined,
        handled: false,
        log: { code: 'jwks_unavailable', ...es256Hints() },
      }),
    },
  ];
}

// One token shared by the cache cases: minted once, at NOW.
const cachedToken = sign(claims());
const cachedAdminToken = sign(claims({ role: 'admin' }));

// DPoP-bound tokens (RFC 9449): proofs, replay, scheme downgrade, server nonces.
import { claims, sign } from '@tokengate/test-fixtures/tokens';
import { ROUTES } from '../drivers.js';
import type { Case } from './case.js';
import { preparedCase } from './case.js';
import {
  ALGS,
  badRequest,
  bindingRefused,
  es256Hints,
  forbidden,
  invalidRequest,
  invalidRequestParams,
  missing,
  nonceRequired,
  ok,
  proofRejected,
  unavailable,
} from './expect.js';
import {
  PUBLIC_ORIGIN,
  bearer,
  boundToken,
  cachedBoundToken,
  dpopAllowed,
  dpopClient,
  dpopProofFor,
  dpopRequest,
  fixedNonce,
  sendOk,
  strangerKey,
} from './requests.js';

export const dpopCases: Case[] = [
  // Accepted.
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

  // Replay: `before` sends a request once and hands it to `request`, which sends it again.
  preparedCase({
    name: 'DPoP: the same proof twice is refused (replay)',
    options: () => dpopAllowed(),
    before: async ({ app }) => sendOk(app, await dpopRequest(app.origin, await cachedBoundToken)),
    request: async (_env, sent) => sent,
    expect: proofRejected('proof "jti" was seen before (a replay)'),
  }),
  preparedCase({
    name: 'DPoP: replay at a second receiver sharing Redis is refused',
    instances: 2,
    redis: true,
    options: ({ replayStore }) => dpopAllowed({ origin: PUBLIC_ORIGIN, replayStore }),
    before: async ({ app }) =>
      sendOk(app, await dpopRequest(PUBLIC_ORIGIN, await cachedBoundToken)),
    request: async (_env, sent) => ({ ...sent, to: 'other' }),
    expect: proofRejected('proof "jti" was seen before (a replay)'),
  }),
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
  preparedCase({
    name: 'DPoP: receivers with their own in-memory stores do not see each other (why fleets share Redis)',
    instances: 2,
    options: () => dpopAllowed({ origin: PUBLIC_ORIGIN }),
    before: async ({ app }) =>
      sendOk(app, await dpopRequest(PUBLIC_ORIGIN, await cachedBoundToken)),
    request: async (_env, sent) => ({ ...sent, to: 'other' }),
    expect: ok(),
  }),
  {
    name: 'DPoP: a replay store that fails is 503 with Retry-After (replay protection fails closed)',
    options: () =>
      dpopAllowed({
        replayStore: {
          // A shared store whose backend is unreachable, as a Redis outage looks.
          add: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')),
        },
      }),
    request: async ({ app }) => dpopRequest(app.origin, await boundToken()),
    expect: unavailable(
      'replay_store_unavailable',
      'replay protection is temporarily unavailable',
      { ...es256Hints(), reason: 'the replay store failed' },
    ),
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
      const dpop = await dpopProofFor(app.origin, token);
      return {
        headers: ['Authorization', `DPoP ${token}`, 'DPoP', dpop, 'DPoP', dpop],
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
      const dpop = await dpopProofFor(app.origin, token);
      return { headers: { authorization: `Bearer ${token}`, dpop }, secret: token };
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
      const dpop = await dpopProofFor('http://api.test', token);
      return { headers: { authorization: `Bearer ${token}`, dpop }, secret: token };
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
  preparedCase({
    name: 'DPoP: the nonce from a 401 makes the retry pass (secret-based nonces)',
    options: () => dpopAllowed({ nonce: { secret: 'conformance nonce secret, 32+ bytes' } }),
    // The first try, without a nonce, is answered 401 with the nonce to use.
    before: async ({ app }) => {
      const res = await app.http
        .get(ROUTES.open)
        .set((await dpopRequest(app.origin, await boundToken())).headers as Record<string, string>);
      if (res.status !== 401) throw new Error(`first try answered ${res.status}`);
      return res.headers['dpop-nonce'] as string;
    },
    request: async ({ app }, nonce) => dpopRequest(app.origin, await boundToken(), { nonce }),
    expect: ok(),
  }),
];

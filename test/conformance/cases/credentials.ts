// Where the credentials are read from, and what happens when there are none or too many.
import { claims, sign } from '@tokengate/test-fixtures/tokens';
import type { Case, CaseEnv } from './case.js';
import { handlerBody, preparedCase } from './case.js';
import { ALGS, badRequest, es256Hints, invalidRequest, missing, ok, rejected } from './expect.js';
import { bearer, dpopAllowed, dpopProofFor, sendOk } from './requests.js';

/** A new token, accepted once so the token cache holds it: the gate's cache-first path. */
async function cachedBearerToken({ app }: CaseEnv): Promise<string> {
  const token = await sign(claims());
  await sendOk(app, bearer(token));
  return token;
}

export const credentialCases: Case[] = [
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

  // A token the cache holds is looked up before the header is parsed in full: a malformed
  // header, or credentials sent twice, must still be refused exactly as for a new token.
  preparedCase({
    name: 'a cached token in two Authorization headers is still 400',
    before: cachedBearerToken,
    request: async (_env, token) => {
      const value = `Bearer ${token}`;
      return { headers: ['Authorization', value, 'Authorization', value], secret: token };
    },
    expect: badRequest,
  }),
  preparedCase({
    name: 'a cached token followed by a second token is still 400',
    before: cachedBearerToken,
    request: async (_env, token) => ({
      headers: { authorization: `Bearer ${token} ${token}` },
      secret: token,
    }),
    expect: badRequest,
  }),
  preparedCase({
    name: 'a cached token with a lower-case scheme and extra spaces is accepted',
    before: cachedBearerToken,
    request: async (_env, token) => ({
      headers: { authorization: `bEARER   ${token}  ` },
      secret: token,
    }),
    expect: ok(),
  }),
  preparedCase({
    name: 'a cached token sent twice (cookie and header) is still 400',
    tokenFromCookie: true,
    before: cachedBearerToken,
    request: async (_env, token) => ({
      headers: { authorization: `Bearer ${token}`, cookie: `token=${token}` },
      secret: token,
    }),
    expect: badRequest,
  }),
  preparedCase({
    name: 'DPoP: a cached token with a proof sent as Bearer is still 400',
    options: () => dpopAllowed(),
    before: cachedBearerToken,
    request: async ({ app }, token) => ({
      headers: { authorization: `Bearer ${token}`, dpop: await dpopProofFor(app.origin, token) },
      secret: token,
    }),
    expect: {
      ...badRequest,
      challenge: `${invalidRequest}, DPoP ${ALGS}`,
      log: { code: 'request_invalid', reason: 'DPoP proof sent with Bearer' },
    },
  }),

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
];

// Where the credentials are read from, and what happens when there are none or too many.
import { claims, sign } from '@tokengate/test-fixtures/tokens';
import type { Case } from './case.js';
import { handlerBody } from './case.js';
import { badRequest, es256Hints, missing, ok, rejected } from './expect.js';
import { bearer } from './requests.js';

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

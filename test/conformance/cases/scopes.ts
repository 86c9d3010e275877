// Guards after verification: scopes (RFC 6750 §3.1 insufficient_scope) and claims predicates.
import { claims, sign } from '@tokengate/test-fixtures/tokens';
import type { Case } from './case.js';
import { es256Hints, forbidden, loggedWith, ok, rejected } from './expect.js';
import { bearer, cachedAdminToken, sendOk } from './requests.js';

export const scopeCases: Case[] = [
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
    expect: loggedWith('claims check threw', forbidden()),
  },
  {
    name: 'async claims predicate on a cached token (the token path stays synchronous)',
    before: async ({ app }) => {
      await sendOk(app, bearer(await cachedAdminToken, 'lookup'));
    },
    request: async () => bearer(await cachedAdminToken, 'lookup'),
    expect: ok('lookup'),
  },
  {
    name: 'scope_insufficient logs the missing scope',
    request: async () => bearer(await sign(claims({ scope: 'orders:read' })), 'write'),
    expect: loggedWith('token lacks the scope orders:write', forbidden('orders:read orders:write')),
  },
];

// The `revoked` hook (RFC 7519 §4.1.7 `jti`), here a plain in-memory set: checked after
// verification and on every token-cache hit. @tokengate/redis's denylist is the same hook; its
// HTTP tests are test/revocation/.
import { claims, sign } from '@tokengate/test-fixtures/tokens';
import type { TokenPayload } from '@tokengate/core';
import type { Case, CaseEnv } from './case.js';
import { preparedCase } from './case.js';
import { es256Hints, loggedWith, ok, rejected, unavailable } from './expect.js';
import { bearer, sendOk } from './requests.js';

const REVOKED = 'token has been revoked';
const UNAVAILABLE = 'revocation check is temporarily unavailable';

/** A denylist of `jti`s for one row: `revoked` is the hook, `add` revokes. */
function denylist(...initial: string[]) {
  const jtis = new Set(initial);
  return {
    add: (jti: string) => jtis.add(jti),
    revoked: (payload: TokenPayload) => typeof payload.jti === 'string' && jtis.has(payload.jti),
  };
}

const listed = denylist('jti-revoked');
const later = denylist();
const asyncLater = denylist();
const kept = denylist('jti-other');

// The rows run once per driver against one module-level set: each run revokes its own jti.
let runs = 0;
/** Verifies a token with a fresh jti once (into the token cache), then revokes that jti. */
async function cacheThenRevoke(app: CaseEnv['app'], list: ReturnType<typeof denylist>) {
  const jti = `jti-cached-${++runs}`;
  const token = await sign(claims({ jti }));
  await sendOk(app, bearer(token));
  list.add(jti);
  return token;
}

export const revocationCases: Case[] = [
  {
    name: 'a token whose jti is revoked is token_revoked',
    options: () => ({ revoked: listed.revoked }),
    request: async () => bearer(await sign(claims({ jti: 'jti-revoked' }))),
    expect: loggedWith(
      'the revoked hook answered true',
      rejected('token_revoked', REVOKED, es256Hints()),
    ),
  },
  preparedCase({
    name: 'a token not on the denylist passes, and again from the token cache',
    options: () => ({ revoked: kept.revoked }),
    before: async ({ app }) => await sendOk(app, bearer(await sign(claims({ jti: 'jti-kept' })))),
    request: async (_env, out) => out,
    expect: ok(),
  }),
  preparedCase({
    name: 'a token revoked after it was cached is refused on the cache hit',
    options: () => ({ revoked: later.revoked }),
    before: ({ app }) => cacheThenRevoke(app, later),
    request: async (_env, token) => bearer(token),
    expect: rejected('token_revoked', REVOKED, es256Hints()),
  }),
  preparedCase({
    name: 'an async revoked hook answers a cache hit too',
    options: () => ({ revoked: async (payload) => asyncLater.revoked(payload) }),
    before: ({ app }) => cacheThenRevoke(app, asyncLater),
    request: async (_env, token) => bearer(token),
    expect: rejected('token_revoked', REVOKED, es256Hints()),
  }),
  {
    name: 'a revoked hook that throws fails closed: 503 revocation_unavailable, nothing leaked',
    options: () => ({
      revoked: () => {
        throw new Error('denylist backend down');
      },
    }),
    request: async () => bearer(await sign(claims({ jti: 'jti-any' }))),
    expect: loggedWith(
      'the revoked hook threw',
      unavailable('revocation_unavailable', UNAVAILABLE, es256Hints()),
    ),
  },
];

// Type tests (tsc only, via `pnpm typecheck`): what users write must compile, and only that.
import Fastify from 'fastify';
import { expectTypeOf } from 'vitest';
import type { VerifiedToken, Verifier } from '@tokengate/core';
import tokengate, { getAuth, requireAnyScope, requireClaims, requireScopes } from '../src/index.js';

declare const verifier: Verifier;
const app = Fastify();
await app.register(tokengate, {
  issuer: 'https://issuer.test/',
  audience: 'api://orders',
  jwksUri: 'https://issuer.test/jwks',
});
await app.register(tokengate, verifier);
await app.register(tokengate, {
  verifier,
  credentialsRequired: false,
  getToken: (request) => request.headers['x-token'] as string | undefined,
});

app.get('/orders', { preHandler: requireScopes('orders:read') }, async (request) => {
  expectTypeOf(request.auth).toEqualTypeOf<VerifiedToken | null>();
  expectTypeOf(request.auth!.payload.sub).toEqualTypeOf<string | undefined>();
  return request.auth!.payload;
});
app.get(
  '/orders/:id',
  { preHandler: [requireAnyScope('a', 'b'), requireClaims((p) => p.role === 'admin')] },
  async (request) => request.auth?.payload.sub,
);
app.get(
  '/team',
  { preHandler: requireClaims(async (p) => p.team === 'a') },
  async (request) => request.auth?.payload.sub,
);
// @ts-expect-error an async predicate resolves to a boolean
requireClaims(async (payload) => payload.sub);
// A route with typed params still takes the guards.
app.get<{ Params: { id: string } }>(
  '/items/:id',
  { preHandler: requireScopes('items:read') },
  async (request) => request.params.id,
);

// @ts-expect-error scopes are strings
requireScopes(1);
// @ts-expect-error issuer is a string
await app.register(tokengate, { issuer: 1, audience: 'a', jwksUri: 'u' });

app.get('/me', async (request) => {
  expectTypeOf(getAuth(request)).toEqualTypeOf<VerifiedToken>();
  return getAuth(request).payload.sub;
});
await app.register(tokengate, { verifier, passErrors: true, logLevels: { token_missing: 'info' } });

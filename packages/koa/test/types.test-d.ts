// Type tests (tsc only, via `pnpm typecheck`): what users write must compile, and only that.
import Koa from 'koa';
import type { Middleware } from 'koa';
import { expectTypeOf } from 'vitest';
import type { VerifiedToken, Verifier } from '@tokengate/core';
import { getAuth, requireAnyScope, requireClaims, requireScopes, tokengate } from '../src/index.js';
import type { AuthState } from '../src/index.js';

declare const verifier: Verifier;
const app = new Koa();
app.use(
  tokengate({
    issuer: 'https://issuer.test/',
    audience: 'api://orders',
    jwksUri: 'https://issuer.test/jwks',
  }),
);
app.use(tokengate(verifier));
app.use(
  tokengate({ verifier, credentialsRequired: false, getToken: (ctx) => ctx.cookies.get('token') }),
);
app.use(requireScopes('orders:read'));
app.use(requireAnyScope('a', 'b'));
app.use(requireClaims((payload) => payload.role === 'admin'));
app.use(requireClaims(async (payload) => payload.team === 'a'));
// @ts-expect-error an async predicate resolves to a boolean
requireClaims(async (payload) => payload.sub);

// Declaration merging: ctx.state.auth is typed in any middleware, not only Middleware<AuthState>.
app.use((ctx) => {
  expectTypeOf(ctx.state.auth).toEqualTypeOf<VerifiedToken | undefined>();
  expectTypeOf(ctx.state.auth!.payload.sub).toEqualTypeOf<string | undefined>();
  ctx.body = ctx.state.auth!.payload;
});

const handler: Middleware<AuthState> = (ctx) => {
  expectTypeOf(ctx.state.auth!.payload.sub).toEqualTypeOf<string | undefined>();
};
void handler;

// @ts-expect-error scopes are strings
requireScopes(1);
// @ts-expect-error a verifier or options
tokengate('https://issuer.test/');

app.use((ctx) => {
  expectTypeOf(getAuth(ctx)).toEqualTypeOf<VerifiedToken>();
  ctx.body = getAuth(ctx).payload.sub;
});
tokengate({ verifier, passErrors: true, logLevels: { token_missing: 'silent' } });

// Type tests (tsc only, via `pnpm typecheck`): what users write must compile, and only that.
import express from 'express';
import { expectTypeOf } from 'vitest';
import type { TokenHeader, VerifiedToken, Verifier } from '@tokengate/core';
import {
  createVerifier,
  getAuth,
  requireAnyScope,
  requireClaims,
  requireScopes,
  tokengate,
} from '../src/index.js';
import type { TokenPayload as AdapterPayload, VerificationErrorCode } from '../src/index.js';

declare const verifier: Verifier;
const app = express();
app.use(
  tokengate({
    issuer: 'https://issuer.test/',
    audience: 'api://orders',
    jwksUri: 'https://issuer.test/jwks',
  }),
);
app.use(tokengate(verifier));
app.use(tokengate({ verifier, credentialsRequired: false, passErrors: true, realm: 'orders' }));
app.use(tokengate({ verifier, getToken: (req) => req.get('x-token') }));

app.get('/orders', requireScopes('orders:read'), requireAnyScope('a', 'b'), (req, res) => {
  expectTypeOf(req.auth).toEqualTypeOf<VerifiedToken | undefined>();
  expectTypeOf(req.auth!.payload.sub).toEqualTypeOf<string | undefined>();
  expectTypeOf(req.auth!.header).toEqualTypeOf<TokenHeader>();
  expectTypeOf(req.auth!.payload.scp).toEqualTypeOf<string[] | undefined>();
  res.json(req.auth!.payload);
});
app.get(
  '/admin',
  requireClaims((payload) => payload.role === 'admin'),
  (_req, res) => {
    res.end();
  },
);

app.get(
  '/team',
  requireClaims(async (payload) => payload.team === 'a'),
  (_req, res) => {
    expectTypeOf(_req.auth!.payload.scope).toEqualTypeOf<string | string[] | undefined>();
    res.end();
  },
);
// @ts-expect-error an async predicate resolves to a boolean
requireClaims(async (payload) => payload.sub);

// @ts-expect-error passErrors is a boolean
tokengate({ verifier, passErrors: 'yes' });
// @ts-expect-error credentialsRequired is a boolean
tokengate({ verifier, credentialsRequired: 'no' });
// @ts-expect-error scopes are strings
requireScopes(1);
// @ts-expect-error the predicate returns a boolean
requireClaims((payload) => payload.sub);

// getAuth: the strict-friendly accessor, no `!`.
app.get('/me', (req, res) => {
  expectTypeOf(getAuth(req)).toEqualTypeOf<VerifiedToken>();
  expectTypeOf(getAuth(req).payload.sub).toEqualTypeOf<string | undefined>();
  res.end();
});
// One install: core's API and types come from the adapter.
expectTypeOf(createVerifier).returns.toEqualTypeOf<Verifier>();
expectTypeOf<AdapterPayload>().toEqualTypeOf<VerifiedToken['payload']>();
tokengate({ verifier, logLevels: { token_missing: 'silent', token_expired: 'error' } });
// @ts-expect-error logLevels keys are error codes
tokengate({ verifier, logLevels: { token_mising: 'info' } });
// @ts-expect-error levels are info, warn, error or silent
tokengate({ verifier, logLevels: { token_missing: 'debug' } });
expectTypeOf<'token_missing'>().toExtend<VerificationErrorCode>();

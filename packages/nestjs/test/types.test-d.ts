// Type tests (tsc only, via `pnpm typecheck`): what users write must compile, and only that.
import type { DynamicModule } from '@nestjs/common';
import { expectTypeOf } from 'vitest';
import type { VerifiedToken, Verifier } from '@tokengate/core';
import {
  AnyScope,
  Auth,
  Claims,
  Public,
  Scopes,
  TokengateModule,
  claimEquals,
} from '../src/index.js';
import type {
  AuthOptions,
  NestRequest,
  RouteDecorator,
  VerificationErrorCode,
  TokengateException,
} from '../src/index.js';

declare const verifier: Verifier;

expectTypeOf(
  TokengateModule.forRoot({ issuer: 'https://issuer.test/', audience: 'a', jwksUri: 'https://k' }),
).toEqualTypeOf<DynamicModule>();
TokengateModule.forRoot({ verifier, credentialsRequired: false, passErrors: true, realm: 'r' });
TokengateModule.forRoot({
  verifier,
  getToken: (req) => {
    expectTypeOf(req).toEqualTypeOf<NestRequest>();
    return req.headers['x-token'] as string | undefined;
  },
});
// A platform's own request type, for getToken.
TokengateModule.forRoot<{ headers: Record<string, string>; cookies: Record<string, string> }>({
  verifier,
  getToken: (req) => req.cookies.token,
});
TokengateModule.forRootAsync({
  inject: ['CONFIG'],
  useFactory: async (config: { realm: string }) => ({ verifier, realm: config.realm }),
});
// @ts-expect-error unknown setting names do not compile
TokengateModule.forRoot({ verifier, credentialRequired: false });

// The decorators: route checks decorate classes and methods; @Auth() decorates a parameter.
expectTypeOf(Scopes('a', 'b')).toEqualTypeOf<RouteDecorator>();
expectTypeOf(AnyScope('a')).toEqualTypeOf<RouteDecorator>();
expectTypeOf(Claims((payload) => payload.role === 'admin')).toEqualTypeOf<RouteDecorator>();
expectTypeOf(Claims(async (payload) => payload.sub === 'x')).toEqualTypeOf<RouteDecorator>();
expectTypeOf(Claims(claimEquals('role', 'admin'))).toEqualTypeOf<RouteDecorator>();
expectTypeOf(Public()).toExtend<MethodDecorator & ClassDecorator>();
expectTypeOf(Auth).toEqualTypeOf<(options?: AuthOptions) => ParameterDecorator>();
// @ts-expect-error a scope is a string
Scopes(1);

// The exception filters catch.
declare const rejection: TokengateException;
expectTypeOf(rejection.code).toEqualTypeOf<VerificationErrorCode>();
expectTypeOf(rejection.headers).toEqualTypeOf<Readonly<Record<string, string>>>();
expectTypeOf(rejection.getStatus()).toEqualTypeOf<number>();

// What the guard sets.
declare const req: NestRequest;
expectTypeOf(req.auth).toEqualTypeOf<VerifiedToken | undefined>();

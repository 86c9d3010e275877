/// <reference types="reflect-metadata" />
import { SetMetadata, UseGuards, applyDecorators, createParamDecorator } from '@nestjs/common';
import type { CustomDecorator, ExecutionContext } from '@nestjs/common';
import { VerificationError } from '@tokengate/core';
import { createGuards } from '@tokengate/core/adapter';
import type { Guard, GuardFactories } from '@tokengate/core/adapter';
import { TokengateGuard, rejectRequest } from './guard.js';
import type { NestRequest } from './request.js';
import { PUBLIC_ROUTE, ROUTE_CHECKS } from './tokens.js';

/** Exempts a route (or every route of a controller) from `TokengateGuard`, a global one included. */
export function Public(): CustomDecorator<string> {
  return SetMetadata(PUBLIC_ROUTE, true);
}

/** A decorator for a controller class or a route handler. */
export type RouteDecorator = ClassDecorator & MethodDecorator;

/**
 * Adds a check to the handler (or class). Added, not set: `@Scopes('a') @Claims(p)` on one
 * handler keeps both, where Nest's `SetMetadata` would keep only the last. Decorators apply
 * bottom-up, so each goes first: the checks run in the order they are written.
 */
function addCheck(check: Guard): RouteDecorator {
  return (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    const on: object = descriptor ? (descriptor.value as object) : target;
    const checks = (Reflect.getMetadata(ROUTE_CHECKS, on) as Guard[] | undefined) ?? [];
    Reflect.defineMetadata(ROUTE_CHECKS, [check, ...checks], on);
  };
}

/**
 * A check and the guard that enforces it: a check alone is only metadata, silently unenforced
 * on a route no `TokengateGuard` covers. The guard does not verify twice where another
 * `TokengateGuard` (global or `@UseGuards`) already did, nor run the checks twice.
 */
function enforce(check: Guard): RouteDecorator {
  return applyDecorators(UseGuards(TokengateGuard), addCheck(check));
}

const checks: GuardFactories<RouteDecorator> = createGuards(enforce);

/**
 * Passes when the token grants every one of `scopes` (read from `scope` and `scp`, or the
 * `scopeClaims` setting); 403 `insufficient_scope` with `scope=` otherwise, 401 without a token.
 * An invalid scope name throws a `TypeError` when the class is defined.
 *
 * @example
 * @Get() @Scopes('orders:read') list(@Auth() auth: VerifiedToken) { … }
 */
export const Scopes: (...scopes: string[]) => RouteDecorator = checks.requireScopes;

/** Like `@Scopes`, but one of `scopes` is enough. */
export const AnyScope: (...scopes: string[]) => RouteDecorator = checks.requireAnyScope;

/**
 * Passes when `predicate(payload)` is (or resolves to) true; 403 otherwise, 401 without a token.
 * An async predicate (a directory lookup) is awaited once per request; one that throws or rejects
 * is a 403, never a 500. Accepts core's `claimEquals`, `claimIncludes` and `claimCheck` too.
 */
export const Claims: GuardFactories<RouteDecorator>['requireClaims'] = checks.requireClaims;

/** Options of `@Auth()`. */
export interface AuthOptions {
  /**
   * Inject `undefined` when the request carries no token (`credentialsRequired: false`), instead
   * of rejecting it with 401. Default false.
   */
  optional?: boolean;
}

/**
 * The verified token of the request (`VerifiedToken`: payload, header, …), set by
 * `TokengateGuard`. Without one (a route the guard does not cover, `@Public()`, or
 * `credentialsRequired: false` and no token) the request is rejected with 401 `token_missing`,
 * unless `{ optional: true }`.
 *
 * @example
 * @Get('me') me(@Auth() auth: VerifiedToken) { return { sub: auth.payload.sub }; }
 */
export const Auth: (options?: AuthOptions) => ParameterDecorator = createParamDecorator(
  (options: AuthOptions | undefined, context: ExecutionContext) => {
    const http = context.switchToHttp();
    const req = http.getRequest<NestRequest>();
    if (req.auth || options?.optional) return req.auth;
    return rejectRequest(
      req,
      http.getResponse(),
      new VerificationError('token_missing', {
        reason: '@Auth() found no verified token: TokengateGuard did not run or let it through',
      }),
    );
  },
);

import type { Middleware, Next, ParameterizedContext } from 'koa';
import { isVerificationError } from '@tokengate/core';
import type { VerifiedToken } from '@tokengate/core';
import {
  createGate,
  createGuards,
  guardRefusal,
  isPromiseLike,
  requireAuth,
} from '@tokengate/core/adapter';
import type { Gate, GateOptions, Guard, GuardFactories } from '@tokengate/core/adapter';

/** What `tokengate()` adds to `ctx.state`. */
export interface AuthState {
  /** The verified token; absent only when credentials are optional and none were sent. */
  auth?: VerifiedToken;
}

declare module 'koa' {
  // Declaration merging, so `ctx.state.auth` is typed in every handler, routers included.
  interface DefaultState {
    auth?: VerifiedToken;
  }
}

/** The context the middleware sees. */
export type AuthContext = ParameterizedContext<AuthState>;

/**
 * Verifier options (or a ready verifier, alone or as `{ verifier }`) plus the settings every
 * adapter shares (`credentialsRequired`, `getToken`, `logger`, `logLevels`, `onRejected`,
 * `passErrors`, `realm`, …).
 */
export type TokengateOptions = GateOptions<AuthContext>;

// Lets the guards log and answer through the gate that tokengate() was configured with. A symbol
// property, not a WeakMap: a WeakMap entry per request costs about 1.5 µs of GC work.
const GATE = Symbol('tokengate');
type WithGate = { [GATE]?: Gate<AuthContext> };
const gates = {
  set: (ctx: AuthContext, gate: Gate<AuthContext>) => void ((ctx as WithGate)[GATE] = gate),
  get: (ctx: AuthContext) => (ctx as WithGate)[GATE],
};

/**
 * Koa middleware that verifies the bearer token and sets `ctx.state.auth`, or answers 400, 401
 * or 503 with the RFC 6750 challenge. Works with Koa 2 and 3.
 *
 * @example
 * app.use(tokengate({ issuer, audience: 'api://orders', jwksUri }));
 * router.get('/orders', requireScopes('orders:read'), (ctx) => {
 *   ctx.body = ctx.state.auth!.payload;
 * });
 */
export function tokengate(options: TokengateOptions): Middleware<AuthState> {
  // Built once: a configuration mistake throws at start-up, not on the first request.
  const gate = createGate<AuthContext>(options, {
    raw: (ctx) => ctx.req,
    facts: (ctx) => ({
      method: ctx.method,
      path: ctx.originalUrl,
      requestId: ctx.get('x-request-id') || undefined,
    }),
  });

  return function tokengate(ctx, next) {
    gates.set(ctx, gate);
    let result: ReturnType<typeof gate.authenticate>;
    try {
      result = gate.authenticate(ctx);
    } catch (err) {
      return fail(err, ctx);
    }
    // A token-cache hit is synchronous: awaiting it anyway would cost every request a tick.
    // While it waits, a middleware that does not await next() (a timeout) may answer: then the
    // route must not run after that answer.
    if (isPromiseLike(result)) {
      return result.then(
        (auth) => (ctx.headerSent ? undefined : pass(auth, ctx, next)),
        (err: unknown) => (ctx.headerSent ? undefined : fail(err, ctx)),
      );
    }
    return pass(result, ctx, next);
  };
}

function pass(auth: VerifiedToken | undefined, ctx: AuthContext, next: Next): Promise<unknown> {
  if (auth) ctx.state.auth = auth;
  return next(); // never inside a try: an error downstream is not a token error
}

function fail(err: unknown, ctx: AuthContext): void {
  const gate = gates.get(ctx);
  // A bug, or a guard without tokengate() upstream: Koa's onerror answers from err.status/headers.
  if (!isVerificationError(err) || !gate) throw err;
  const { status, headers, body } = gate.reject(err, ctx);
  // passErrors: upstream middleware (an error handler wrapping `await next()`) catches it, or
  // Koa's onerror answers from err.status, err.headers and err.expose.
  if (gate.passErrors) throw err;
  ctx.status = status;
  ctx.set(headers);
  ctx.body = body;
}

function guard(check: Guard, name: string): Middleware<AuthState> {
  const middleware: Middleware<AuthState> = (ctx, next) => {
    const outcome = guardRefusal(check, ctx.state.auth, gates.get(ctx));
    // Only an async claims predicate answers later: a sync guard never costs a tick.
    if (isPromiseLike(outcome)) {
      return outcome.then((err) => {
        if (ctx.headerSent) return; // answered meanwhile (a timeout): nothing to add
        return err ? fail(err, ctx) : next();
      });
    }
    if (outcome) return fail(outcome, ctx);
    return next();
  };
  return Object.defineProperty(middleware, 'name', { value: name });
}

/** Route guards: `requireScopes`, `requireAnyScope`, `requireClaims` (see core's GuardFactories). */
export const {
  requireScopes,
  requireAnyScope,
  requireClaims,
}: GuardFactories<Middleware<AuthState>> = createGuards(guard);

/**
 * The verified token of a request that passed `tokengate()`: `ctx.state.auth`, typed as present.
 * Throws a `VerificationError` (`token_missing`, 401) when there is none: `tokengate()` did not
 * run on this route, or `credentialsRequired: false` let a request without a token through.
 *
 * @example
 * router.get('/orders', (ctx) => {
 *   ctx.body = { user: getAuth(ctx).payload.sub };
 * });
 */
export function getAuth(ctx: { state: { auth?: VerifiedToken | undefined } }): VerifiedToken {
  return requireAuth(ctx.state.auth);
}

// One install per framework: everything core offers (createVerifier, claimEquals,
// createFileStore, VerificationError, the types, …) is importable from this package too, so an
// app that installed only @tokengate/koa needs no import from @tokengate/core (which pnpm's
// strict layout would refuse).
export * from '@tokengate/core';

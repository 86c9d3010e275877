import type { NextFunction, Request, RequestHandler, Response } from 'express';
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

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `tokengate()`; absent only when credentials are optional and none were sent. */
      auth?: VerifiedToken;
    }
  }
}

/**
 * Verifier options (or a ready verifier, alone or as `{ verifier }`) plus the settings every
 * adapter shares (`credentialsRequired`, `getToken`, `logger`, `logLevels`, `onRejected`,
 * `passErrors`, `realm`, …).
 */
export type TokengateOptions = GateOptions<Request>;

// Lets the guards log and answer through the gate that tokengate() was configured with. A symbol
// property, not a WeakMap: a WeakMap entry per request costs about 1.5 µs of GC work.
const MOUNTED = Symbol('tokengate');
type WithGate = { [MOUNTED]?: Gate<Request> };
const mounted = {
  set: (req: Request, gate: Gate<Request>) => void ((req as WithGate)[MOUNTED] = gate),
  get: (req: Request) => (req as WithGate)[MOUNTED],
};

function requestId(req: Request): string | undefined {
  const id: unknown = (req as { id?: unknown }).id; // set by pino-http and similar
  if (typeof id === 'string' || typeof id === 'number') return String(id);
  return req.get('x-request-id');
}

/**
 * Express middleware that verifies the bearer token and sets `req.auth`, or answers 400, 401 or
 * 503 with the RFC 6750 challenge. Works with Express 4 and 5.
 *
 * @example
 * app.use(tokengate({ issuer, audience: 'api://orders', jwksUri }));
 * app.get('/orders', requireScopes('orders:read'), (req, res) => res.json(req.auth!.payload));
 */
export function tokengate(options: TokengateOptions): RequestHandler {
  // Built once: a configuration mistake throws at start-up, not on the first request.
  const gate = createGate<Request>(options, {
    raw: (req) => req,
    facts: (req) => ({ method: req.method, path: req.originalUrl, requestId: requestId(req) }),
  });

  return function tokengate(req: Request, res: Response, next: NextFunction): void {
    mounted.set(req, gate);
    let result: ReturnType<typeof gate.authenticate>;
    try {
      result = gate.authenticate(req);
    } catch (err) {
      return fail(err, req, res, next);
    }
    // A token-cache hit is synchronous: awaiting it anyway would cost every request a tick.
    // While it waits, another middleware (a timeout) may answer: then neither the rejection nor
    // the route may answer again (ERR_HTTP_HEADERS_SENT).
    if (isPromiseLike(result)) {
      result
        .then(
          (auth) => (res.headersSent ? undefined : pass(auth, req, next)),
          (err: unknown) => (res.headersSent ? undefined : fail(err, req, res, next)),
        )
        // A throw there (an onRejected hook, say) would be an unhandled rejection: a crash.
        .catch(next);
      return;
    }
    pass(result, req, next);
  };
}

function pass(auth: VerifiedToken | undefined, req: Request, next: NextFunction): void {
  if (auth) req.auth = auth;
  next(); // never inside a try: an error in a route is not a token error
}

function fail(err: unknown, req: Request, res: Response, next: NextFunction): void {
  const gate = mounted.get(req);
  // A bug, or a guard without tokengate() upstream: Express answers from err.status and headers.
  if (!isVerificationError(err) || !gate) return next(err);
  const { status, headers, body } = gate.reject(err, req);
  if (gate.passErrors) return next(err);
  res.status(status).set(headers).json(body);
}

function guard(check: Guard, name: string): RequestHandler {
  const handler = (req: Request, res: Response, next: NextFunction): void => {
    const outcome = guardRefusal(check, req.auth, mounted.get(req));
    // Only an async claims predicate answers later: a sync guard never costs a tick.
    if (isPromiseLike(outcome)) {
      outcome
        .then((err) => {
          // Another middleware (a timeout) answered while the predicate ran: nothing to add.
          if (res.headersSent) return;
          if (err) fail(err, req, res, next);
          else next();
        }, next)
        .catch(next);
      return;
    }
    if (outcome) return fail(outcome, req, res, next);
    next();
  };
  return Object.defineProperty(handler, 'name', { value: name });
}

const guards: GuardFactories<RequestHandler> = createGuards(guard);
// Annotated one by one: inferred Express handler types do not survive declaration emit.
/** Passes when the token grants every one of `scopes`; 403 otherwise, 401 without a token. */
export const requireScopes: GuardFactories<RequestHandler>['requireScopes'] = guards.requireScopes;
/** Like `requireScopes`, but one of `scopes` is enough. */
export const requireAnyScope: GuardFactories<RequestHandler>['requireAnyScope'] =
  guards.requireAnyScope;
/** Passes when `predicate(payload)` is (or resolves to) true; 403 otherwise, 401 without a token. */
export const requireClaims: GuardFactories<RequestHandler>['requireClaims'] = guards.requireClaims;

/**
 * The verified token of a request that passed `tokengate()`: `req.auth`, typed as present. Throws
 * a `VerificationError` (`token_missing`, 401) when there is none: `tokengate()` did not run on
 * this route, or `credentialsRequired: false` let a request without a token through.
 *
 * @example
 * app.get('/orders', (req, res) => res.json({ user: getAuth(req).payload.sub }));
 */
export function getAuth(req: Request): VerifiedToken {
  return requireAuth(req.auth);
}

// One install per framework: everything core offers (createVerifier, claimEquals,
// createFileStore, VerificationError, the types, …) is importable from this package too, so an
// app that installed only @tokengate/express needs no import from @tokengate/core (which pnpm's
// strict layout would refuse).
export * from '@tokengate/core';

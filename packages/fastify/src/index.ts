import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  preHandlerHookHandler,
} from 'fastify';
import fp from 'fastify-plugin';
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

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the tokengate plugin; `null` only when credentials are optional and none were sent. */
    auth: VerifiedToken | null;
  }
}

/**
 * Verifier options (or a ready verifier, alone or as `{ verifier }`) plus the settings every
 * adapter shares (`credentialsRequired`, `getToken`, `logger`, `logLevels`, `onRejected`,
 * `passErrors`, `realm`, …).
 */
export type TokengateOptions = GateOptions<FastifyRequest>;

// Lets the guards log and answer through the gate of the scope that verified the request. A
// request decorator, not a WeakMap: a WeakMap entry per request costs about 1.5 µs of GC work.
const GATE = Symbol('tokengate');
type WithGate = { [GATE]?: Gate<FastifyRequest> | null };
const gates = {
  set: (request: FastifyRequest, gate: Gate<FastifyRequest>) =>
    void ((request as WithGate)[GATE] = gate),
  get: (request: FastifyRequest) => (request as WithGate)[GATE] ?? undefined,
};

const plugin: FastifyPluginCallback<TokengateOptions> = (app, options, done) => {
  let gate: Gate<FastifyRequest>;
  try {
    // Built once: a configuration mistake fails registration, not the first request.
    gate = createGate<FastifyRequest>(
      withoutRegisterOptions(options),
      {
        raw: (request) => request.raw,
        // The URL as received: `request.url` is what `rewriteUrl` made of it, not what the
        // client called (and what a DPoP proof names).
        facts: (request) => ({
          method: request.method,
          path: request.originalUrl,
          requestId: request.id,
        }),
      },
      // Unless a logger is configured, records go where the rest of the request's logs go; with
      // Fastify's logger off they would be discarded, so core's JSON line on stderr takes over.
      hasFastifyLogger(app) ? (request) => request.log : undefined,
    );
  } catch (err) {
    return done(err as Error);
  }
  // `null`, not an object: Fastify 5 refuses reference-type defaults (FST_ERR_DEC_REFERENCE_TYPE).
  if (!app.hasRequestDecorator('auth')) app.decorateRequest('auth', null);
  // Declared, so every request has the same shape whether or not this scope verifies it.
  if (!app.hasRequestDecorator(GATE)) app.decorateRequest(GATE, null);

  // onRequest, so a rejected request never reaches body parsing.
  app.addHook('onRequest', function tokengate(request, reply, next) {
    gates.set(request, gate);
    let result: ReturnType<typeof gate.authenticate>;
    try {
      result = gate.authenticate(request);
    } catch (err) {
      return fail(err, request, reply, next);
    }
    // A token-cache hit is synchronous: awaiting it anyway would cost every request a tick.
    // While it waits, another hook (a timeout) may answer: then nothing more is sent or run.
    if (isPromiseLike(result)) {
      result.then(
        (auth) => (reply.sent ? undefined : pass(auth, request, next)),
        (err: unknown) => (reply.sent ? undefined : fail(err, request, reply, next)),
      );
      return;
    }
    pass(result, request, next);
  });
  done();
};

// Fastify hands its own register options to the plugin; they are Fastify's, not tokengate's.
const REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers'];

function withoutRegisterOptions(options: TokengateOptions): TokengateOptions {
  if (!REGISTER_OPTIONS.some((name) => Object.hasOwn(options, name))) return options;
  const copy: Record<string, unknown> = { ...options };
  for (const name of REGISTER_OPTIONS) delete copy[name];
  return copy;
}

/**
 * Whether the app has a logger. Without one, Fastify's `app.log` is a no-op logger whose `child()`
 * returns itself (fastify/lib/logger-factory.js); pino and other real loggers make a new child.
 */
function hasFastifyLogger(app: FastifyInstance): boolean {
  return app.log.child({}) !== app.log;
}

function pass(
  auth: VerifiedToken | undefined,
  request: FastifyRequest,
  next: HookHandlerDoneFunction,
): void {
  request.auth = auth ?? null;
  next(); // never inside a try: an error in a route is not a token error
}

function fail(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  next: HookHandlerDoneFunction,
): void {
  const gate = gates.get(request);
  // A bug, or a guard outside a protected scope: Fastify answers from err.statusCode and headers.
  if (!isVerificationError(err) || !gate) return next(err as Error);
  const { status, headers, body } = gate.reject(err, request);
  // passErrors: the scope's error handler (`setErrorHandler`, or Fastify's default, which reads
  // err.statusCode and err.headers) answers instead.
  if (gate.passErrors) return next(err);
  // Answered here, so the hook chain stops: `next` is deliberately not called.
  reply.code(status).headers(headers).send(body);
}

/**
 * Fastify plugin that verifies the bearer token in `onRequest` and sets `request.auth`, or
 * answers 400, 401 or 503 with the RFC 6750 challenge. It protects the scope that registers it:
 * register it inside a prefixed plugin to protect only that prefix.
 *
 * @example
 * await app.register(tokengate, { issuer, audience: 'api://orders', jwksUri });
 * app.get('/orders', { preHandler: requireScopes('orders:read') }, (req) => req.auth!.payload);
 */
const tokengate = fp(plugin, { fastify: '5.x', name: '@tokengate/fastify' });
export default tokengate;
export { tokengate };

function guard(check: Guard, name: string): preHandlerHookHandler {
  const hook: preHandlerHookHandler = (request, reply, next) => {
    const outcome = guardRefusal(check, request.auth, gates.get(request));
    // Only an async claims predicate answers later: a sync guard never costs a tick.
    if (isPromiseLike(outcome)) {
      outcome.then(
        (err) => {
          if (reply.sent) return; // answered meanwhile (a timeout): nothing to add
          if (err) fail(err, request, reply, next);
          else next();
        },
        (err: unknown) => next(err as Error),
      );
      return;
    }
    if (outcome) return fail(outcome, request, reply, next);
    next();
  };
  return Object.defineProperty(hook, 'name', { value: name });
}

/** Route guards: `requireScopes`, `requireAnyScope`, `requireClaims` (see core's GuardFactories). */
export const {
  requireScopes,
  requireAnyScope,
  requireClaims,
}: GuardFactories<preHandlerHookHandler> = createGuards(guard);

/**
 * The verified token of a request that passed the plugin: `request.auth`, typed as present.
 * Throws a `VerificationError` (`token_missing`, 401) when there is none: the plugin does not
 * cover this route, or `credentialsRequired: false` let a request without a token through.
 *
 * @example
 * app.get('/orders', async (request) => ({ user: getAuth(request).payload.sub }));
 */
export function getAuth(request: FastifyRequest): VerifiedToken {
  return requireAuth(request.auth);
}

// One install per framework: everything core offers (createVerifier, claimEquals,
// createFileStore, VerificationError, the types, …) is importable from this package too, so an
// app that installed only @tokengate/fastify needs no import from @tokengate/core (which pnpm's
// strict layout would refuse).
export * from '@tokengate/core';

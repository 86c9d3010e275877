import { Inject, Injectable } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { isVerificationError, toHttpError } from '@tokengate/core';
import type { VerificationError, VerifiedToken } from '@tokengate/core';
import { guardRefusal, isPromiseLike } from '@tokengate/core/adapter';
import type { Gate, Guard } from '@tokengate/core/adapter';
import { TokengateException } from './exception.js';
import type { NestRequest } from './request.js';
import { PUBLIC_ROUTE, ROUTE_CHECKS, TOKENGATE_GATE } from './tokens.js';

// What the guard leaves on the request: whether it verified it (so a second TokengateGuard,
// global and per route, does not verify it twice) and how to reject through its gate later (for
// `@Auth()`). A symbol property, not a WeakMap: a WeakMap entry per request costs about 1.5 µs
// of GC work.
const GUARDED = Symbol('tokengate');
interface Guarded {
  verifiedBy: Gate<NestRequest> | undefined;
  reject: (err: VerificationError) => never;
}
type WithGuard = NestRequest & { [GUARDED]?: Guarded };

/** Express's `res.header(name, value)` and Fastify's `reply.header(name, value)`. */
interface HeaderSetter {
  header(name: string, value: string): unknown;
}

/**
 * Rejects through the gate of the guard that saw `req` (one log record, the challenge on the
 * response), or, when no guard ran, with the plain RFC 6750 answer and no record.
 */
export function rejectRequest(req: NestRequest, response: unknown, err: VerificationError): never {
  const guarded = (req as WithGuard)[GUARDED];
  if (guarded) return guarded.reject(err);
  const answer = toHttpError(err);
  const res = response as Partial<HeaderSetter>;
  if (typeof res.header === 'function') {
    for (const [name, value] of Object.entries(answer.headers)) res.header(name, value);
  }
  throw new TokengateException(err, answer);
}

/**
 * Verifies the bearer token (or DPoP proof, or certificate-bound token) and sets `req.auth`, then
 * runs the route's `@Scopes`, `@AnyScope` and `@Claims` checks, class first. A rejection is a
 * `TokengateException` (an `HttpException`) with the RFC 6750 status, body and challenge, logged
 * once. Use it globally (`{ provide: APP_GUARD, useClass: TokengateGuard }`), per controller or
 * per route (`@UseGuards(TokengateGuard)`); `@Public()` exempts a route. Only HTTP contexts pass:
 * anything else (RPC, WebSocket) is refused, as no bearer token can be read from it here.
 */
@Injectable()
export class TokengateGuard implements CanActivate {
  constructor(
    @Inject(TOKENGATE_GATE) private readonly gate: Gate<NestRequest>,
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return false;
    const http = context.switchToHttp();
    const req = http.getRequest<WithGuard>();
    const response: unknown = http.getResponse();
    const reject = (err: VerificationError): never => this.reject(err, req, response);
    const handler = context.getHandler();
    const controller = context.getClass();
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [handler, controller])) {
      // Nothing verified; `@Auth()` on this route still rejects through the gate.
      req[GUARDED] ??= { verifiedBy: undefined, reject };
      return true;
    }
    const checks = [
      ...(this.reflector.get<Guard[] | undefined>(ROUTE_CHECKS, controller) ?? []),
      ...(this.reflector.get<Guard[] | undefined>(ROUTE_CHECKS, handler) ?? []),
    ];
    // A second guard with this gate (global and per route, or the ones `@Scopes` & co. add):
    // the first verified the request and ran every check of the route, an async lookup included.
    if (req[GUARDED]?.verifiedBy === this.gate) return true;
    req[GUARDED] = { verifiedBy: this.gate, reject };
    let result: ReturnType<typeof this.gate.authenticate>;
    try {
      result = this.gate.authenticate(req);
    } catch (err) {
      return fail(err, reject);
    }
    // A token-cache hit is synchronous: awaiting it anyway would cost every request a tick.
    if (isPromiseLike(result)) {
      return result.then(
        (auth) =>
          !this.answered(response) && this.check(req, response, (req.auth = auth), checks, 0),
        (err: unknown) => !this.answered(response) && fail(err, reject),
      );
    }
    req.auth = result;
    return this.check(req, response, result, checks, 0);
  }

  /**
   * Whether a middleware (a timeout) answered while the guard waited. Then the guard answers
   * `false`, so the route does not run and adds no second answer, and Nest's exception filter,
   * seeing the headers sent, only ends the response.
   */
  private answered(response: unknown): boolean {
    return this.adapterHost.httpAdapter.isHeadersSent(response) === true;
  }

  /** Runs `checks` from `from` on; synchronous until an async claims predicate. */
  private check(
    req: WithGuard,
    response: unknown,
    auth: VerifiedToken | undefined,
    checks: readonly Guard[],
    from: number,
  ): boolean | Promise<boolean> {
    const { reject } = req[GUARDED]!;
    for (let i = from; i < checks.length; i++) {
      const outcome = guardRefusal(checks[i]!, auth, this.gate);
      if (isPromiseLike(outcome)) {
        return outcome.then((err) => {
          if (this.answered(response)) return false;
          return err ? reject(err) : this.check(req, response, auth, checks, i + 1);
        });
      }
      if (outcome) reject(outcome);
    }
    return true;
  }

  private reject(err: VerificationError, req: NestRequest, response: unknown): never {
    const answer = this.gate.reject(err, req);
    // The challenge goes on the response now, so an exception filter that reshapes the body
    // keeps it; with passErrors the filter answers alone, from the exception's headers.
    if (!this.gate.passErrors) {
      const adapter = this.adapterHost.httpAdapter;
      for (const [name, value] of Object.entries(answer.headers)) {
        adapter.setHeader(response, name, value);
      }
    }
    throw new TokengateException(err, answer);
  }
}

/** A VerificationError becomes the rejection; anything else (a bug) reaches Nest unchanged. */
function fail(err: unknown, reject: (err: VerificationError) => never): never {
  if (!isVerificationError(err)) throw err;
  return reject(err);
}

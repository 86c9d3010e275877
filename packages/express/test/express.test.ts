import express from 'express';
import type { ErrorRequestHandler, NextFunction, Request, Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { VerificationError } from '@tokengate/core';
import { listen } from '@tokengate/test-fixtures/http';
import type { Listening } from '@tokengate/test-fixtures/http';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import {
  HELD_OUTCOMES,
  holdVerifier,
  unhandledRejectionsDuring,
} from '@tokengate/test-fixtures/held-verifier';
import { createStubVerifier } from '@tokengate/test-fixtures/stub-verifier';
import { getAuth, requireClaims, requireScopes, tokengate } from '../src/index.js';

const answers = { good: { sub: 'alice', scope: 'orders:read' }, old: 'token_expired' } as const;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let server: Listening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(app: express.Express): Promise<string> {
  server = await listen(app);
  return server.origin;
}

/** Collects what reaches Express's error handlers, and answers 599 so it is visible. */
function errorSink(seen: unknown[]): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    seen.push(err);
    res.status(599).json({ code: (err as { code?: unknown }).code ?? null });
  };
}

describe('@tokengate/express', () => {
  it('hands a rejection to next(err) when passErrors is set, logged once', async () => {
    const logger = createCapturingLogger();
    const seen: unknown[] = [];
    const app = express();
    app.use(tokengate({ verifier: createStubVerifier(answers), logger, passErrors: true }));
    app.get('/orders', (_req, res) => void res.json({ ran: true }));
    app.use(errorSink(seen));
    const res = await fetch(`${await serve(app)}/orders`, { headers: bearer('old') });
    expect(res.status).toBe(599);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(VerificationError);
    expect(seen[0]).toMatchObject({ code: 'token_expired', status: 401 });
    expect(logger.rejections()).toMatchObject([{ code: 'token_expired', path: '/orders' }]);
  });

  it("with passErrors, Express's default handler answers from err.status and err.headers", async () => {
    const app = express();
    app.use(
      tokengate({
        verifier: createStubVerifier(answers),
        logger: createCapturingLogger(),
        passErrors: true,
      }),
    );
    app.get('/orders', (_req, res) => void res.json({ ran: true }));
    const res = await fetch(`${await serve(app)}/orders`, { headers: bearer('old') });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer error="invalid_token", error_description="token has expired"',
    );
  });

  it('an error thrown by a route is not a token error', async () => {
    const logger = createCapturingLogger();
    const seen: unknown[] = [];
    const app = express();
    app.use(tokengate({ verifier: createStubVerifier(answers), logger }));
    app.get('/orders', () => {
      throw new Error('route bug');
    });
    app.use(errorSink(seen));
    const res = await fetch(`${await serve(app)}/orders`, { headers: bearer('good') });
    expect(res.status).toBe(599);
    expect(seen).toEqual([new Error('route bug')]);
    expect(logger.entries).toEqual([]);
  });

  it('a token-cache hit calls next() synchronously and never calls verify()', () => {
    const verifier = createStubVerifier(answers);
    verifier.warm('good');
    const middleware = tokengate(verifier);
    const req = {
      headers: bearer('good'),
      rawHeaders: ['Authorization', 'Bearer good'],
    } as unknown as Request;
    let nextCalls = 0;
    middleware(req, {} as Response, (() => void nextCalls++) as NextFunction);
    // Checked before any await: the middleware finished its work in the same tick.
    expect(nextCalls).toBe(1);
    expect(req.auth?.payload.sub).toBe('alice');
    expect(verifier.calls).toEqual({ verify: 0, cached: 1 });
  });

  it('a sync claims guard calls next() in the same tick; an async one after its promise', async () => {
    const req = { auth: { payload: { role: 'admin' }, header: { alg: 'ES256' }, token: 't' } };
    let nextCalls = 0;
    const next = (() => void nextCalls++) as NextFunction;
    requireClaims((p) => p.role === 'admin')(req as unknown as Request, {} as Response, next);
    expect(nextCalls).toBe(1);
    let settle: (ok: boolean) => void = () => {};
    const pending = new Promise<boolean>((resolve) => (settle = resolve));
    requireClaims(() => pending)(req as unknown as Request, {} as Response, next);
    expect(nextCalls).toBe(1);
    settle(true);
    await pending;
    await new Promise((resolve) => setImmediate(resolve));
    expect(nextCalls).toBe(2);
  });

  it('a guard with no tokengate() upstream forwards a 401 that Express answers itself', async () => {
    const app = express();
    app.get('/orders', requireScopes('orders:read'), (_req, res) => void res.json({ ran: true }));
    const res = await fetch(`${await serve(app)}/orders`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('logs the full path (mount point included, query dropped) and the request id', async () => {
    const logger = createCapturingLogger();
    const router = express.Router();
    router.use(tokengate({ verifier: createStubVerifier(answers), logger }));
    router.get('/orders', (_req, res) => void res.json({ ran: true }));
    const app = express();
    app.use('/api', router);
    const res = await fetch(`${await serve(app)}/api/orders?access_token=secret`, {
      headers: { ...bearer('old'), 'x-request-id': 'abc-1' },
    });
    expect(res.status).toBe(401);
    expect(logger.rejections()).toEqual([
      expect.objectContaining({ path: '/api/orders', method: 'GET', requestId: 'abc-1' }),
    ]);
    expect(JSON.stringify(logger.entries)).not.toContain('secret');
  });

  it('prefers req.id (pino-http) as the request id', async () => {
    const logger = createCapturingLogger();
    const app = express();
    app.use((req, _res, next) => {
      (req as Request & { id: number }).id = 42;
      next();
    });
    app.use(tokengate({ verifier: createStubVerifier(answers), logger }));
    await fetch(`${await serve(app)}/orders`, { headers: { 'x-request-id': 'ignored' } });
    expect(logger.rejections()).toMatchObject([{ code: 'token_missing', requestId: '42' }]);
  });

  it('calls onRejected once with the error and the Express request', async () => {
    const calls: [string, string][] = [];
    const app = express();
    app.use(
      tokengate({
        verifier: createStubVerifier(answers),
        logger: createCapturingLogger(),
        onRejected: (err, req) => void calls.push([err.code, req.originalUrl]),
      }),
    );
    await fetch(`${await serve(app)}/orders`, { headers: bearer('old') });
    expect(calls).toEqual([['token_expired', '/orders']]);
  });

  it('throws configuration mistakes at construction, not on a request', () => {
    expect(() => tokengate({} as never)).toThrow(TypeError);
    expect(() => tokengate({ verifier: {} as never })).toThrow(TypeError);
    expect(() => requireScopes()).toThrow(TypeError);
    expect(() => requireScopes('orders read')).toThrow(TypeError);
  });

  it('throws a TypeError for a bad logLevels or passErrors at construction', () => {
    const verifier = createStubVerifier(answers);
    expect(() => tokengate({ verifier, logLevels: { token_mising: 'info' } as never })).toThrow(
      /unknown error code: "token_mising"/,
    );
    expect(() => tokengate({ verifier, logLevels: { token_missing: 'debug' } as never })).toThrow(
      /"logLevels.token_missing" must be/,
    );
    expect(() => tokengate({ verifier, logLevels: [] as never })).toThrow(TypeError);
    expect(() => tokengate({ verifier, passErrors: 'yes' as never })).toThrow(
      /"passErrors" must be a boolean/,
    );
  });

  it('getAuth(req) returns the token, and throws token_missing where tokengate() did not run', async () => {
    const app = express();
    app.get('/open', (req, res) => void res.json({ sub: getAuth(req).payload.sub }));
    app.use(tokengate({ verifier: createStubVerifier(answers), logger: createCapturingLogger() }));
    app.get('/orders', (req, res) => void res.json({ sub: getAuth(req).payload.sub }));
    const origin = await serve(app);
    const ok = await fetch(`${origin}/orders`, { headers: bearer('good') });
    expect(await ok.json()).toEqual({ sub: 'alice' });
    // Thrown in the handler: Express's finalhandler answers from err.status and err.headers.
    const unguarded = await fetch(`${origin}/open`, { headers: bearer('good') });
    expect(unguarded.status).toBe(401);
    expect(unguarded.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('names its guards for stack traces', () => {
    expect(requireScopes('a').name).toBe('requireScopes');
  });

  // A timeout middleware (connect-timeout and the like) answered while verification waited.
  it.each(HELD_OUTCOMES)(
    'a token %s after another middleware answered: no second answer, no unhandled rejection',
    async (_outcome, token) => {
      const verifier = holdVerifier(createStubVerifier(answers));
      const seen: unknown[] = [];
      let routeRan = false;
      const app = express();
      app.use((_req, res, next) => {
        next();
        void verifier.waiting.then(() => res.status(503).end('timeout'));
      });
      app.use(tokengate({ verifier, logger: false }));
      app.get('/orders', (_req, res) => {
        routeRan = true;
        res.json({ ran: true });
      });
      app.use(errorSink(seen));
      const origin = await serve(app);
      const unhandled = await unhandledRejectionsDuring(async () => {
        const res = await fetch(`${origin}/orders`, { headers: bearer(token) });
        expect([res.status, await res.text()]).toEqual([503, 'timeout']);
        verifier.release();
      });
      expect(unhandled).toEqual([]);
      expect(seen).toEqual([]);
      expect(routeRan).toBe(false);
    },
  );

  it('an async claims guard answering after another middleware did: no unhandled rejection', async () => {
    let answered!: () => void;
    const timedOut = new Promise<void>((resolve) => (answered = resolve));
    const app = express();
    app.use(tokengate({ verifier: createStubVerifier(answers), logger: false }));
    app.use((_req, res, next) => {
      next();
      res.status(503).end('timeout');
      answered();
    });
    app.get(
      '/orders',
      requireClaims(async () => {
        await timedOut;
        return false;
      }),
      (_req, res) => void res.json({ ran: true }),
    );
    const origin = await serve(app);
    const unhandled = await unhandledRejectionsDuring(async () => {
      const res = await fetch(`${origin}/orders`, { headers: bearer('good') });
      expect(res.status).toBe(503);
    });
    expect(unhandled).toEqual([]);
  });
});

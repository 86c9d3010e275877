import Koa from 'koa';
import type { Next } from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
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
import type { AuthContext } from '../src/index.js';

const answers = { good: { sub: 'alice', scope: 'orders:read' }, old: 'token_expired' } as const;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let server: Listening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A Koa app that collects what reaches app.on('error') instead of printing it. */
function createApp(): { app: Koa; errors: unknown[] } {
  const app = new Koa();
  const errors: unknown[] = [];
  app.on('error', (err: unknown) => void errors.push(err));
  return { app, errors };
}

async function serve(app: Koa): Promise<string> {
  server = await listen(app.callback());
  return server.origin;
}

describe('@tokengate/koa', () => {
  it('getAuth(ctx) returns the token, and throws token_missing where there is none', async () => {
    const { app, errors } = createApp();
    app.use(
      tokengate({
        verifier: createStubVerifier(answers),
        credentialsRequired: false,
        logger: createCapturingLogger(),
      }),
    );
    app.use((ctx) => {
      ctx.body = { sub: getAuth(ctx).payload.sub };
    });
    const origin = await serve(app);
    const ok = await fetch(`${origin}/orders`, { headers: bearer('good') });
    expect(await ok.json()).toEqual({ sub: 'alice' });
    // Thrown in the handler: Koa's onerror answers from err.status, err.headers and err.expose.
    const none = await fetch(`${origin}/orders`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(errors).toEqual([expect.objectContaining({ code: 'token_missing' })]);
  });

  it('sets ctx.state.auth for downstream middleware', async () => {
    const { app } = createApp();
    app.use(tokengate({ verifier: createStubVerifier(answers), logger: createCapturingLogger() }));
    app.use((ctx) => {
      ctx.body = { sub: ctx.state.auth?.payload.sub };
    });
    const res = await fetch(`${await serve(app)}/orders`, { headers: bearer('good') });
    expect(await res.json()).toEqual({ sub: 'alice' });
  });

  it('an error thrown downstream is not a token error', async () => {
    const logger = createCapturingLogger();
    const { app, errors } = createApp();
    app.use(tokengate({ verifier: createStubVerifier(answers), logger }));
    app.use(() => {
      throw new Error('route bug');
    });
    const res = await fetch(`${await serve(app)}/orders`, { headers: bearer('good') });
    expect(res.status).toBe(500);
    expect(errors).toEqual([expect.objectContaining({ message: 'route bug' })]);
    expect(logger.entries).toEqual([]);
  });

  it('answers a rejection itself: the app error handler never sees it', async () => {
    const logger = createCapturingLogger();
    const { app, errors } = createApp();
    app.use(tokengate({ verifier: createStubVerifier(answers), logger }));
    const res = await fetch(`${await serve(app)}/orders`, {
      headers: { ...bearer('old'), 'x-request-id': 'abc-1' },
    });
    expect(res.status).toBe(401);
    expect(errors).toEqual([]);
    expect(logger.rejections()).toMatchObject([
      { code: 'token_expired', path: '/orders', requestId: 'abc-1' },
    ]);
  });

  it('a token-cache hit calls next() synchronously and never calls verify()', () => {
    const verifier = createStubVerifier(answers);
    verifier.warm('good');
    const middleware = tokengate(verifier);
    const ctx = {
      req: { headers: bearer('good'), rawHeaders: ['Authorization', 'Bearer good'] },
      state: {},
    } as unknown as AuthContext;
    let nextCalls = 0;
    const next: Next = () => (nextCalls++, Promise.resolve());
    void middleware(ctx, next);
    // Checked before any await: the middleware finished its work in the same tick.
    expect(nextCalls).toBe(1);
    expect(ctx.state.auth?.payload.sub).toBe('alice');
    expect(verifier.calls).toEqual({ verify: 0, cached: 1 });
  });

  it('a sync claims guard calls next() in the same tick; an async one after its promise', async () => {
    const ctx = {
      state: { auth: { payload: { role: 'admin' }, header: { alg: 'ES256' }, token: 't' } },
    } as unknown as AuthContext;
    let nextCalls = 0;
    const next: Next = () => (nextCalls++, Promise.resolve());
    void requireClaims((p) => p.role === 'admin')(ctx, next);
    expect(nextCalls).toBe(1);
    let settle: (ok: boolean) => void = () => {};
    const pending = new Promise<boolean>((resolve) => (settle = resolve));
    const done = requireClaims(() => pending)(ctx, next);
    expect(nextCalls).toBe(1);
    settle(true);
    await done;
    expect(nextCalls).toBe(2);
  });

  it('a guard with no tokengate() upstream throws a 401 that Koa answers itself', async () => {
    const { app, errors } = createApp();
    app.use(requireScopes('orders:read'));
    const res = await fetch(`${await serve(app)}/orders`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(errors).toHaveLength(1);
  });

  it('calls onRejected once with the error and the context', async () => {
    const calls: [string, string][] = [];
    const { app } = createApp();
    app.use(
      tokengate({
        verifier: createStubVerifier(answers),
        logger: createCapturingLogger(),
        onRejected: (err, ctx) => void calls.push([err.code, ctx.path]),
      }),
    );
    await fetch(`${await serve(app)}/orders`, { headers: bearer('old') });
    expect(calls).toEqual([['token_expired', '/orders']]);
  });

  it('throws configuration mistakes at construction, not on a request', () => {
    expect(() => tokengate({} as never)).toThrow(TypeError);
    expect(() => requireScopes('orders read')).toThrow(TypeError);
  });

  // A timeout middleware answered while verification waited (Koa answers once the chain it
  // awaits settles, so the middleware does not await next()).
  it.each(HELD_OUTCOMES)(
    'a token %s after another middleware answered: no second answer, no unhandled rejection',
    async (_outcome, token) => {
      const verifier = holdVerifier(createStubVerifier(answers));
      const { app, errors } = createApp();
      let routeRan = false;
      app.use(async (ctx, next) => {
        void next();
        await verifier.waiting;
        ctx.status = 503;
        ctx.body = 'timeout';
      });
      app.use(tokengate({ verifier, logger: false }));
      app.use((ctx) => {
        routeRan = true;
        ctx.body = { ran: true };
      });
      const origin = await serve(app);
      const unhandled = await unhandledRejectionsDuring(async () => {
        const res = await fetch(`${origin}/orders`, { headers: bearer(token) });
        expect([res.status, await res.text()]).toEqual([503, 'timeout']);
        verifier.release();
      });
      expect(unhandled).toEqual([]);
      expect(errors).toEqual([]);
      expect(routeRan).toBe(false);
    },
  );
});

import { Writable } from 'node:stream';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import {
  HELD_OUTCOMES,
  holdVerifier,
  unhandledRejectionsDuring,
} from '@tokengate/test-fixtures/held-verifier';
import { createStubVerifier } from '@tokengate/test-fixtures/stub-verifier';
import tokengate, { getAuth, requireClaims, requireScopes } from '../src/index.js';

const answers = { good: { sub: 'alice', scope: 'orders:read' }, old: 'token_expired' } as const;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

function createApp(options: FastifyServerOptions = {}): FastifyInstance {
  const app = Fastify(options);
  apps.push(app);
  return app;
}

/** A stream for Fastify's logger that keeps each JSON line it is given. */
function captureLines() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { stream, lines };
}

describe('@tokengate/fastify', () => {
  it('logs a rejection through request.log by default: one warn line with the request id', async () => {
    const { stream, lines } = captureLines();
    const app = createApp({ logger: { level: 'warn', stream } });
    await app.register(tokengate, { verifier: createStubVerifier(answers) });
    app.get('/orders', async () => ({ ran: true }));
    const res = await app.inject({ url: '/orders', headers: bearer('old') });
    expect(res.statusCode).toBe(401);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40, // pino's warn
        reqId: expect.any(String),
        event: 'token_rejected',
        code: 'token_expired',
        msg: 'token rejected',
      }),
    ]);
    expect(lines[0]!.requestId).toBe(lines[0]!.reqId);
  });

  it('a sync claims guard calls next in the same tick; an async one after its promise', async () => {
    const request = { auth: { payload: { role: 'admin' }, header: { alg: 'ES256' }, token: 't' } };
    let nextCalls = 0;
    const next = () => void nextCalls++;
    const run = (hook: ReturnType<typeof requireClaims>) =>
      (hook as unknown as (req: unknown, reply: unknown, done: () => void) => void)(
        request,
        {},
        next,
      );
    run(requireClaims((p) => p.role === 'admin'));
    expect(nextCalls).toBe(1);
    let settle: (ok: boolean) => void = () => {};
    const pending = new Promise<boolean>((resolve) => (settle = resolve));
    run(requireClaims(() => pending));
    expect(nextCalls).toBe(1);
    settle(true);
    await pending;
    await new Promise((resolve) => setImmediate(resolve));
    expect(nextCalls).toBe(2);
  });

  it('registered inside a prefixed scope, it protects only that scope', async () => {
    const app = createApp();
    const logger = createCapturingLogger();
    await app.register(
      async (api) => {
        await api.register(tokengate, { verifier: createStubVerifier(answers), logger });
        api.get('/orders', async (req) => ({ sub: req.auth?.payload.sub }));
      },
      { prefix: '/api' },
    );
    app.get('/health', async () => ({ up: true }));
    const health = await app.inject({ url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(logger.entries).toEqual([]);
    expect((await app.inject({ url: '/api/orders' })).statusCode).toBe(401);
    const ok = await app.inject({ url: '/api/orders', headers: bearer('good') });
    expect(ok.json()).toEqual({ sub: 'alice' });
  });

  it('rejects in onRequest, before the body is parsed', async () => {
    const app = createApp();
    let parsed = 0;
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      parsed++;
      done(null, JSON.parse(body as string));
    });
    await app.register(tokengate, {
      verifier: createStubVerifier(answers),
      logger: createCapturingLogger(),
    });
    app.post('/orders', async () => ({ ran: true }));
    const res = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'content-type': 'application/json' },
      payload: '{ not json',
    });
    expect(res.statusCode).toBe(401);
    expect(parsed).toBe(0);
  });

  it('an error thrown by a route is not a token error', async () => {
    const logger = createCapturingLogger();
    const app = createApp();
    await app.register(tokengate, { verifier: createStubVerifier(answers), logger });
    app.get('/orders', async () => {
      throw new Error('route bug');
    });
    const res = await app.inject({ url: '/orders', headers: bearer('good') });
    expect(res.statusCode).toBe(500);
    expect(logger.entries).toEqual([]);
  });

  it('can be registered in a parent and a child scope (the decorator is added once)', async () => {
    const app = createApp();
    const logger = createCapturingLogger();
    const verifier = createStubVerifier(answers);
    await app.register(tokengate, { verifier, logger, credentialsRequired: false });
    await app.register(async (child) => {
      await child.register(tokengate, { verifier, logger });
      child.get('/strict', async (req) => ({ sub: req.auth?.payload.sub }));
    });
    app.get('/lenient', async (req) => ({ auth: req.auth }));
    await app.ready();
    expect((await app.inject({ url: '/lenient' })).json()).toEqual({ auth: null });
    expect((await app.inject({ url: '/strict' })).statusCode).toBe(401);
  });

  it('a guard outside any protected scope forwards a 401 that Fastify answers itself', async () => {
    const app = createApp();
    app.get('/orders', { preHandler: requireScopes('orders:read') }, async () => ({ ran: true }));
    const res = await app.inject({ url: '/orders' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('sets request.auth to null when credentials are optional and absent', async () => {
    const app = createApp();
    await app.register(tokengate, {
      verifier: createStubVerifier(answers),
      credentialsRequired: false,
    });
    app.get('/orders', async (req) => ({ auth: req.auth }));
    expect((await app.inject({ url: '/orders' })).json()).toEqual({ auth: null });
  });

  it('without a Fastify logger, logs the same JSON line on stderr as the other adapters', async () => {
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const app = createApp(); // Fastify() as in the README: no logger
      await app.register(tokengate, { verifier: createStubVerifier(answers) });
      app.get('/orders', async () => ({ ran: true }));
      expect((await app.inject({ url: '/orders', headers: bearer('old') })).statusCode).toBe(401);
      expect((await app.inject({ url: '/orders' })).statusCode).toBe(401);
    } finally {
      process.stderr.write = write;
    }
    const records = written.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records).toEqual([
      expect.objectContaining({ level: 'warn', event: 'token_rejected', code: 'token_expired' }),
      expect.objectContaining({ level: 'info', event: 'token_rejected', code: 'token_missing' }),
    ]);
  });

  it('getAuth(request) returns the token, and throws token_missing where there is none', async () => {
    const app = createApp();
    await app.register(tokengate, {
      verifier: createStubVerifier(answers),
      credentialsRequired: false,
      logger: createCapturingLogger(),
    });
    app.get('/orders', async (request) => ({ sub: getAuth(request).payload.sub }));
    const ok = await app.inject({ url: '/orders', headers: bearer('good') });
    expect(ok.json()).toEqual({ sub: 'alice' });
    // Thrown in the handler: Fastify's error handler answers from statusCode and headers.
    const none = await app.inject({ url: '/orders' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
  });

  it('fails registration on a configuration mistake, not on a request', async () => {
    const app = createApp();
    app.register(tokengate, {} as never);
    await expect(app.ready()).rejects.toThrow(TypeError);
  });

  // An earlier hook (a timeout) answered while verification waited.
  it.each(HELD_OUTCOMES)(
    'a token %s after another hook answered: no second answer, no unhandled rejection',
    async (_outcome, token) => {
      const verifier = holdVerifier(createStubVerifier(answers));
      const { stream, lines } = captureLines();
      const app = createApp({ logger: { level: 'warn', stream } });
      let routeRan = false;
      app.addHook('onRequest', (_request, reply, done) => {
        done();
        void verifier.waiting.then(() => reply.code(503).send('timeout'));
      });
      await app.register(tokengate, { verifier, logger: false });
      app.get('/orders', async () => {
        routeRan = true;
        return { ran: true };
      });
      const unhandled = await unhandledRejectionsDuring(async () => {
        const res = await app.inject({ url: '/orders', headers: bearer(token) });
        expect([res.statusCode, res.body]).toEqual([503, 'timeout']);
        verifier.release();
      });
      expect(unhandled).toEqual([]);
      expect(lines).toEqual([]);
      expect(routeRan).toBe(false);
    },
  );
});

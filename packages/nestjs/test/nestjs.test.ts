import 'reflect-metadata';
import { Catch, Controller, Get, Inject, Injectable, Module, UseGuards } from '@nestjs/common';
import type { ArgumentsHost, ExceptionFilter, ExecutionContext } from '@nestjs/common';
import { APP_GUARD, HttpAdapterHost, Reflector } from '@nestjs/core';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createClock } from '@tokengate/test-fixtures/clock';
import { startJwksServer } from '@tokengate/test-fixtures/jwks-server';
import { issuerJwks } from '@tokengate/test-fixtures/keys';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import {
  HELD_OUTCOMES,
  holdVerifier,
  unhandledRejectionsDuring,
} from '@tokengate/test-fixtures/held-verifier';
import { createStubVerifier } from '@tokengate/test-fixtures/stub-verifier';
import { AUDIENCE, ISSUER, claims, sign } from '@tokengate/test-fixtures/tokens';
import {
  AnyScope,
  Auth,
  Claims,
  Public,
  Scopes,
  TOKENGATE_GATE,
  TokengateException,
  TokengateGuard,
  TokengateModule,
  VerificationError,
} from '../src/index.js';
import type { GateSettings, NestRequest, TokenPayload, VerifiedToken } from '../src/index.js';
import {
  PLATFORMS,
  answers,
  bearer,
  createApp,
  createNestLogger,
  get,
  startApp,
} from './helpers.js';

const GLOBAL_GUARD = { provide: APP_GUARD, useClass: TokengateGuard };
const MISSING = {
  status: 401,
  challenge: 'Bearer',
  body: { error: 'unauthorized', error_description: 'bearer token required' },
};
const forbidden = (scope?: string) => ({
  status: 403,
  challenge: `Bearer error="insufficient_scope", error_description="token lacks the required scope"${
    scope ? `, scope="${scope}"` : ''
  }`,
  body: { error: 'insufficient_scope', error_description: 'token lacks the required scope' },
});

@Controller('orders')
class Orders {
  @Get()
  list(@Auth() auth: VerifiedToken) {
    return { sub: auth.payload.sub };
  }
  @Get('write')
  @Scopes('orders:write')
  write(@Auth() auth: VerifiedToken) {
    return { sub: auth.payload.sub };
  }
  @Get('any')
  @AnyScope('orders:write', 'orders:admin')
  any() {
    return { ran: 'any' };
  }
  @Get('admin')
  @Claims(async (payload) => {
    await new Promise((resolve) => setImmediate(resolve));
    return payload.role === 'admin';
  })
  admin() {
    return { ran: 'admin' };
  }
  @Get('health')
  @Public()
  health() {
    return { ok: true };
  }
  @Get('public-auth')
  @Public()
  publicAuth(@Auth() auth: VerifiedToken) {
    return { sub: auth.payload.sub };
  }
  @Get('maybe')
  maybe(@Auth({ optional: true }) auth: VerifiedToken | undefined) {
    return { sub: auth?.payload.sub ?? null };
  }
}

/** Class-level checks apply to every route, before the handler's own. */
@Controller('reports')
@Scopes('orders:read')
class Reports {
  @Get()
  list() {
    return { ran: 'reports' };
  }
  @Get('admin')
  @Claims((payload) => payload.role === 'admin', 'admins only')
  @AnyScope('orders:write')
  admin() {
    return { ran: 'reports-admin' };
  }
}

@Controller('status')
@Public()
class Status {
  @Get()
  status() {
    return { up: true };
  }
}

describe.each(PLATFORMS)('TokengateModule on platform-%s', (platform) => {
  const globally = (settings: Record<string, unknown> = {}) => {
    const verifier = createStubVerifier(answers);
    const logger = createCapturingLogger();
    return {
      verifier,
      logger,
      metadata: {
        imports: [TokengateModule.forRoot({ verifier, logger, ...settings })],
        controllers: [Orders, Reports, Status],
        providers: [GLOBAL_GUARD],
      },
    };
  };

  it('forRoot with a global guard: 401 with the challenge without a token, the token via @Auth() with one', async () => {
    const { metadata, logger } = globally();
    const origin = await startApp(platform, metadata);
    expect(await get(origin, '/orders')).toEqual(MISSING);
    expect(await get(origin, '/orders', bearer('reader'))).toEqual({
      status: 200,
      challenge: null,
      body: { sub: 'alice' },
    });
    expect(await get(origin, '/orders', bearer('old'))).toEqual({
      status: 401,
      challenge: 'Bearer error="invalid_token", error_description="token has expired"',
      body: { error: 'invalid_token', error_description: 'token has expired' },
    });
    expect(logger.rejections().map((r) => [r.code, r.method, r.path])).toEqual([
      ['token_missing', 'GET', '/orders'],
      ['token_expired', 'GET', '/orders'],
    ]);
  });

  it('@Public() exempts a route, and every route of a controller, from the global guard', async () => {
    const { metadata, logger } = globally();
    const origin = await startApp(platform, metadata);
    expect(await get(origin, '/orders/health')).toMatchObject({ status: 200, body: { ok: true } });
    expect(await get(origin, '/status')).toMatchObject({ status: 200, body: { up: true } });
    // A public route does not even read a bad token.
    expect(await get(origin, '/status', bearer('old'))).toMatchObject({ status: 200 });
    expect(await get(origin, '/orders')).toMatchObject({ status: 401 });
    expect(logger.rejections()).toHaveLength(1);
  });

  it('@Auth() on a route no guard verified rejects with 401 token_missing, never a 500', async () => {
    const { metadata } = globally();
    const origin = await startApp(platform, metadata);
    expect(await get(origin, '/orders/public-auth')).toEqual(MISSING);
  });

  it('credentialsRequired: false lets a request without a token through; @Auth({ optional: true }) injects undefined', async () => {
    const { metadata } = globally({ credentialsRequired: false });
    const origin = await startApp(platform, metadata);
    expect(await get(origin, '/orders/maybe')).toMatchObject({ status: 200, body: { sub: null } });
    expect(await get(origin, '/orders/maybe', bearer('reader'))).toMatchObject({
      body: { sub: 'alice' },
    });
    // A route that needs the token still refuses: @Auth() and the scope checks answer 401.
    expect(await get(origin, '/orders')).toEqual(MISSING);
    expect(await get(origin, '/orders/write')).toEqual(MISSING);
    // A bad token is still rejected.
    expect(await get(origin, '/orders/maybe', bearer('old'))).toMatchObject({ status: 401 });
  });

  it.each([
    ['@Scopes: every scope', '/orders/write', 'writer', 200],
    ['@Scopes: a scope missing', '/orders/write', 'reader', 403, 'orders:write'],
    ['@AnyScope: one is enough', '/orders/any', 'writer', 200],
    ['@AnyScope: none', '/orders/any', 'reader', 403, 'orders:write orders:admin'],
    ['@Claims, async: satisfied', '/orders/admin', 'writer', 200],
    ['@Claims, async: not satisfied', '/orders/admin', 'reader', 403],
    ['class @Scopes alone', '/reports', 'reader', 200],
    ['class @Scopes and handler @Claims + @AnyScope all pass', '/reports/admin', 'writer', 200],
    ['handler checks refuse what the class check allows', '/reports/admin', 'reader', 403],
  ] as const)('%s', async (_name, path, token, status, scope?: string) => {
    const { metadata, logger } = globally();
    const origin = await startApp(platform, metadata);
    const res = await get(origin, path, bearer(token));
    if (status === 200) expect(res.status).toBe(200);
    else expect(res).toEqual(forbidden(scope));
    expect(logger.rejections()).toHaveLength(status === 200 ? 0 : 1);
  });

  it('a check without a token answers 401, not 403', async () => {
    const { metadata } = globally({ credentialsRequired: false });
    const origin = await startApp(platform, metadata);
    expect(await get(origin, '/reports')).toEqual(MISSING);
  });

  it('per controller and per route: @UseGuards(TokengateGuard) protects only what it decorates', async () => {
    @Controller('guarded')
    @UseGuards(TokengateGuard)
    class Guarded {
      @Get()
      list(@Auth() auth: VerifiedToken) {
        return { sub: auth.payload.sub };
      }
    }
    @Controller('mixed')
    class Mixed {
      @Get('open')
      open() {
        return { open: true };
      }
      @Get('who')
      who(@Auth() auth: VerifiedToken) {
        return { sub: auth.payload.sub };
      }
      @Get('closed')
      @UseGuards(TokengateGuard)
      @Scopes('orders:read')
      closed() {
        return { closed: true };
      }
    }
    const verifier = createStubVerifier(answers);
    const origin = await startApp(platform, {
      imports: [TokengateModule.forRoot({ verifier, logger: false })],
      controllers: [Guarded, Mixed],
    });
    expect(await get(origin, '/guarded')).toEqual(MISSING);
    expect(await get(origin, '/guarded', bearer('reader'))).toMatchObject({
      body: { sub: 'alice' },
    });
    expect(await get(origin, '/mixed/open')).toMatchObject({ status: 200, body: { open: true } });
    // No guard ran: @Auth() still answers 401 with the challenge, never a 500.
    expect(await get(origin, '/mixed/who', bearer('reader'))).toEqual(MISSING);
    expect(await get(origin, '/mixed/closed')).toEqual(MISSING);
    expect(await get(origin, '/mixed/closed', bearer('reader'))).toMatchObject({ status: 200 });
  });

  it('a global and a per-route guard verify the token once and log a rejection once', async () => {
    @Controller('twice')
    class Twice {
      @Get()
      @UseGuards(TokengateGuard)
      @Scopes('orders:write')
      twice() {
        return { ran: true };
      }
    }
    const verifier = createStubVerifier(answers);
    const logger = createCapturingLogger();
    const origin = await startApp(platform, {
      imports: [TokengateModule.forRoot({ verifier, logger })],
      controllers: [Twice],
      providers: [GLOBAL_GUARD],
    });
    expect(await get(origin, '/twice', bearer('writer'))).toMatchObject({ status: 200 });
    expect(verifier.calls).toEqual({ verify: 1, cached: 1 });
    expect(await get(origin, '/twice', bearer('reader'))).toEqual(forbidden('orders:write'));
    expect(logger.rejections()).toHaveLength(1);
  });

  it('@Scopes, @AnyScope and @Claims enforce themselves: no global guard, no @UseGuards', async () => {
    @Controller('self')
    class SelfGuarded {
      @Get('scopes')
      @Scopes('orders:write')
      scopes() {
        return { ran: 'scopes' };
      }
      @Get('any')
      @AnyScope('orders:write', 'orders:admin')
      any() {
        return { ran: 'any' };
      }
      @Get('claims')
      @Claims((payload) => payload.role === 'admin')
      claims() {
        return { ran: 'claims' };
      }
    }
    @Controller('self-class')
    @Scopes('orders:write')
    class SelfGuardedClass {
      @Get()
      list() {
        return { ran: 'class' };
      }
    }
    const verifier = createStubVerifier(answers);
    const origin = await startApp(platform, {
      imports: [TokengateModule.forRoot({ verifier, logger: false })],
      controllers: [SelfGuarded, SelfGuardedClass],
    });
    for (const path of ['/self/scopes', '/self/any', '/self/claims', '/self-class']) {
      expect(await get(origin, path), path).toEqual(MISSING);
      expect((await get(origin, path, bearer('reader'))).status, path).toBe(403);
      expect((await get(origin, path, bearer('writer'))).status, path).toBe(200);
    }
  });

  it('route checks run once per request with a global guard, @UseGuards and class and handler checks', async () => {
    let lookups = 0;
    const lookup = async (payload: TokenPayload) => {
      lookups++;
      await new Promise((resolve) => setImmediate(resolve));
      return payload.role === 'admin';
    };
    @Controller('once')
    @UseGuards(TokengateGuard)
    @Claims(lookup)
    class Once {
      @Get()
      @UseGuards(TokengateGuard)
      @Scopes('orders:read')
      once() {
        return { ran: true };
      }
    }
    const verifier = createStubVerifier(answers);
    const origin = await startApp(platform, {
      imports: [TokengateModule.forRoot({ verifier, logger: false })],
      controllers: [Once],
      providers: [GLOBAL_GUARD],
    });
    expect(await get(origin, '/once', bearer('writer'))).toMatchObject({ status: 200 });
    expect(lookups).toBe(1);
    expect((await get(origin, '/once', bearer('reader'))).status).toBe(403);
    expect(lookups).toBe(2);
  });

  // A middleware (a timeout) answered while verification waited.
  it.each(HELD_OUTCOMES)(
    'a token %s after a middleware answered: no second answer, no error, no unhandled rejection',
    async (_outcome, token) => {
      const verifier = holdVerifier(createStubVerifier({ ...answers, good: answers.writer }));
      const nest = createNestLogger();
      let routeRan = false;
      @Controller('slow')
      class Slow {
        @Get()
        slow() {
          routeRan = true;
          return { ran: true };
        }
      }
      const origin = await startApp(
        platform,
        {
          imports: [TokengateModule.forRoot({ verifier, logger: false })],
          controllers: [Slow],
          providers: [GLOBAL_GUARD],
        },
        {
          logger: nest.logger,
          configure: (app) =>
            app.use((_req: unknown, res: ServerResponse, next: () => void) => {
              next();
              void verifier.waiting.then(() => {
                res.statusCode = 503;
                res.end('timeout');
              });
            }),
        },
      );
      const unhandled = await unhandledRejectionsDuring(async () => {
        const res = await fetch(`${origin}/slow`, { headers: bearer(token) });
        expect([res.status, await res.text()]).toEqual([503, 'timeout']);
        verifier.release();
      });
      expect(unhandled).toEqual([]);
      expect(nest.calls.filter((call) => call.level === 'error')).toEqual([]);
      expect(routeRan).toBe(false);
    },
  );

  it("a user's exception filter reshapes the body; the status and challenge survive", async () => {
    @Catch(TokengateException)
    class Problem implements ExceptionFilter {
      constructor(private readonly host: HttpAdapterHost) {}
      catch(err: TokengateException, args: ArgumentsHost) {
        const body = { type: `urn:problem:${err.code}`, title: err.message };
        this.host.httpAdapter.reply(args.switchToHttp().getResponse(), body, err.getStatus());
      }
    }
    const { metadata } = globally({ realm: 'orders' });
    const origin = await startApp(platform, metadata, {
      configure: (app) => app.useGlobalFilters(new Problem(app.get(HttpAdapterHost))),
    });
    expect(await get(origin, '/orders/write', bearer('reader'))).toEqual({
      status: 403,
      challenge:
        'Bearer realm="orders", error="insufficient_scope", error_description="token lacks the required scope", scope="orders:write"',
      body: { type: 'urn:problem:scope_insufficient', title: expect.any(String) },
    });
  });

  it('passErrors: the guard leaves the response alone; the exception carries status, headers, code and cause', async () => {
    const seen: TokengateException[] = [];
    @Catch(TokengateException)
    class Bare implements ExceptionFilter {
      constructor(private readonly host: HttpAdapterHost) {}
      catch(err: TokengateException, args: ArgumentsHost) {
        seen.push(err);
        this.host.httpAdapter.reply(args.switchToHttp().getResponse(), { bare: true }, 418);
      }
    }
    const { metadata, logger } = globally({ passErrors: true });
    const origin = await startApp(platform, metadata, {
      configure: (app) => app.useGlobalFilters(new Bare(app.get(HttpAdapterHost))),
    });
    expect(await get(origin, '/orders', bearer('old'))).toEqual({
      status: 418,
      challenge: null,
      body: { bare: true },
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.getStatus()).toBe(401);
    expect(seen[0]!.code).toBe('token_expired');
    expect(seen[0]!.headers).toEqual({
      'WWW-Authenticate': 'Bearer error="invalid_token", error_description="token has expired"',
    });
    expect(seen[0]!.cause).toBeInstanceOf(VerificationError);
    expect(logger.rejections()).toHaveLength(1);
  });

  it("logs each rejection once through Nest's Logger by default, never the token", async () => {
    const nest = createNestLogger();
    const verifier = createStubVerifier(answers);
    const origin = await startApp(
      platform,
      {
        imports: [TokengateModule.forRoot({ verifier })],
        controllers: [Orders],
        providers: [GLOBAL_GUARD],
      },
      { logger: nest.logger },
    );
    nest.calls.length = 0;
    await get(origin, '/orders', bearer('old'));
    await get(origin, '/orders');
    const records = nest.calls.filter(
      (c) => (c.message as { event?: unknown }).event === 'token_rejected',
    );
    expect(records.map((c) => [c.level, (c.message as { code: string }).code, c.params])).toEqual([
      ['warn', 'token_expired', ['Tokengate']],
      ['log', 'token_missing', ['Tokengate']],
    ]);
    expect(JSON.stringify(nest.calls)).not.toContain('"old"');
  });

  it("with verifier options, the key server's failures go through Nest's Logger too", async () => {
    const nest = createNestLogger();
    const jwks = await startJwksServer(issuerJwks);
    try {
      jwks.down();
      const origin = await startApp(
        platform,
        {
          imports: [
            TokengateModule.forRoot({
              issuer: ISSUER,
              audience: AUDIENCE,
              jwksUri: jwks.url,
              now: createClock().now,
            }),
          ],
          controllers: [Orders],
          providers: [GLOBAL_GUARD],
        },
        { logger: nest.logger },
      );
      nest.calls.length = 0;
      const res = await get(origin, '/orders', bearer(await sign(claims())));
      expect(res.status).toBe(503);
      // Nest's Logger passes (message, stack, context) to error(): the context comes last.
      const events = nest.calls.map((c) => [
        c.level,
        (c.message as { event?: unknown }).event,
        c.params.at(-1),
      ]);
      expect(events).toContainEqual(['error', 'jwks_fetch_failed', 'Tokengate']);
      expect(events).toContainEqual(['warn', 'token_rejected', 'Tokengate']);
    } finally {
      await jwks.close();
    }
  });

  it.each<[string, GateSettings<NestRequest>]>([
    ['logger: false', { logger: false }],
    ["logLevels: { token_expired: 'silent' }", { logLevels: { token_expired: 'silent' } }],
  ])('%s logs nothing for the rejection', async (_name, settings) => {
    const nest = createNestLogger();
    const verifier = createStubVerifier(answers);
    const origin = await startApp(
      platform,
      {
        imports: [TokengateModule.forRoot({ verifier, ...settings })],
        controllers: [Orders],
        providers: [GLOBAL_GUARD],
      },
      { logger: nest.logger },
    );
    nest.calls.length = 0;
    expect(await get(origin, '/orders', bearer('old'))).toMatchObject({ status: 401 });
    expect(nest.calls).toEqual([]);
  });
});

describe('TokengateModule.forRootAsync', () => {
  const CONFIG = Symbol('config');
  @Module({
    providers: [{ provide: CONFIG, useValue: { realm: 'from-config' } }],
    exports: [CONFIG],
  })
  class ConfigModule {}

  it.each(PLATFORMS)(
    'builds the gate from an async factory with injected providers (%s)',
    async (platform) => {
      const verifier = createStubVerifier(answers);
      const origin = await startApp(platform, {
        imports: [
          TokengateModule.forRootAsync({
            imports: [ConfigModule],
            inject: [CONFIG],
            useFactory: async (config: { realm: string }) => {
              await new Promise((resolve) => setImmediate(resolve));
              return { verifier, logger: false, realm: config.realm };
            },
          }),
        ],
        controllers: [Orders],
        providers: [GLOBAL_GUARD],
      });
      expect(await get(origin, '/orders')).toMatchObject({
        status: 401,
        challenge: 'Bearer realm="from-config"',
      });
      expect(await get(origin, '/orders', bearer('reader'))).toMatchObject({ status: 200 });
    },
  );

  it('refuses options without a useFactory function at once', () => {
    expect(() => TokengateModule.forRootAsync({} as never)).toThrow(
      new TypeError('forRootAsync needs a "useFactory" function'),
    );
  });
});

describe('configuration mistakes', () => {
  it.each([
    ['forRoot', () => TokengateModule.forRoot({ verifier: 'nope' } as never)],
    [
      'forRootAsync',
      () => TokengateModule.forRootAsync({ useFactory: () => ({ issuer: 'x' }) as never }),
    ],
  ])('%s: a TypeError when the app is created, not on the first request', async (_name, module) => {
    const err = await createApp('express', { imports: [module()] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
  });

  it('an invalid scope name throws a TypeError when the class is defined', () => {
    expect(() => Scopes('orders read')).toThrow(TypeError);
  });
});

describe('TokengateGuard outside HTTP', () => {
  it('refuses RPC and WebSocket contexts: no bearer token can be read there', async () => {
    @Injectable()
    class Probe {
      constructor(@Inject(TokengateGuard) readonly guard: TokengateGuard) {}
    }
    const verifier = createStubVerifier(answers);
    const app = await createApp('express', {
      imports: [TokengateModule.forRoot({ verifier, logger: false })],
      providers: [Probe],
    });
    const { guard } = app.get(Probe);
    const context = { getType: () => 'rpc' } as unknown as ExecutionContext;
    expect(guard.canActivate(context)).toBe(false);
    expect(app.get(TOKENGATE_GATE)).toHaveProperty('verifier', verifier);
    expect(app.get(Reflector)).toBeInstanceOf(Reflector);
  });
});

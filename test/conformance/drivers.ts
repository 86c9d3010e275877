// The only framework-specific code of the conformance suite: one driver per adapter. Each builds
// the same five routes on a real loopback server. Adding a framework means adding one driver.
import Router from '@koa/router';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import express4 from 'express4';
import 'reflect-metadata';
import { Catch, Controller, Get, Module } from '@nestjs/common';
import type {
  ArgumentsHost,
  ExceptionFilter,
  HttpServer,
  INestApplication,
  NestApplicationOptions,
} from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, RequestListener, Server } from 'node:http';
import Koa from 'koa';
import Koa2 from 'koa2';
import request from 'supertest';
import type { GateSettings, TokenPayload, VerifiedToken, VerifierOptions } from '@tokengate/core';
import * as tgExpress from '@tokengate/express';
import tgFastify, * as tgFastifyNamed from '@tokengate/fastify';
import * as tgKoa from '@tokengate/koa';
import * as tgNest from '@tokengate/nestjs';
import type { NestRequest } from '@tokengate/nestjs';
import { listen, listening } from '@tokengate/test-fixtures/http';
import type { Listening } from '@tokengate/test-fixtures/http';
import { listenTls, mtlsServerOptions } from '@tokengate/test-fixtures/tls';
import type { TlsServerSettings } from '@tokengate/test-fixtures/tls';

/** The routes every driver serves, and the guard in front of each. */
export const ROUTES = {
  /** tokengate alone. */
  open: '/orders',
  /** requireScopes('orders:read', 'orders:write'). */
  write: '/orders/write',
  /** requireAnyScope('orders:write', 'orders:admin'). */
  any: '/orders/any',
  /** requireClaims((p) => p.role === 'admin'). */
  admin: '/admin',
  /** requireClaims(isAdminLookup): an async predicate, as a directory lookup is. */
  lookup: '/lookup',
} as const;

export type RouteName = keyof typeof ROUTES;

export const WRITE_SCOPES = ['orders:read', 'orders:write'];
export const ANY_SCOPES = ['orders:write', 'orders:admin'];
export const isAdmin = (payload: TokenPayload): boolean => payload.role === 'admin';
/**
 * An async claims predicate that answers after a real tick, as a directory lookup would: role
 * `admin` passes, and role `unreachable` makes the lookup reject.
 */
export const isAdminLookup = async (payload: TokenPayload): Promise<boolean> => {
  await new Promise((resolve) => setImmediate(resolve));
  if (payload.role === 'unreachable') throw new Error('directory unavailable');
  return payload.role === 'admin';
};

/** Framework-neutral options: everything but `getToken`, which reads a framework request. */
export type NeutralOptions = VerifierOptions &
  Pick<
    GateSettings<unknown>,
    | 'credentialsRequired'
    | 'logger'
    | 'logLevels'
    | 'passErrors'
    | 'realm'
    | 'scopeClaims'
    | 'dpop'
    | 'mtls'
  >;

/** What the upstream error handler answers with (`upstreamErrorHandler`): the body reshaped. */
export function reshapedBody(code: unknown) {
  return { problem: code, reshapedBy: 'upstream error handler' };
}

/** The fields of a `VerificationError` an error handler reads (as the README tells users to). */
interface PassedError {
  status: number;
  headers: Record<string, string>;
  code: string;
}

export interface AppOptions {
  gate: NeutralOptions;
  /** Also read the token from a `token` cookie (through `getToken`). */
  tokenFromCookie?: boolean;
  /**
   * Also read the token from the `access_token` query parameter, percent-decoded (RFC 6750 §2.3),
   * through `getToken`: the one way to hand core a token with any character in it. Not together
   * with `tokenFromCookie`.
   */
  tokenFromQuery?: boolean;
  /** The route handler: returns the JSON body to send. */
  handle(route: RouteName, auth: VerifiedToken | undefined): unknown;
  /** Serve HTTPS, asking clients for a certificate (mTLS cases). */
  tls?: TlsServerSettings;
  /**
   * Serve the routes under this prefix too, by rewriting `/v1/orders` to `/orders` before the
   * gate: Express and Koa by setting the URL in a middleware, Fastify with `rewriteUrl`.
   */
  rewritePrefix?: string;
  /**
   * Install the framework's own error handling upstream of tokengate (Express error middleware,
   * a Koa middleware around `await next()`, Fastify's `setErrorHandler`): it answers with the
   * error's `status` and `headers` and a reshaped body (`reshapedBody`). For `passErrors` cases.
   */
  upstreamErrorHandler?: boolean;
}

/** The URL with `prefix` removed, for the rewriting drivers. */
function unprefixed(url: string, prefix: string): string {
  return url.startsWith(`${prefix}/`) ? url.slice(prefix.length) : url;
}

export interface RunningApp {
  /** `http://127.0.0.1:<port>` (`https://` with `tls`) */
  origin: string;
  http: ReturnType<typeof request>;
  close(): Promise<void>;
}

export interface Driver {
  name: string;
  start(options: AppOptions): Promise<RunningApp>;
}

/** `token` from a Cookie header: enough of RFC 6265 for a test. */
export function cookieToken(header: string | undefined): string | undefined {
  return header === undefined ? undefined : /(?:^|;\s*)token=([^;]*)/.exec(header)?.[1];
}

/** `access_token` from a request target's query string, percent-decoded. */
export function queryToken(target: string): string | undefined {
  return new URL(target, 'http://localhost').searchParams.get('access_token') ?? undefined;
}

function withAgent(
  server: Pick<Listening, 'origin' | 'close'>,
  tls?: TlsServerSettings,
): RunningApp {
  // Over TLS the agent trusts the test CA; a client certificate is added per request.
  const http = tls ? request.agent(server.origin, { ca: tls.ca }) : request(server.origin);
  return { origin: server.origin, http, close: server.close };
}

function serve(listener: RequestListener, tls: TlsServerSettings | undefined): Promise<RunningApp> {
  return (tls ? listenTls(listener, tls) : listen(listener)).then((s) => withAgent(s, tls));
}

/** A framework's own server, already listening (over HTTPS with `tls`). */
function withServer(server: Server, close: () => Promise<void>, tls?: TlsServerSettings) {
  const running = listening(server, close);
  if (!tls) return withAgent(running);
  return withAgent({ ...running, origin: running.origin.replace(/^http:/, 'https:') }, tls);
}

/**
 * Fastify's options, for the Fastify driver and Nest on platform-fastify: the same request id
 * source as the other drivers (so the log records are identical), `rewriteUrl` for the prefix.
 */
function fastifyOptions(rewritePrefix: string | undefined, tls: TlsServerSettings | undefined) {
  return {
    requestIdHeader: 'x-request-id',
    ...(rewritePrefix && {
      rewriteUrl: (req: IncomingMessage) => unprefixed(req.url ?? '/', rewritePrefix),
    }),
    ...(tls && { https: mtlsServerOptions(tls) }),
  };
}

const expressDriver = (name: string, createApp: typeof express): Driver => ({
  name,
  start({
    gate,
    tokenFromCookie,
    tokenFromQuery,
    handle,
    tls,
    rewritePrefix,
    upstreamErrorHandler,
  }) {
    const { tokengate, requireAnyScope, requireClaims, requireScopes } = tgExpress;
    const app = createApp();
    if (rewritePrefix) {
      app.use((req, _res, next) => {
        req.url = unprefixed(req.url, rewritePrefix); // req.originalUrl keeps what was sent
        next();
      });
    }
    app.use(
      tokengate({
        ...gate,
        ...(tokenFromCookie && { getToken: (req) => cookieToken(req.headers.cookie) }),
        ...(tokenFromQuery && { getToken: (req) => queryToken(req.originalUrl) }),
      }),
    );
    app.get(ROUTES.open, (req, res) => void res.json(handle('open', req.auth)));
    app.get(ROUTES.write, requireScopes(...WRITE_SCOPES), (req, res) => {
      res.json(handle('write', req.auth));
    });
    app.get(ROUTES.any, requireAnyScope(...ANY_SCOPES), (req, res) => {
      res.json(handle('any', req.auth));
    });
    app.get(ROUTES.admin, requireClaims(isAdmin), (req, res) => {
      res.json(handle('admin', req.auth));
    });
    app.get(ROUTES.lookup, requireClaims(isAdminLookup), (req, res) => {
      res.json(handle('lookup', req.auth));
    });
    if (upstreamErrorHandler) {
      app.use((err: PassedError, _req: Request, res: Response, _next: NextFunction) => {
        res.status(err.status).set(err.headers).json(reshapedBody(err.code));
      });
    }
    return serve(app, tls);
  },
});

const koaDriver = (name: string, KoaApp: typeof Koa): Driver => ({
  name,
  start({
    gate,
    tokenFromCookie,
    tokenFromQuery,
    handle,
    tls,
    rewritePrefix,
    upstreamErrorHandler,
  }) {
    const { tokengate, requireAnyScope, requireClaims, requireScopes } = tgKoa;
    const app = new KoaApp();
    app.silent = true; // errors are asserted, not printed
    if (upstreamErrorHandler) {
      app.use(async (ctx, next) => {
        try {
          await next();
        } catch (caught) {
          const err = caught as PassedError;
          ctx.status = err.status;
          ctx.set(err.headers);
          ctx.body = reshapedBody(err.code);
        }
      });
    }
    const router = new Router();
    router.get(ROUTES.open, (ctx) => {
      ctx.body = handle('open', ctx.state.auth);
    });
    router.get(ROUTES.write, requireScopes(...WRITE_SCOPES), (ctx) => {
      ctx.body = handle('write', ctx.state.auth);
    });
    router.get(ROUTES.any, requireAnyScope(...ANY_SCOPES), (ctx) => {
      ctx.body = handle('any', ctx.state.auth);
    });
    router.get(ROUTES.admin, requireClaims(isAdmin), (ctx) => {
      ctx.body = handle('admin', ctx.state.auth);
    });
    router.get(ROUTES.lookup, requireClaims(isAdminLookup), (ctx) => {
      ctx.body = handle('lookup', ctx.state.auth);
    });
    if (rewritePrefix) {
      app.use((ctx, next) => {
        ctx.url = unprefixed(ctx.url, rewritePrefix); // ctx.originalUrl keeps what was sent
        return next();
      });
    }
    app.use(
      tokengate({
        ...gate,
        ...(tokenFromCookie && { getToken: (ctx) => cookieToken(ctx.get('cookie') || undefined) }),
        ...(tokenFromQuery && { getToken: (ctx) => queryToken(ctx.originalUrl) }),
      }),
    );
    app.use(router.routes());
    return serve(app.callback(), tls);
  },
});

const fastifyDriver: Driver = {
  name: 'fastify',
  async start({
    gate,
    tokenFromCookie,
    tokenFromQuery,
    handle,
    tls,
    rewritePrefix,
    upstreamErrorHandler,
  }) {
    const { requireAnyScope, requireClaims, requireScopes } = tgFastifyNamed;
    const app = Fastify(fastifyOptions(rewritePrefix, tls)) as unknown as FastifyInstance;
    if (upstreamErrorHandler) {
      app.setErrorHandler((err: PassedError, _request, reply) =>
        reply.code(err.status).headers(err.headers).send(reshapedBody(err.code)),
      );
    }
    await app.register(tgFastify, {
      ...gate,
      ...(tokenFromCookie && { getToken: (req) => cookieToken(req.headers.cookie) }),
      ...(tokenFromQuery && { getToken: (req) => queryToken(req.url) }),
    });
    app.get(ROUTES.open, async (req) => handle('open', req.auth ?? undefined));
    app.get(ROUTES.write, { preHandler: requireScopes(...WRITE_SCOPES) }, async (req) =>
      handle('write', req.auth ?? undefined),
    );
    app.get(ROUTES.any, { preHandler: requireAnyScope(...ANY_SCOPES) }, async (req) =>
      handle('any', req.auth ?? undefined),
    );
    app.get(ROUTES.admin, { preHandler: requireClaims(isAdmin) }, async (req) =>
      handle('admin', req.auth ?? undefined),
    );
    app.get(ROUTES.lookup, { preHandler: requireClaims(isAdminLookup) }, async (req) =>
      handle('lookup', req.auth ?? undefined),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    return withServer(app.server, () => app.close(), tls);
  },
};

/**
 * The five routes as a Nest controller behind a global `TokengateGuard`, with the checks as
 * decorators. A class per app, so each handler closes over that app's `handle`.
 */
function nestRoutes(handle: AppOptions['handle']) {
  const { AnyScope, Auth, Claims, Scopes } = tgNest;
  @Controller()
  class Routes {
    @Get(ROUTES.open)
    open(@Auth({ optional: true }) auth: VerifiedToken | undefined) {
      return handle('open', auth);
    }
    @Get(ROUTES.write)
    @Scopes(...WRITE_SCOPES)
    write(@Auth() auth: VerifiedToken) {
      return handle('write', auth);
    }
    @Get(ROUTES.any)
    @AnyScope(...ANY_SCOPES)
    any(@Auth() auth: VerifiedToken) {
      return handle('any', auth);
    }
    @Get(ROUTES.admin)
    @Claims(isAdmin)
    admin(@Auth() auth: VerifiedToken) {
      return handle('admin', auth);
    }
    @Get(ROUTES.lookup)
    @Claims(isAdminLookup)
    lookup(@Auth() auth: VerifiedToken) {
      return handle('lookup', auth);
    }
  }
  return Routes;
}

/**
 * Nest's error handling upstream of tokengate: a global exception filter for the rejections,
 * answering with their status and headers and a reshaped body, on either platform.
 */
function reshapingFilter(adapter: HttpServer): ExceptionFilter {
  @Catch(tgNest.TokengateException)
  class Reshape implements ExceptionFilter {
    catch(err: tgNest.TokengateException, host: ArgumentsHost) {
      const response: unknown = host.switchToHttp().getResponse();
      for (const [name, value] of Object.entries(err.headers)) {
        adapter.setHeader(response, name, value);
      }
      adapter.reply(response, reshapedBody(err.code), err.getStatus());
    }
  }
  return new Reshape();
}

type NestPlatform = 'express' | 'fastify';

/** A real Nest app on `platform`, listening on loopback (over HTTPS with `tls`). */
const nestDriver = (platform: NestPlatform): Driver => ({
  name: `nest (${platform})`,
  async start({
    gate,
    tokenFromCookie,
    tokenFromQuery,
    handle,
    tls,
    rewritePrefix,
    upstreamErrorHandler,
  }) {
    @Module({
      imports: [
        tgNest.TokengateModule.forRoot<NestRequest>({
          ...gate,
          ...(tokenFromCookie && { getToken: (req) => cookieToken(req.headers.cookie) }),
          ...(tokenFromQuery && { getToken: (req) => queryToken(req.originalUrl ?? '/') }),
        }),
      ],
      controllers: [nestRoutes(handle)],
      providers: [{ provide: APP_GUARD, useClass: tgNest.TokengateGuard }],
    })
    class AppModule {}

    const settings: NestApplicationOptions = { logger: false, abortOnError: false };
    let app: INestApplication;
    if (platform === 'express') {
      app = await NestFactory.create(AppModule, new ExpressAdapter(), {
        ...settings,
        ...(tls && {
          httpsOptions: mtlsServerOptions(tls) as NestApplicationOptions['httpsOptions'],
        }),
      });
      if (rewritePrefix) {
        app.use((req: Request, _res: Response, next: NextFunction) => {
          req.url = unprefixed(req.url, rewritePrefix); // req.originalUrl keeps what was sent
          next();
        });
      }
    } else {
      const adapter = new FastifyAdapter(fastifyOptions(rewritePrefix, tls));
      app = await NestFactory.create(AppModule, adapter, settings);
    }
    if (upstreamErrorHandler) app.useGlobalFilters(reshapingFilter(app.getHttpAdapter()));
    await app.listen(0, '127.0.0.1');
    return withServer(app.getHttpServer() as Server, () => app.close(), tls);
  },
});

/**
 * NestJS 12 on both platforms: the conformance table runs against these (`@tokengate/nestjs`
 * builds on the same gate, so every case applies).
 */
export const nestDrivers: Driver[] = [nestDriver('express'), nestDriver('fastify')];

/** The current majors: the conformance table and the security suite run against these. */
export const drivers: Driver[] = [
  expressDriver('express', express),
  koaDriver('koa', Koa),
  fastifyDriver,
];

/** The older majors the peer ranges allow; the conformance table runs against them too. */
export const legacyDrivers: Driver[] = [
  expressDriver('express 4', express4),
  koaDriver('koa 2', Koa2),
];

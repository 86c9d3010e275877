const silent = { warn() {}, error() {}, info() {} };
const body = { ok: true };

/**
 * tokengate's options for a target. `fresh` targets see a new token on every request: their
 * cache is kept small so every request misses and pays the insert and eviction, as in
 * production when tokens are not reused.
 */
function tokengateOptions({ issuer, audience, jwksUri, jwks, staticKeys }, fresh) {
  return {
    issuer,
    audience,
    ...(staticKeys ? { keys: jwks } : { jwksUri }),
    ...(fresh && { tokenCache: { max: 64 } }),
    logger: silent,
  };
}

// express-jwt and express-oauth2-jwt-bearer pass failures to next(err); answer without a log.
function expressErrors(app) {
  app.use((err, _req, res, _next) => {
    res.status(err.status ?? err.statusCode ?? 500).end();
  });
}

// Imported on demand: a target process loads only its own framework and middleware.
const load = async (name) => (await import(name)).default;

async function expressApp(middleware) {
  const express = await load('express');
  const app = express();
  app.disable('x-powered-by');
  if (middleware) app.use(middleware);
  app.get('/', (_req, res) => {
    res.json(body);
  });
  expressErrors(app);
  return app;
}

async function koaApp(middleware) {
  const Koa = await load('koa');
  const app = new Koa();
  if (middleware) app.use(middleware);
  app.use((ctx) => {
    ctx.body = body;
  });
  return app;
}

async function fastifyApp(register) {
  const Fastify = await load('fastify');
  const app = Fastify({ logger: false });
  if (register) await register(app);
  app.get('/', (_request, reply) => {
    reply.send(body);
  });
  return app;
}

const jwksRsaOptions = (jwksUri) => ({
  jwksUri,
  cache: true,
  rateLimit: true,
  jwksRequestsPerMinute: 10,
});

/** Every HTTP target: `framework` and `kind` name it; `build(config)` returns a server app. */
export const TARGETS = {
  'express-bare': { framework: 'express', label: 'Express (bare)', build: () => expressApp() },
  'express-noop': {
    framework: 'express',
    label: 'Express + empty middleware (reads the header)',
    build: () =>
      expressApp((req, _res, next) => {
        req.auth = req.headers.authorization;
        next();
      }),
  },
  'express-tokengate': {
    framework: 'express',
    label: 'Express + tokengate',
    build: async (c) => {
      const { tokengate } = await import('@tokengate/express');
      return expressApp(tokengate(tokengateOptions(c, false)));
    },
  },
  'express-tokengate-fresh': {
    framework: 'express',
    label: 'Express + tokengate',
    build: async (c) => {
      const { tokengate } = await import('@tokengate/express');
      return expressApp(tokengate(tokengateOptions(c, true)));
    },
  },
  'express-oauth2-jwt-bearer': {
    framework: 'express',
    label: 'Express + express-oauth2-jwt-bearer',
    build: async ({ issuer, audience, jwksUri }) => {
      const { auth } = await import('express-oauth2-jwt-bearer');
      return expressApp(auth({ issuer, audience, jwksUri, tokenSigningAlg: 'RS256' }));
    },
  },
  'express-jwt': {
    framework: 'express',
    label: 'Express + express-jwt + jwks-rsa',
    build: async ({ issuer, audience, jwksUri }) => {
      const { expressjwt } = await import('express-jwt');
      const jwksRsa = await load('jwks-rsa');
      return expressApp(
        expressjwt({
          secret: jwksRsa.expressJwtSecret(jwksRsaOptions(jwksUri)),
          issuer,
          audience,
          algorithms: ['RS256'],
        }),
      );
    },
  },
  'koa-bare': { framework: 'koa', label: 'Koa (bare)', build: () => koaApp() },
  'koa-noop': {
    framework: 'koa',
    label: 'Koa + empty middleware (reads the header)',
    build: () =>
      koaApp((ctx, next) => {
        ctx.state.auth = ctx.get('authorization');
        return next();
      }),
  },
  'koa-tokengate': {
    framework: 'koa',
    label: 'Koa + tokengate',
    build: async (c) => {
      const { tokengate } = await import('@tokengate/koa');
      return koaApp(tokengate(tokengateOptions(c, false)));
    },
  },
  'koa-tokengate-fresh': {
    framework: 'koa',
    label: 'Koa + tokengate',
    build: async (c) => {
      const { tokengate } = await import('@tokengate/koa');
      return koaApp(tokengate(tokengateOptions(c, true)));
    },
  },
  'koa-jwt': {
    framework: 'koa',
    label: 'Koa + koa-jwt + jwks-rsa',
    build: async ({ issuer, audience, jwksUri }) => {
      const koaJwt = await load('koa-jwt');
      const jwksRsa = await load('jwks-rsa');
      return koaApp(
        koaJwt({
          secret: jwksRsa.koaJwtSecret(jwksRsaOptions(jwksUri)),
          issuer,
          audience,
          algorithms: ['RS256'],
        }),
      );
    },
  },
  'fastify-bare': { framework: 'fastify', label: 'Fastify (bare)', build: () => fastifyApp() },
  'fastify-noop': {
    framework: 'fastify',
    label: 'Fastify + empty onRequest hook (reads the header)',
    build: () =>
      fastifyApp((app) => {
        app.decorateRequest('auth', null);
        app.addHook('onRequest', (request, _reply, done) => {
          request.auth = request.headers.authorization;
          done();
        });
      }),
  },
  'fastify-tokengate': {
    framework: 'fastify',
    label: 'Fastify + tokengate',
    build: async (c) => {
      const { tokengate } = await import('@tokengate/fastify');
      return fastifyApp((app) => app.register(tokengate, tokengateOptions(c, false)));
    },
  },
  'fastify-tokengate-fresh': {
    framework: 'fastify',
    label: 'Fastify + tokengate',
    build: async (c) => {
      const { tokengate } = await import('@tokengate/fastify');
      return fastifyApp((app) => app.register(tokengate, tokengateOptions(c, true)));
    },
  },
  'fastify-jwt': {
    framework: 'fastify',
    label: 'Fastify + @fastify/jwt + get-jwks',
    build: async ({ issuer, audience }) => {
      const fastifyJwt = await load('@fastify/jwt');
      const buildGetJwks = await load('get-jwks');
      return fastifyApp(async (app) => {
        const getJwks = buildGetJwks({ issuersWhitelist: [issuer] });
        await app.register(fastifyJwt, {
          decode: { complete: true },
          secret: (_request, token) =>
            getJwks.getPublicKey({
              kid: token.header.kid,
              alg: token.header.alg,
              domain: token.payload.iss,
            }),
          verify: { allowedIss: issuer, allowedAud: audience, algorithms: ['RS256'] },
        });
        app.addHook('onRequest', (request) => request.jwtVerify());
      });
    },
  },
};

/** Builds a target and listens on 127.0.0.1; resolves to its port and a close function. */
export async function listen(name, config) {
  const target = TARGETS[name];
  if (!target) throw new Error(`unknown target ${name}`);
  const app = await target.build(config);
  if (target.framework === 'fastify') {
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: app.server.address().port, close: () => app.close() };
  }
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    port: server.address().port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// One receiver of the fleet test, in its own process (started by fleet.ts with `fork`).
// Configured by the JSON in TOKENGATE_FLEET_RECEIVER (see ReceiverConfig in fleet.ts): it serves
// GET /api behind tokengate on express, koa or fastify, shares its key sets through
// createRedisJwksStore, refuses revoked tokens through createRedisDenylist when the config has a
// `denylist`, and talks to the parent over IPC: `ready` (its port, once its revocation list is
// loaded), every log record, the key cache's and token cache's events, and answers to its
// questions (`questions` below). It exits when told (`close`) or when the parent goes away,
// closing its server and its Redis clients.
import { createServer } from 'node:http';
import { sharedRemoteJwks } from '@tokengate/core';
import { createRedisDenylist, createRedisJwksStore } from '@tokengate/redis';

const config = JSON.parse(process.env.TOKENGATE_FLEET_RECEIVER ?? '{}');

/** Sends to the parent; a parent already gone is not an error here (we exit on `disconnect`). */
function tell(message) {
  if (process.connected) process.send(message, () => {});
}

const logger = {
  info: (obj, msg) => tell({ type: 'log', level: 'info', obj, msg }),
  warn: (obj, msg) => tell({ type: 'log', level: 'warn', obj, msg }),
  error: (obj, msg) => tell({ type: 'log', level: 'error', obj, msg }),
};

const store = createRedisJwksStore({
  url: config.redisUrl,
  onError: () => {}, // node-redis reports every reconnect try; the store logs the outage once
  ...config.store,
});

/**
 * The revocation list, when asked for: on `config.redisUrl` unless `config.denylist.url` names
 * another way to Redis (a proxy the test can cut).
 */
const denylist =
  config.denylist &&
  createRedisDenylist({ url: config.redisUrl, logger, onError: () => {}, ...config.denylist });

/**
 * The tokengate options: the parent's JSON (`options`, `jwks`), plus what JSON cannot carry
 * (the store, the logger, the event sink). Extra live objects for later cases go here.
 */
const options = {
  issuer: config.issuer,
  audience: config.audience,
  jwksUri: config.jwksUri,
  logger,
  onEvent: (event) => {
    if (event.type.startsWith('jwks.') || event.type === 'cache.hit')
      tell({ type: 'event', event });
  },
  ...(denylist && { revoked: denylist.revoked }),
  ...config.options,
  jwks: { store, ...config.jwks },
};

/** An HTTP listener answering GET /api with the token's subject, for each adapter. */
const adapters = {
  async express() {
    const { default: express } = await import('express');
    const { getAuth, tokengate } = await import('@tokengate/express');
    const app = express();
    app.use(tokengate(options));
    app.get('/api', (req, res) => res.json({ sub: getAuth(req).payload.sub }));
    return listen(createServer(app));
  },
  async koa() {
    const { default: Koa } = await import('koa');
    const { getAuth, tokengate } = await import('@tokengate/koa');
    const app = new Koa();
    app.use(tokengate(options));
    app.use((ctx) => {
      ctx.body = { sub: getAuth(ctx).payload.sub };
    });
    return listen(createServer(app.callback()));
  },
  async fastify() {
    const { default: Fastify } = await import('fastify');
    const { default: tokengate, getAuth } = await import('@tokengate/fastify');
    const app = Fastify();
    await app.register(tokengate, options);
    app.get('/api', async (request) => ({ sub: getAuth(request).payload.sub }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: app.server.address().port, close: () => app.close() };
  },
};

async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

const make = adapters[config.adapter];
if (!make) throw new Error(`unknown adapter ${config.adapter}`);
// Serves once the list is loaded, as the README tells apps to.
await denylist?.ready();
const listening = await make();
// The cache the middleware uses: the process-wide one for this URL (same clock, same URL).
const jwks = sharedRemoteJwks(config.jwksUri, { logger: false });

let closing;
function shutdown() {
  closing ??= Promise.allSettled([listening.close(), store.close(), denylist?.close()]).then(() =>
    process.exit(0),
  );
  return closing;
}
process.on('disconnect', shutdown);
process.on('SIGTERM', shutdown);
/** What the parent may ask (`ask` in fleet.ts): each answer is sent back with the question's id. */
const questions = {
  status: () => jwks.status(),
  // True once this receiver's Redis client answers (after a restart, it reconnects by itself).
  storeAnswers: () =>
    Promise.resolve(store.get('tokengate:fleet probe')).then(
      () => true,
      () => false,
    ),
  // Revokes `{ jti, exp }` through this receiver's denylist; resolves once Redis has it.
  revoke: ({ jti, exp }) => denylist.revoke(jti, exp).then(() => true),
  // What this receiver's denylist says of `jti` now (no request).
  revoked: (jti) => denylist.revoked({ jti }),
  // True while its denylist is known current.
  revocationCurrent: () => denylist.current,
};
process.on('message', async (message) => {
  if (message?.type === 'close') return void shutdown();
  const question = questions[message?.type];
  if (!question) return;
  // A failed answer (a revoke Redis refused) is reported as `{ error }`, not left unanswered.
  const value = await Promise.resolve()
    .then(() => question(message.arg))
    .catch((err) => ({ error: String(err) }));
  tell({ type: 'answer', id: message.id, value });
});
tell({ type: 'ready', port: listening.port });

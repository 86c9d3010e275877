// The Redis denylist through every adapter over real loopback HTTP: two receivers per framework,
// each with its own denylist connections on one shared redis-server, as two pods would have. The
// hook's answers on all seven drivers are conformance rows (test/conformance/cases/revocation.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisDenylist } from '@tokengate/redis';
import type { RedisDenylist, RedisDenylistOptions } from '@tokengate/redis';
import { createClock } from '@tokengate/test-fixtures/clock';
import { startJwksServer } from '@tokengate/test-fixtures/jwks-server';
import type { JwksServer } from '@tokengate/test-fixtures/jwks-server';
import { issuerJwks } from '@tokengate/test-fixtures/keys';
import { startRedisServer } from '@tokengate/test-fixtures/redis-server';
import type { RedisServer } from '@tokengate/test-fixtures/redis-server';
import { startTcpProxy } from '@tokengate/test-fixtures/tcp-proxy';
import type { TcpProxy } from '@tokengate/test-fixtures/tcp-proxy';
import { AUDIENCE, ISSUER, claims, sign } from '@tokengate/test-fixtures/tokens';
import { ROUTES, drivers } from '../conformance/drivers.js';
import type { Driver, RunningApp } from '../conformance/drivers.js';

const REVOKED_CHALLENGE =
  'Bearer error="invalid_token", error_description="token has been revoked"';

let redis: RedisServer;
let jwks: JwksServer;
const clock = createClock();

beforeAll(async () => {
  [redis, jwks] = await Promise.all([startRedisServer(), startJwksServer(issuerJwks)]);
});

afterAll(async () => {
  await jwks?.close();
  await redis?.close();
});

/** Polls `condition` every few milliseconds; throws after `limitMs` (a bound, not a timing check). */
async function waitFor(condition: () => Promise<boolean>, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const get = (app: RunningApp, token: string) =>
  app.http.get(ROUTES.open).set('Authorization', `Bearer ${token}`);

describe.each(drivers)('$name with the Redis denylist', (driver: Driver) => {
  let counter = 0;
  const closing: { close(): Promise<unknown> }[] = [];
  afterAll(async () => {
    for (const c of closing.reverse()) await c.close();
  });

  /** One receiver: its own denylist on `url` (default the shared Redis) behind `driver`. */
  async function receiver(prefix: string, options: Partial<RedisDenylistOptions> = {}) {
    // The fixtures' tokens live on the fake clock: the denylist expires entries on the same one.
    const denylist = createRedisDenylist({
      url: redis.url,
      prefix,
      logger: false,
      now: clock.now,
      ...options,
    });
    closing.push(denylist);
    await denylist.ready();
    const app = await driver.start({
      gate: {
        issuer: ISSUER,
        audience: AUDIENCE,
        jwksUri: jwks.url,
        now: clock.now,
        logger: false,
        revoked: denylist.revoked,
      },
      handle: (route, auth) => ({ route, jti: auth?.payload.jti ?? null }),
    });
    closing.push(app);
    return app;
  }

  function revoker(prefix: string): RedisDenylist {
    const d = createRedisDenylist({ url: redis.url, prefix, logger: false, now: clock.now });
    closing.push(d);
    return d;
  }

  it('a jti revoked through the API is refused by both receivers, cached tokens too', async () => {
    const prefix = `http:${driver.name}:${++counter}:`;
    const receivers = await Promise.all([receiver(prefix), receiver(prefix)]);
    const jti = `jti-${driver.name}-${counter}`;
    const token = await sign(claims({ jti }));
    const kept = await sign(claims({ jti: `${jti}-kept` }));
    const noJti = await sign(claims());
    for (const app of receivers) {
      for (const t of [token, kept, noJti]) expect((await get(app, t)).status).toBe(200);
    }
    // Now in both token caches: the revocation must still reach them.
    const payload = claims({ jti });
    await revoker(prefix).revoke(jti, payload.exp!);
    for (const app of receivers) {
      await waitFor(async () => (await get(app, token)).status !== 200);
      const res = await get(app, token);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(REVOKED_CHALLENGE);
      expect(res.body).toEqual({
        error: 'invalid_token',
        error_description: 'token has been revoked',
      });
      expect((await get(app, kept)).status).toBe(200);
      expect((await get(app, noJti)).status).toBe(200);
    }
  });

  it('a receiver cut off from Redis past maxUnsure answers 503 (fail-closed), then recovers', async () => {
    const prefix = `http:${driver.name}:${++counter}:`;
    const link: TcpProxy = await startTcpProxy(redis.port);
    closing.push(link);
    const app = await receiver(prefix, {
      url: `redis://127.0.0.1:${link.port}`,
      maxUnsure: '200ms',
      onUnsure: 'fail-closed',
    });
    const token = await sign(claims({ jti: `jti-unsure-${counter}` }));
    expect((await get(app, token)).status).toBe(200);
    link.cut();
    await waitFor(async () => (await get(app, token)).status === 503);
    const res = await get(app, token);
    expect(res.headers['retry-after']).toBe('30');
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(res.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'revocation check is temporarily unavailable',
    });
    // Revoked while it was away: known once it is back.
    await revoker(prefix).revoke(`jti-unsure-${counter}`, claims().exp!);
    link.heal();
    await waitFor(async () => (await get(app, token)).status !== 503);
    expect((await get(app, token)).status).toBe(401);
  });
});

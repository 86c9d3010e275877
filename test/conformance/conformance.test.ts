import { afterAll, describe, expect, it } from 'vitest';
import { VERIFICATION_ERROR_CODES, statusOf } from '@tokengate/core';
import type { ReplayStore } from '@tokengate/core';
import { createRedisReplayStore } from '@tokengate/redis';
import type { RedisReplayStore } from '@tokengate/redis';
import { createClock } from '@tokengate/test-fixtures/clock';
import { sendRaw } from '@tokengate/test-fixtures/http';
import type { Reply } from '@tokengate/test-fixtures/http';
import { startJwksServer } from '@tokengate/test-fixtures/jwks-server';
import { decryptionKeys, issuerJwks } from '@tokengate/test-fixtures/keys';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import { startRedisServer } from '@tokengate/test-fixtures/redis-server';
import type { RedisServer } from '@tokengate/test-fixtures/redis-server';
import { testPki } from '@tokengate/test-fixtures/tls';
import { AUDIENCE, ISSUER } from '@tokengate/test-fixtures/tokens';
import { cases, handlerBody } from './cases/index.js';
import type { Case, Outgoing } from './cases/index.js';
import { ROUTES, drivers, legacyDrivers, nestDrivers } from './drivers.js';
import type { Driver, NeutralOptions, RouteName, RunningApp } from './drivers.js';

const REQUEST_ID = 'conformance-1';

// One redis-server for the cases that share a replay store, started by the first of them.
let redis: Promise<RedisServer> | undefined;
afterAll(async () => {
  await (await redis?.catch(() => undefined))?.close();
});

/**
 * Sends with supertest. A raw header list (repeated headers), a request target other than the
 * route's path (absolute-form) or chosen Host lines go through the tests' raw sender as they are.
 */
async function send(app: RunningApp, path: string, out: Outgoing): Promise<Reply> {
  if (Array.isArray(out.headers) || out.target !== undefined || out.hosts !== undefined) {
    const headers = Array.isArray(out.headers)
      ? out.headers
      : Object.entries(out.headers ?? {}).flat();
    const reply = await sendRaw(app.origin, out.target ?? path, {
      headers: [...headers, 'X-Request-Id', REQUEST_ID],
      hosts: out.hosts,
    });
    if (reply.body === undefined) {
      throw new Error(`not JSON (${reply.status}): ${JSON.stringify(reply.text)}`);
    }
    return reply;
  }
  let test = app.http
    .get(path)
    .set(out.headers ?? {})
    .set('X-Request-Id', REQUEST_ID);
  if (out.certificate) test = test.key(out.certificate.key).cert(out.certificate.cert);
  const res = await test;
  return { status: res.status, headers: res.headers, text: res.text, body: res.body };
}

/** The token, and its signature or ciphertext segment: neither may reach a log record. */
function secretsOf(out: Outgoing): string[] {
  if (!out.secret) return [];
  const last = out.secret.split('.').at(-1) ?? '';
  return last.length >= 16 ? [out.secret, last] : [out.secret];
}

async function run(driver: Driver, c: Case): Promise<void> {
  const clock = createClock();
  const logger = createCapturingLogger();
  const jwks = await startJwksServer(issuerJwks);
  const handled: RouteName[] = [];
  let app: RunningApp | undefined;
  let other: RunningApp | undefined;
  const stores: RedisReplayStore[] = [];
  try {
    const gate = (replayStore?: ReplayStore): NeutralOptions => ({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUri: jwks.url,
      decryption: { keys: decryptionKeys },
      now: clock.now,
      logger,
      ...c.options?.({ clock, jwks, replayStore }),
    });
    const instances = c.instances ?? 1;
    if (c.redis) {
      redis ??= startRedisServer();
      const { url } = await redis;
      // One connection per receiver, as two processes would have.
      for (let i = 0; i < instances; i++) stores.push(createRedisReplayStore({ url }));
    }
    const pki = c.tls ? await testPki() : undefined;
    const start = (replayStore?: ReplayStore) =>
      driver.start({
        gate: gate(replayStore),
        tokenFromCookie: c.tokenFromCookie,
        upstreamErrorHandler: c.upstreamErrorHandler,
        handle: (route, auth) => {
          handled.push(route);
          return handlerBody(route, auth?.payload.sub ?? null, auth?.encryption !== undefined);
        },
        ...(pki && { tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca } }),
        rewritePrefix: c.rewritePrefix,
      });
    app = await start(stores[0]);
    if (instances === 2) other = await start(stores[1]);
    const env = { clock, jwks, app, other };
    const prepared = await c.before?.(env);
    handled.length = 0;
    logger.entries.length = 0;

    const out = await c.request(env, prepared);
    const route = out.route ?? 'open';
    const path = `${c.rewritePrefix ?? ''}${ROUTES[route]}`;
    const res = await send(out.to === 'other' ? other! : app, path, out);
    const want = c.expect;

    expect(res.status).toBe(want.status);
    expect(res.headers['www-authenticate']).toBe(want.challenge);
    for (const [name, value] of Object.entries(want.headers ?? {})) {
      expect(res.headers[name]).toBe(value);
    }
    expect(res.headers['content-type']).toMatch(/^application\/json\b/);
    expect(res.body).toEqual(want.body);
    expect(handled).toEqual(want.handled ? [route] : []);

    const { code, level = code === 'token_missing' ? 'info' : 'warn', ...hints } = want.log ?? {};
    const records = logger.rejections();
    expect(records).toEqual(
      code
        ? [
            {
              event: 'token_rejected',
              code,
              status: statusOf(code),
              reason: expect.any(String),
              method: 'GET',
              path,
              requestId: REQUEST_ID,
              ...hints,
            },
          ]
        : [],
    );
    // Exactly one record per rejection, at its level, and nothing else at that level.
    const rejectionLevels = logger.entries.filter((e) => e.obj.event === 'token_rejected');
    expect(rejectionLevels.map((e) => e.level)).toEqual(code ? [level] : []);
    expect(logger.at(level)).toHaveLength(code ? 1 : 0);
    if (level !== 'warn') expect(logger.at('warn')).toHaveLength(0);
    const logged = JSON.stringify(logger.entries);
    for (const secret of secretsOf(out)) expect(logged).not.toContain(secret);
    c.after?.(env);
  } finally {
    await app?.close();
    await other?.close();
    for (const store of stores) await store.close();
    await jwks.close();
  }
}

// Every code core can answer with has a row that produces it over HTTP (`run` checks that the
// one log record carries the row's code). A code no request could produce would have to be
// argued here, with its reason; today there is none.
it('the table has a row for every error code', () => {
  const produced = new Set(cases.flatMap((c) => (c.expect.log ? [c.expect.log.code] : [])));
  expect([...produced].sort()).toEqual([...VERIFICATION_ERROR_CODES].sort());
});

describe.each([...drivers, ...legacyDrivers, ...nestDrivers])('$name', (driver) => {
  it.each(cases)('$name', (c) => run(driver, c));
});

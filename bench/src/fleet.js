// Fleet section: key-server requests per hour for a fleet of simulated receivers (in-process
// verifiers, each with its own cache and, with the store, its own Redis connection), with and
// without createRedisJwksStore. How the hour is computed: each kind of event is measured over
// short real windows (max-age 1 s, cooldown 1 s) as requests per event, then multiplied by how
// often it happens in the hour described by HOUR (the per-event counts do not depend on the
// length of max-age or cooldown: the limits are per period).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { createVerifier } from '@tokengate/core';
import { createRedisJwksStore } from '@tokengate/redis';
import { startJwksServer } from './lib/jwks-server.js';
import { AUDIENCE, claims, mint, signingKey } from './lib/tokens.js';

/** The hour the figures describe: one deploy (every receiver starts cold), max-age 5 min, the
 * default 30 s cooldown; "under flood", unknown kids reach every receiver all hour. */
export const HOUR = { deploys: 1, maxAge: 300, cooldown: 30 };
const SHORT = 1; // seconds: max-age and cooldown of the measured windows
const silent = { warn() {}, error() {}, info() {} };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const segment = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
let unknownSerial = 0;

/** A well-formed token naming a kid nobody published (its signature is never reached). */
function unknownKid(issuer) {
  const header = segment({ alg: 'ES256', typ: 'JWT', kid: `fleet-unknown-${unknownSerial++}` });
  return `${header}.${segment(claims(0, issuer))}.${'A'.repeat(86)}`;
}

/** redis-server on a unix socket in `dir` (no TCP port to pick), no persistence. */
async function startRedis(dir) {
  const path = join(dir, 'redis.sock');
  const child = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  await new Promise((resolve, reject) => {
    let output = '';
    const fail = (err) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`redis-server not ready: ${output}`)), 10_000);
    child.once('error', (err) => fail(new Error(`redis-server: ${err.message}`)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      output = (output + chunk).slice(-2000);
      // "Ready to accept connections" (Redis 7), "ready to accept connections at" (6)
      if (/ready to accept connections/i.test(output)) {
        clearTimeout(timer);
        child.stdout.resume();
        resolve();
      }
    });
  });
  return {
    path,
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** `n` receivers of `server`, each with its own cache (and Redis connection when `redis`). */
async function receivers(n, server, redis) {
  const clients = [];
  const verifiers = [];
  for (let i = 0; i < n; i++) {
    let store;
    if (redis) {
      const client = createClient({ socket: { path: redis.path } });
      client.on('error', () => {});
      await client.connect();
      clients.push(client);
      store = createRedisJwksStore({ client });
    }
    verifiers.push(
      createVerifier({
        issuer: server.issuer,
        audience: AUDIENCE,
        jwksUri: server.jwksUri,
        tokenCache: false,
        logger: silent,
        jwks: { shared: false, cooldown: SHORT, minTtl: SHORT, maxWait: 10, store },
      }),
    );
  }
  return { verifiers, close: () => Promise.all(clients.map((c) => c.close())) };
}

/** Requests per event for `n` receivers: a cold start, a revalidation, a cooldown of flood. */
async function measure(n, redis, { rounds, cooldowns }) {
  const key = signingKey('ES256', 'fleet-1');
  // Revalidations: a set that goes stale every second.
  const stale = await startJwksServer([key.jwk], { maxAge: SHORT });
  // Flood: a set that stays fresh, so only unknown kids make requests.
  const fresh = await startJwksServer([key.jwk], { maxAge: 3600 });
  const quiet = await receivers(n, stale, redis);
  const flooded = await receivers(n, fresh, redis);
  try {
    const valid = mint(key, claims(0, stale.issuer));
    await Promise.all(quiet.verifiers.map((v) => v.verify(valid)));
    const cold = stale.requests;

    let revalidations = 0;
    for (let r = 0; r < rounds; r++) {
      await sleep(SHORT * 1000 + 100); // past max-age
      stale.resetCount();
      // Traffic at every receiver: each finds its set stale and revalidates (or takes the
      // fleet's copy); a second pass once those background requests have landed.
      for (let pass = 0; pass < 2; pass++) {
        await Promise.all(quiet.verifiers.map((v) => v.verify(valid)));
        await sleep(200);
      }
      revalidations += stale.requests;
    }

    await Promise.all(flooded.verifiers.map((v) => v.ready()));
    fresh.resetCount();
    // Requests that reach the server within exactly `cooldowns` cooldowns of flood.
    let flood;
    const window = cooldowns * SHORT * 1000;
    const timer = setTimeout(() => (flood = fresh.requests), window);
    const end = performance.now() + window;
    while (performance.now() < end) {
      await Promise.all(
        flooded.verifiers.map((v) => v.verify(unknownKid(fresh.issuer)).catch(() => undefined)),
      );
    }
    await sleep(Math.max(0, end - performance.now()) + 10);
    clearTimeout(timer);
    return {
      cold,
      perMaxAge: revalidations / rounds,
      perCooldown: (flood ?? fresh.requests) / cooldowns,
    };
  } finally {
    await Promise.all([quiet.close(), flooded.close()]);
    await Promise.all([stale.close(), fresh.close()]);
  }
}

/** The fleet rows: 8 and 64 receivers, without and with the Redis store. */
export async function run({ quick }) {
  const dir = await mkdtemp(join(tmpdir(), 'tokengate-bench-fleet-'));
  const redis = await startRedis(dir);
  const windows = quick ? { rounds: 1, cooldowns: 1 } : { rounds: 3, cooldowns: 3 };
  const rows = [];
  try {
    for (const n of [8, 64]) {
      for (const store of [false, true]) {
        const m = await measure(n, store ? redis : undefined, windows);
        const quietHour = HOUR.deploys * m.cold + (3600 / HOUR.maxAge) * m.perMaxAge;
        rows.push({
          receivers: n,
          store,
          ...m,
          quietHour,
          floodHour: quietHour + (3600 / HOUR.cooldown) * m.perCooldown,
        });
      }
    }
  } finally {
    await redis.close();
    await rm(dir, { recursive: true, force: true });
  }
  return { hour: HOUR, short: SHORT, ...windows, rows };
}

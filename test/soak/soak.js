// The key-server soak of issue 19, all on loopback and in one process: a flapping, rotating key
// server, Express 5, Koa 3 and Fastify 5 receivers (each with its own JWKS cache), and an
// open-loop load generator at a bounded rate for a bounded duration. It counts, exactly:
// valid tokens refused (split into avoidable and the rest), invalid tokens accepted, 5xx, 503s
// while keys were held, revalidations and 304s, the time from a key's removal to its first
// refusal, and heap and RSS at start, middle and end.
//
// One process on purpose: the load generator reads the key server's state synchronously when
// it sends each request, so whether a key was published, removed or servable at that moment is
// known exactly rather than estimated across process clocks. `shared: false` gives each
// receiver its own cache, as three processes would have.
import { createHash, generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import express from 'express';
import Koa from 'koa';
import Fastify from 'fastify';
import { tokengate as expressGate } from '@tokengate/express';
import { tokengate as koaGate } from '@tokengate/koa';
import fastifyGate from '@tokengate/fastify';

/** A valid token's refusal is avoidable once the server has served its key, healthy, this long (s). */
export const AVOIDABLE_AFTER = 5;
/** The key server's `Cache-Control: max-age` (s). */
export const MAX_AGE = 5;
/** What the key server answers in the `slow` phase after (ms). */
const SLOW_MS = 2000;
const ISSUER = 'https://soak.issuer.test/';
const AUDIENCE = 'api://soak';
const PATH = '/orders';

/**
 * @typedef {'healthy' | '503' | 'hang' | 'slow' | 'broken' | 'reset'} Mode
 * @typedef {{ at: number, mode: Mode }} Phase   from `at` seconds on, the server behaves so
 * @typedef {{ phases: Phase[], rotateEvery: number, removeAfter: number }} Schedule
 */

/**
 * The issue's schedule, scaled to `duration` (180 s: the issue's run). A 60 s cycle, three
 * times: healthy 10 s, 503 for 10 s, hanging 10 s, answering in 2 s for 10 s, broken JSON 5 s,
 * connection resets 5 s, healthy 10 s. A new key every 40 s, the old one removed 20 s later.
 * @param {number} duration seconds
 * @returns {Schedule}
 */
export function scheduleFor(duration) {
  const k = duration / 180;
  /** @type {[number, Mode][]} */
  const cycle = [
    [0, 'healthy'],
    [10, '503'],
    [20, 'hang'],
    [30, 'slow'],
    [40, 'broken'],
    [45, 'reset'],
    [50, 'healthy'],
  ];
  const phases = [0, 60, 120].flatMap((start) =>
    cycle.map(([at, mode]) => ({ at: (start + at) * k, mode })),
  );
  return { phases, rotateEvery: 40 * k, removeAfter: 20 * k };
}

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

function newKey(kid) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
  return { kid, privateKey, jwk, publishedAt: undefined, removedAt: undefined };
}

function signToken(key, payload, kid = key.kid) {
  const input = `${b64({ alg: 'ES256', kid, typ: 'at+jwt' })}.${b64(payload)}`;
  const signature = cryptoSign('sha256', Buffer.from(input), {
    key: key.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

function claims(extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: `user-${randomBytes(3).toString('hex')}`,
    iat: now,
    exp: now + 3600,
    jti: randomBytes(8).toString('hex'),
    ...extra,
  };
}

/**
 * The flapping, rotating key server. `elapsed()` is seconds since the soak started.
 * Held (`hang`) requests are never answered: the receiver's fetch times out, or its connection
 * is dropped when the hang ends (the server restarts).
 */
async function startKeyServer(schedule, elapsed) {
  const keys = [];
  let body = '';
  let etag = '';
  const held = new Set();
  const stats = new Map();
  const statsFor = (receiver) => {
    let s = stats.get(receiver);
    if (!s) {
      s = { requests: 0, conditional: 0, ok200: 0, notModified: 0, failed: 0 };
      stats.set(receiver, s);
    }
    return s;
  };
  const modeAt = (t) => {
    let mode = 'healthy';
    for (const p of schedule.phases) if (p.at <= t) mode = p.mode;
    return mode;
  };

  function publishSet() {
    const published = keys.filter((k) => k.publishedAt !== undefined && k.removedAt === undefined);
    body = JSON.stringify({ keys: published.map((k) => k.jwk) });
    etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
  }

  function answer(req, res, s) {
    const headers = { 'cache-control': `public, max-age=${MAX_AGE}`, etag };
    if (req.headers['if-none-match'] === etag) {
      s.notModified++;
      res.writeHead(304, headers).end();
      return;
    }
    s.ok200++;
    res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(body);
  }

  const server = createServer((req, res) => {
    const receiver = new URL(req.url ?? '/', 'http://x').searchParams.get('r') ?? '?';
    const s = statsFor(receiver);
    s.requests++;
    if (req.headers['if-none-match'] !== undefined) s.conditional++;
    const mode = modeAt(elapsed());
    if (mode === '503') return void (s.failed++, res.writeHead(503).end('down'));
    if (mode === 'reset') return void (s.failed++, req.socket.destroy());
    if (mode === 'broken') {
      s.failed++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [');
      return;
    }
    if (mode === 'hang') return void (s.failed++, held.add({ req }));
    if (mode === 'slow') {
      const timer = setTimeout(() => !res.destroyed && answer(req, res, s), SLOW_MS);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    answer(req, res, s);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/.well-known/jwks.json`;

  // When the stretch of healthy (or slow) phases around `t` began, from the schedule itself, so
  // a late tick cannot make the server look healthy for longer than it was.
  const servingSince = (t) => {
    let since;
    for (const p of schedule.phases) {
      if (p.at > t) break;
      if (p.mode === 'healthy' || p.mode === 'slow') since ??= p.at;
      else since = undefined;
    }
    return since;
  };
  let lastMode = 'healthy';
  return {
    url,
    keys,
    stats,
    /** The current mode, and when the current healthy (or slow) stretch began. */
    tick() {
      const t = elapsed();
      const mode = modeAt(t);
      const healthySince = servingSince(t);
      const serving = healthySince !== undefined;
      if (lastMode === 'hang' && mode !== 'hang') {
        for (const h of held) h.req.socket.destroy();
        held.clear();
      }
      lastMode = mode;
      return { mode, serving, healthySince };
    },
    publish(key) {
      key.publishedAt = elapsed();
      keys.push(key);
      publishSet();
    },
    remove(key) {
      key.removedAt = elapsed();
      publishSet();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The three receivers; each counts its own key-cache telemetry. */
async function startReceivers(jwksUrl, logger) {
  const telemetry = () => ({ stale: 0, recovered: 0, fetch: 0, fetchError: 0 });
  const listen = (server) =>
    new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
  const options = (name, counts) => ({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: `${jwksUrl}?r=${name}`,
    jwks: { minTtl: MAX_AGE, maxStale: '1h', shared: false },
    logger,
    onEvent: (e) => {
      if (e.type === 'jwks.stale_served') counts.stale++;
      else if (e.type === 'jwks.recovered') counts.recovered++;
      else if (e.type === 'jwks.fetch' && e.status === 'error') counts.fetchError++;
      else if (e.type === 'jwks.fetch') counts.fetch++;
    },
  });
  const receivers = [];

  const ex = { name: 'express', events: telemetry() };
  const exApp = express();
  exApp.use(expressGate(options(ex.name, ex.events)));
  exApp.get(PATH, (_req, res) => void res.json({ ok: true }));
  const exServer = await listen(createServer(exApp));
  receivers.push({ ...ex, port: exServer.address().port, close: () => closeHttp(exServer) });

  const ko = { name: 'koa', events: telemetry() };
  const koApp = new Koa();
  koApp.silent = true;
  koApp.use(koaGate(options(ko.name, ko.events)));
  koApp.use((ctx) => {
    ctx.body = { ok: true };
  });
  const koServer = await listen(createServer(koApp.callback()));
  receivers.push({ ...ko, port: koServer.address().port, close: () => closeHttp(koServer) });

  const fa = { name: 'fastify', events: telemetry() };
  const faApp = Fastify();
  await faApp.register(fastifyGate, options(fa.name, fa.events));
  faApp.get(PATH, async () => ({ ok: true }));
  await faApp.listen({ port: 0, host: '127.0.0.1' });
  receivers.push({ ...fa, port: faApp.server.address().port, close: () => faApp.close() });
  return receivers;
}

function closeHttp(server) {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function get(port, token, agent) {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: PATH, agent, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', () => resolve({ status: 0, text: '' }));
      },
    );
    req.on('error', () => resolve({ status: 0, text: '' }));
    req.setTimeout(15_000, () => req.destroy());
    req.end();
  });
}

function memory() {
  const m = process.memoryUsage();
  return { heapMiB: m.heapUsed / 2 ** 20, rssMiB: m.rss / 2 ** 20 };
}

function percentile(sorted, p) {
  return sorted.length === 0
    ? 0
    : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/**
 * Runs the soak and returns its figures (nothing is printed).
 * @param {{ duration?: number, rate?: number, schedule?: Schedule, maxInFlight?: number }} o
 *   duration in seconds (default 180); rate: requests per second per receiver (default 300).
 */
export async function runSoak(o = {}) {
  const duration = o.duration ?? 180;
  const rate = o.rate ?? 300;
  const schedule = o.schedule ?? scheduleFor(duration);
  const maxInFlight = o.maxInFlight ?? 400;
  let started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const logs = { warn: 0, error: 0 };
  const logger = { warn: () => void logs.warn++, error: () => void logs.error++ };
  let unhandled = 0;
  const onUnhandled = () => void unhandled++;
  process.on('unhandledRejection', onUnhandled);

  const server = await startKeyServer(schedule, elapsed);
  const receivers = await startReceivers(server.url, logger);
  // As many sockets as requests allowed in flight: latency is the receivers', not a client queue's.
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight });
  const attacker = newKey('never-published');
  // Published and removed before the soak began: its kid is unknown to every receiver.
  const preRetired = { ...newKey('retired-before-start'), publishedAt: -1, removedAt: -1 };
  let generation = 1;
  let signingKey = newKey('soak-1');
  server.publish(signingKey);
  // Receivers in steady state: each has fetched the set once before the schedule starts (a
  // cold receiver answers 503 while the key server fails, as it should; that is not this run).
  for (const r of receivers) {
    const { status } = await get(r.port, signToken(signingKey, claims()), agent);
    if (status !== 200) throw new Error(`${r.name} did not accept the warm-up token: ${status}`);
  }
  started = performance.now();
  signingKey.publishedAt = 0;
  const reusedPool = new Map(); // key -> tokens (reused by "clients" for the whole run)
  const poolFor = (key) => {
    let pool = reusedPool.get(key);
    if (!pool) {
      pool = Array.from({ length: 30 }, () => signToken(key, claims()));
      reusedPool.set(key, pool);
    }
    return pool;
  };
  poolFor(signingKey);
  poolFor(preRetired);
  const body = b64(claims());
  const invalid = [
    () =>
      `${b64({ alg: 'ES256', kid: randomBytes(8).toString('hex'), typ: 'at+jwt' })}.${body}.${randomBytes(64).toString('base64url')}`,
    () => signToken(attacker, claims(), signingKey.kid), // a published kid, an unpublished key
    () => {
      const [h, , s] = poolFor(signingKey)[0].split('.');
      return `${h}.${b64(claims({ scope: 'admin' }))}.${s}`; // tampered payload
    },
    () => signToken(signingKey, claims({ exp: Math.floor(Date.now() / 1000) - 600 })),
    () => signToken(signingKey, claims({ aud: 'api://other' })),
    () => [12, 40, 64].map((n) => randomBytes(n).toString('base64url')).join('.'),
  ];

  const figures = receivers.map((r) => ({
    receiver: r.name,
    sent: 0,
    shed: 0,
    answered: 0,
    noAnswer: 0,
    validAccepted: 0,
    /** Valid tokens sent while the key server had been healthy and serving their key >= 5 s. */
    validEligible: 0,
    validRefusedAvoidable: 0,
    validRefusedOther: 0,
    invalidAccepted: 0,
    invalidRefused: 0,
    retiredAccepted: 0,
    retiredRefused: 0,
    status5xx: 0,
    status503WithKeys: 0,
    refusals: /** @type {Record<string, number>} */ ({}),
    firstAcceptAt: undefined,
    inFlight: 0,
    maxInFlight: 0,
    latencies: /** @type {number[]} */ ([]),
    /** per removed kid: when, the first refusal of its tokens after (s), whether ever accepted */
    removalLag:
      /** @type {Record<string, { removedAt: number, firstRefusalAfter: number | null, held: boolean }>} */ ({}),
    heldKids: new Set(),
    events: r.events,
  }));
  const memoryAt = { start: memory(), middle: undefined, end: undefined };

  function classify(key, now, state) {
    if (!key || key.publishedAt === undefined) return { kind: 'invalid' };
    if (key.removedAt !== undefined) return { kind: 'retired' };
    const servedSince = Math.max(key.publishedAt, state.serving ? state.healthySince : Infinity);
    return { kind: 'valid', avoidable: now - servedSince >= AVOIDABLE_AFTER };
  }

  function fire(i, f, r, state, now) {
    if (f.inFlight >= maxInFlight) return void f.shed++;
    const roll = Math.random();
    let key;
    let token;
    if (roll < 0.6) {
      // Valid and reused: a client holding a token of any key still published.
      const live = [...reusedPool.keys()].filter(
        (k) => k.publishedAt !== undefined && k.removedAt === undefined,
      );
      key = live[i % live.length];
      const pool = poolFor(key);
      token = pool[i % pool.length];
    } else if (roll < 0.8) {
      key = signingKey;
      token = signToken(key, claims());
    } else if (roll < 0.9) {
      key = undefined;
      token = invalid[i % invalid.length]();
    } else {
      // Signed with a retired key: removed during the soak, or before it began.
      const retired = [...reusedPool.keys()].filter((k) => k.removedAt !== undefined);
      key = retired[i % retired.length];
      token = poolFor(key)[i % 30];
    }
    const c = classify(key, now, state);
    if (c.avoidable) f.validEligible++;
    f.sent++;
    f.inFlight++;
    f.maxInFlight = Math.max(f.maxInFlight, f.inFlight);
    const t0 = performance.now();
    get(r.port, token, agent).then(({ status, text }) => {
      f.inFlight--;
      f.latencies.push(performance.now() - t0);
      if (status === 0) return void f.noAnswer++;
      f.answered++;
      const accepted = status === 200;
      if (accepted) f.firstAcceptAt ??= elapsed();
      if (status >= 500) {
        f.status5xx++;
        if (status === 503 && f.firstAcceptAt !== undefined) f.status503WithKeys++;
      }
      if (!accepted) {
        let reason = String(status);
        try {
          reason = `${status} ${JSON.parse(text).error_description}`;
        } catch {
          // not JSON: keep the status
        }
        f.refusals[`${c.kind}: ${reason}`] = (f.refusals[`${c.kind}: ${reason}`] ?? 0) + 1;
      }
      if (c.kind === 'valid') {
        if (accepted) {
          f.validAccepted++;
          f.heldKids.add(key.kid);
        } else if (c.avoidable) f.validRefusedAvoidable++;
        else f.validRefusedOther++;
      } else if (c.kind === 'invalid') {
        if (accepted) f.invalidAccepted++;
        else f.invalidRefused++;
      } else {
        if (accepted) f.retiredAccepted++;
        else {
          f.retiredRefused++;
          const lag = f.removalLag[key.kid];
          if (lag && lag.firstRefusalAfter === null) {
            lag.firstRefusalAfter = elapsed() - key.removedAt;
          }
        }
      }
    });
  }

  // Open loop: every 20 ms, the requests due by now (bounded by maxInFlight per receiver).
  let due = 0;
  let i = 0;
  let nextRotation = schedule.rotateEvery;
  const removals = [];
  const tickMs = 20;
  while (elapsed() < duration) {
    const now = elapsed();
    if (now >= nextRotation) {
      const old = signingKey;
      signingKey = newKey(`soak-${++generation}`);
      server.publish(signingKey);
      poolFor(signingKey);
      removals.push({ key: old, at: nextRotation + schedule.removeAfter });
      nextRotation += schedule.rotateEvery;
    }
    while (removals.length > 0 && removals[0].at <= now) {
      const { key } = removals.shift();
      server.remove(key);
      for (const f of figures) {
        f.removalLag[key.kid] = {
          removedAt: key.removedAt,
          firstRefusalAfter: null,
          held: f.heldKids.has(key.kid),
        };
      }
    }
    const state = server.tick();
    if (memoryAt.middle === undefined && now >= duration / 2) memoryAt.middle = memory();
    due += (rate * tickMs) / 1000;
    while (due >= 1) {
      due--;
      i++;
      receivers.forEach((r, n) => fire(i, figures[n], r, state, now));
    }
    await new Promise((resolve) => setTimeout(resolve, tickMs));
  }
  // Let the last requests finish (bounded), then stop everything.
  for (let w = 0; w < 200 && figures.some((f) => f.inFlight > 0); w++) {
    server.tick();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  memoryAt.middle ??= memory();
  memoryAt.end = memory();
  agent.destroy();
  for (const r of receivers) await r.close();
  await server.close();
  process.off('unhandledRejection', onUnhandled);

  const keyServer = Object.fromEntries(server.stats);
  return {
    duration,
    rate,
    elapsed: elapsed(),
    receivers: figures.map(({ latencies, inFlight: _inFlight, heldKids: _held, ...f }) => {
      latencies.sort((a, b) => a - b);
      const s = keyServer[f.receiver] ?? {
        requests: 0,
        conditional: 0,
        ok200: 0,
        notModified: 0,
        failed: 0,
      };
      return {
        ...f,
        latencyMs: {
          p50: percentile(latencies, 0.5),
          p99: percentile(latencies, 0.99),
          max: latencies.at(-1) ?? 0,
        },
        keyServer: s,
      };
    }),
    memory: memoryAt,
    logs,
    unhandled,
  };
}

/** The figures the issue's "done" asks for, summed over the receivers. */
export function totals(result) {
  const sum = (pick) => result.receivers.reduce((n, r) => n + pick(r), 0);
  return {
    invalidAccepted: sum((r) => r.invalidAccepted),
    validRefusedAvoidable: sum((r) => r.validRefusedAvoidable),
    status5xx: sum((r) => r.status5xx),
    noAnswer: sum((r) => r.noAnswer),
    validAccepted: sum((r) => r.validAccepted),
    validEligible: sum((r) => r.validEligible),
    notModified: sum((r) => r.keyServer.notModified),
    failedOnPurpose: sum((r) => r.keyServer.failed),
  };
}

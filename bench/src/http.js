import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startJwksServer } from './lib/jwks-server.js';
import { median, spread } from './lib/measure.js';
import { AUDIENCE, claims, mint, signingKey, tamper } from './lib/tokens.js';
import { TARGETS } from './http/targets.js';

const SERVER = fileURLToPath(new URL('./http/server.js', import.meta.url));
const LOAD = fileURLToPath(new URL('./http/load.js', import.meta.url));

/** Per framework: the targets to start and the runs (target, token mode) measured side by side. */
const GROUPS = [
  {
    framework: 'express',
    runs: [
      ['express-bare', 'reused'],
      ['express-noop', 'reused'],
      ['express-tokengate', 'reused'],
      ['express-tokengate', 'reused', 'aa'],
      ['express-oauth2-jwt-bearer', 'reused'],
      ['express-jwt', 'reused'],
      ['express-tokengate-fresh', 'fresh'],
      ['express-oauth2-jwt-bearer', 'fresh'],
      ['express-jwt', 'fresh'],
    ],
  },
  {
    framework: 'koa',
    runs: [
      ['koa-bare', 'reused'],
      ['koa-noop', 'reused'],
      ['koa-tokengate', 'reused'],
      ['koa-tokengate', 'reused', 'aa'],
      ['koa-jwt', 'reused'],
      ['koa-tokengate-fresh', 'fresh'],
      ['koa-jwt', 'fresh'],
    ],
  },
  {
    framework: 'fastify',
    runs: [
      ['fastify-bare', 'reused'],
      ['fastify-noop', 'reused'],
      ['fastify-tokengate', 'reused'],
      ['fastify-tokengate', 'reused', 'aa'],
      ['fastify-jwt', 'reused'],
      ['fastify-tokengate-fresh', 'fresh'],
      ['fastify-jwt', 'fresh'],
    ],
  },
];

export function startServer(target, config) {
  const child = fork(SERVER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = (message, type) =>
    new Promise((resolve) => {
      const listener = (reply) => {
        if (reply.type !== type) return;
        child.off('message', listener);
        resolve(reply);
      };
      child.on('message', listener);
      child.send(message);
    });
  const stop = () =>
    new Promise((done) => {
      if (child.exitCode !== null) return done();
      const timer = setTimeout(() => child.kill(), 3000);
      child.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      child.send({ type: 'stop' });
    });
  const cpu = async () => (await ask({ type: 'cpu' }, 'cpu')).micros;
  // Used by profile.js only: starts or stops the in-process profiler (http/probe.js).
  const profile = async (phase, kind) =>
    (await ask({ type: 'profile', phase, kind }, 'profile')).result;
  return new Promise((resolve) => {
    child.once('message', (message) => {
      if (message.type === 'listening') {
        resolve({
          target,
          url: `http://127.0.0.1:${message.port}/`,
          pid: child.pid,
          stop,
          cpu,
          profile,
        });
      } else {
        stop();
        resolve({ target, failed: `did not start: ${message.error.split('\n')[0]}`, stop, cpu });
      }
    });
    child.send({ type: 'start', target, config });
  });
}

export function startLoad() {
  const child = fork(LOAD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let nextId = 0;
  const pending = new Map();
  child.on('message', ({ id, result, error }) => {
    const { resolve, reject } = pending.get(id);
    pending.delete(id);
    if (error) reject(new Error(error));
    else resolve(result);
  });
  return {
    run: (job) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        child.send({ id, job });
      }),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.send({ type: 'stop' });
      }),
  };
}

async function status(url, token) {
  const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const response = await fetch(url, { headers });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Every target answers 200 to a valid token before it is measured; an authenticating target
 * must also answer 401 without a token and to a tampered one (else it would be measuring
 * nothing). Returns the reason it failed, or undefined.
 */
export async function assertTarget(server, tokens) {
  if (server.failed) return server.failed;
  const expect = [
    ['a valid token', tokens.reused, 200],
    ['a second valid token', tokens.pool[1], 200],
  ];
  if (!/-(bare|noop)$/.test(server.target)) {
    expect.push(['no token', undefined, 401], ['a tampered token', tamper(tokens.reused), 401]);
  }
  for (const [what, token, want] of expect) {
    try {
      const got = await status(server.url, token);
      if (got !== want) return `answered ${got} to ${what} (expected ${want})`;
    } catch (err) {
      return `request with ${what} failed: ${err.message}`;
    }
  }
  return undefined;
}

export function jobFor(server, mode, tokens, seconds, connections) {
  return {
    url: server.url,
    token: tokens.reused,
    ...(mode === 'fresh' && { tokens: tokens.pool }),
    duration: seconds,
    connections,
  };
}

function problem(result) {
  if (result.total === 0) return 'no requests completed';
  if (result.non2xx > 0) return `${result.non2xx} of ${result.total} answers were not 2xx`;
  if (result.errors > 0) return `${result.errors} connection errors or timeouts`;
  return undefined;
}

const debug = (...args) => process.env.BENCH_DEBUG && console.error(...args);

/**
 * A run measures one variant: a target process (`target`) under one token mode. `copy` names a
 * second, independent set of processes for the same target: the A/A variant, whose ratio to
 * the first set is pure noise and bounds what the other ratios can resolve.
 */
function runsOf(group) {
  return group.runs.map(([target, mode, copy]) => ({
    id: `${target.replace(/-fresh$/, '')}${copy ? '-aa' : ''}:${mode}`,
    target,
    // The process a run is measured on: runs that share a target share its process.
    process: copy ? `${target}#${copy}` : target,
    copy,
    mode,
    samples: [],
    p99: [],
    cpu: [],
    failed: undefined,
  }));
}

/**
 * One round: a fresh process per variant (so a variant's figures come from several processes,
 * not one lucky or unlucky heap), each checked, warmed, then measured in an order rotated by
 * the round so no variant always runs first or last.
 */
async function runRound(group, runs, round, config, tokens, load, timing) {
  const t0 = performance.now();
  const keys = [...new Set(runs.filter((r) => !r.failed).map((r) => r.process))];
  const started = await Promise.all(
    keys.map(async (key) => [key, await startServer(key.replace(/#.*$/, ''), config)]),
  );
  const servers = new Map(started);
  debug(`${group.framework} round ${round}: started in ${(performance.now() - t0).toFixed(0)} ms`);
  try {
    for (const [key, server] of servers) {
      const why = await assertTarget(server, tokens);
      if (why) for (const r of runs) if (r.process === key) r.failed ??= why;
    }
    const live = () => runs.filter((r) => !r.failed);
    const measure = async (r, seconds) => {
      try {
        const server = servers.get(r.process);
        const cpu0 = await server.cpu();
        const t = performance.now();
        const result = await load.run(jobFor(server, r.mode, tokens, seconds, timing.connections));
        debug(`  ${r.id}: ${(performance.now() - t).toFixed(0)} ms`);
        result.cpuPerRequest = ((await server.cpu()) - cpu0) / result.total;
        r.failed = problem(result);
        return result;
      } catch (err) {
        r.failed = `load run failed: ${err.message.split('\n')[0]}`;
        return undefined;
      }
    };
    if (timing.warmSeconds > 0) for (const r of live()) await measure(r, timing.warmSeconds);
    const order = live();
    for (let k = 0; k < order.length; k++) {
      const r = order[(k + round) % order.length];
      const result = await measure(r, timing.seconds);
      if (result && !r.failed) {
        r.samples.push(result.requestsPerSecond);
        r.p99.push(result.p99);
        r.cpu.push(result.cpuPerRequest);
      }
    }
  } finally {
    await Promise.all([...servers.values()].map((server) => server.stop()));
  }
  debug(`${group.framework} round ${round}: done at ${(performance.now() - t0).toFixed(0)} ms`);
}

async function runGroup(group, config, tokens, load, timing) {
  const runs = runsOf(group);
  for (let round = 0; round < timing.rounds; round++) {
    await runRound(group, runs, round, config, tokens, load, timing);
  }
  const ref = `${group.framework}-bare:reused`;
  return runs.map((r) => {
    const base = `${TARGETS[r.target].label}${/-(bare|noop)$/.test(r.target) ? '' : `, ${r.mode} token`}`;
    const original = r.id.replace(/-aa:/, ':');
    return {
      id: r.id,
      label: r.copy ? `${base} (A/A: a second set of processes)` : base,
      group: `http-${group.framework}`,
      groupTitle: `HTTP, ${group.framework}: GET / with a bearer token`,
      unit: 'req/s',
      failed: r.failed,
      samples: r.samples,
      median: r.samples.length ? median(r.samples) : undefined,
      spread: r.samples.length ? spread(r.samples) : undefined,
      p99: r.p99.length ? median(r.p99) : undefined,
      cpuSamples: r.cpu,
      cpuPerRequest: r.cpu.length ? median(r.cpu) : undefined,
      // The A/A row is compared with its twin, every other row with the bare framework.
      ref: r.copy ? original : r.id === ref ? undefined : ref,
      aa: r.copy ? true : undefined,
    };
  });
}

/** The loopback JWKS server, the tokens and the targets' configuration shared by every run. */
export async function fixtures({ quick, staticKeys }) {
  const key = signingKey('RS256');
  const jwks = await startJwksServer([key.jwk]);
  const now = Math.floor(Date.now() / 1000);
  const poolSize = quick ? 300 : 2_000;
  const tokens = {
    reused: mint(key, claims(0, jwks.issuer, { now })),
    pool: Array.from({ length: poolSize }, (_, i) =>
      mint(key, claims(i + 1, jwks.issuer, { now })),
    ),
  };
  const config = {
    issuer: jwks.issuer,
    audience: AUDIENCE,
    jwksUri: jwks.jwksUri,
    jwks: { keys: [key.jwk] },
    staticKeys,
  };
  return { jwks, tokens, config };
}

/**
 * The HTTP rows: autocannon (another process) against each framework bare and with each
 * middleware, on 127.0.0.1, every middleware reading keys from one loopback JWKS server.
 */
export async function runHttp({ quick, staticKeys }) {
  const timing = quick
    ? { rounds: 1, seconds: 1, warmSeconds: 0, connections: 10 }
    : { rounds: 5, seconds: 2, warmSeconds: 1, connections: 10 };
  const { jwks, tokens, config } = await fixtures({ quick, staticKeys });
  const poolSize = tokens.pool.length;
  const load = startLoad();
  const rows = [];
  try {
    for (const group of GROUPS) rows.push(...(await runGroup(group, config, tokens, load, timing)));
  } finally {
    await load.stop();
    await jwks.close();
  }
  return { rows, poolSize };
}

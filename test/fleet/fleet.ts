// The fleet harness: receiver child processes (receiver.js) on mixed adapters, started and
// closed together, with what each one logged and reported, and a keep-alive HTTP client to
// drive traffic at them. Every child is killed on close, on a failed start and on exit.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { RemoteJwksStatus, TokengateEvent } from '@tokengate/core';

const RECEIVER = fileURLToPath(new URL('./receiver.js', import.meta.url));

export type Adapter = 'express' | 'koa' | 'fastify';

/**
 * What one receiver child is told (JSON, in TOKENGATE_FLEET_RECEIVER). `options` and `jwks` are
 * spread into its tokengate options (after issuer/audience/jwksUri and before the store), `store`
 * into its createRedisJwksStore options: later cases add their own options here. With `denylist`,
 * the receiver also refuses revoked tokens: `revoked: createRedisDenylist({ url: redisUrl,
 * ...denylist }).revoked` (`denylist.url` overrides the URL, e.g. a proxy the test cuts).
 */
export interface ReceiverConfig {
  adapter: Adapter;
  issuer: string;
  audience: string;
  jwksUri: string;
  redisUrl: string;
  jwks?: Record<string, unknown>;
  options?: Record<string, unknown>;
  store?: Record<string, unknown>;
  denylist?: Record<string, unknown>;
}

export interface LogRecord {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg?: string;
}

export interface FleetReceiver {
  readonly name: string;
  readonly adapter: Adapter;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Every log record of the receiver, oldest first. */
  readonly logs: LogRecord[];
  /** Its `jwks.*` and `cache.hit` events, oldest first. */
  readonly events: TokengateEvent[];
  /** Log records with this `event`. */
  logged(event: string): LogRecord[];
  /** The status of its JWKS cache (`RemoteJwks.status()`), asked over IPC. */
  status(): Promise<RemoteJwksStatus>;
  /** Asks the child one of its `questions` (receiver.js), with `arg`, and resolves its answer. */
  ask(question: string, arg?: unknown): Promise<unknown>;
}

export interface Fleet {
  readonly receivers: readonly FleetReceiver[];
  /** Statuses of every receiver, in order. */
  statuses(): Promise<RemoteJwksStatus[]>;
  /** Stops every child (SIGKILL after 5 s); safe to call twice. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;
/** An IPC question to a child. */
const ANSWER_TIMEOUT_MS = 10_000;
/** One HTTP request: longer than any wait for keys a receiver may make (its maxWait). */
const REQUEST_TIMEOUT_MS = 30_000;

interface Child extends FleetReceiver {
  readonly process: ChildProcess;
}

function startReceiver(config: ReceiverConfig, name: string): Promise<Child> {
  const child = fork(RECEIVER, [], {
    env: { ...process.env, TOKENGATE_FLEET_RECEIVER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const logs: LogRecord[] = [];
  const events: TokengateEvent[] = [];
  const waiting = new Map<number, (value: unknown) => void>();
  let nextId = 0;
  child.on('message', (message: { type: string; [k: string]: unknown }) => {
    if (message.type === 'log') logs.push(message as unknown as LogRecord);
    else if (message.type === 'event') events.push(message.event as TokengateEvent);
    else if (message.type === 'answer') {
      waiting.get(message.id as number)?.(message.value);
      waiting.delete(message.id as number);
    }
  });
  const ask = (question: string, arg?: unknown) =>
    new Promise<unknown>((answer, refuse) => {
      const id = nextId++;
      const timeout = setTimeout(
        () => refuse(new Error(`${name}: no answer to ${question}`)),
        ANSWER_TIMEOUT_MS,
      );
      waiting.set(id, (value) => {
        clearTimeout(timeout);
        answer(value);
      });
      child.send({ type: question, id, arg });
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${name} not ready`)), START_TIMEOUT_MS);
    function fail(err: Error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    }
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`${name} exited (${code}) before ready`)));
    child.on('message', (message: { type: string; port?: number }) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({
        name,
        adapter: config.adapter,
        origin: `http://127.0.0.1:${message.port}`,
        logs,
        events,
        process: child,
        logged: (event) => logs.filter((r) => r.obj.event === event),
        ask,
        status: () => ask('status') as Promise<RemoteJwksStatus>,
      });
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ type: 'close' });
  else child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(killer);
}

/** Starts one receiver per config (in parallel); if any fails to start, all are stopped. */
export async function startFleet(configs: readonly ReceiverConfig[]): Promise<Fleet> {
  const started = configs.map((config, i) => startReceiver(config, `${config.adapter}-${i}`));
  const children: Child[] = [];
  const orphans = () => {
    for (const c of children) c.process.kill('SIGKILL');
  };
  process.once('exit', orphans);
  const settled = await Promise.allSettled(started);
  for (const s of settled) if (s.status === 'fulfilled') children.push(s.value);
  const close = async () => {
    process.off('exit', orphans);
    await Promise.all(children.map((c) => stop(c.process)));
  };
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await close();
    throw failed.reason;
  }
  return {
    receivers: children,
    statuses: () => Promise.all(children.map((c) => c.status())),
    close,
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** GET `path` with a bearer token; resolves the status code (0 for a network error). */
export async function get(origin: string, token: string, path = '/api'): Promise<number> {
  return (await answer(origin, token, path)).status;
}

/**
 * GET `path` with a bearer token; resolves the status code (0 for a network error) and the
 * body's `error_description`, if any.
 */
export function answer(
  origin: string,
  token: string,
  path = '/api',
): Promise<{ status: number; description?: string }> {
  return new Promise((resolve) => {
    const req = request(
      `${origin}${path}`,
      { agent, headers: { authorization: `Bearer ${token}` }, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
            const description = body.error_description;
            resolve(typeof description === 'string' ? { status, description } : { status });
          } catch {
            resolve({ status });
          }
        });
        res.on('error', () => resolve({ status: 0 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve({ status: 0 }));
    req.end();
  });
}

/** Closes the keep-alive sockets of `get`. */
export function closeClient(): void {
  agent.destroy();
}

/** Waits until `check` holds, polling every 50 ms for at most `ms`; throws naming `what`. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Runs hostile requests against the conformance drivers (imported, never copied) and checks the
// answer the way an attacker would read it: status, challenge, body, and what reached the logs.
import { Agent, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerificationError, toHttpError } from '@tokengate/core';
import type { VerificationErrorCode } from '@tokengate/core';
import { drivers } from '../conformance/drivers.js';
import type { Driver, NeutralOptions, RunningApp } from '../conformance/drivers.js';
import { createClock } from '../fixtures/clock.js';
import type { FakeClock } from '../fixtures/clock.js';
import { startJwksServer } from '../fixtures/jwks-server.js';
import type { JwksServer } from '../fixtures/jwks-server.js';
import { decryptionKeys, issuerJwks } from '../fixtures/keys.js';
import { createCapturingLogger } from '../fixtures/logger.js';
import type { CapturingLogger } from '../fixtures/logger.js';
import { AUDIENCE, ISSUER, NOW } from '../fixtures/tokens.js';

export { drivers };
export type { Driver, NeutralOptions };

/** The protected route every gate serves (tokengate alone in front of it). */
export const PATH = '/orders';

/** An HTTP answer, body parsed when it is JSON. */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: unknown;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * One GET. `headers` as an array is a raw list sent as is (repeats included), with an explicit
 * Host first: a raw list replaces Node's defaults, and without Host the server answers 400.
 */
export function send(
  origin: string,
  path: string,
  headers: Record<string, string> | string[] = {},
  agent?: Agent,
): Promise<Reply> {
  const list = Array.isArray(headers) ? ['Host', new URL(origin).host, ...headers] : headers;
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${origin}${path}`, { headers: list, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, text, body: parse(text) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    // A request the app never answers is a failure of its own, not a test that hangs.
    req.setTimeout(5000, () => req.destroy(new Error(`no answer in 5 s: ${path.slice(0, 60)}`)));
    req.end();
  });
}

/**
 * Writes raw bytes to the server and reads until it closes: for requests Node's own client
 * refuses to send (CR, LF or NUL in a header). Returns the status of the answer.
 */
export function sendBytes(
  origin: string,
  bytes: Buffer,
): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(bytes));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, text });
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer in 5 s')));
  });
}

/** How the token travels: the Authorization header (default), a cookie, or the query string. */
export type Carrier = 'header' | 'cookie' | 'query';

export interface GateSetup {
  /** The issuer's key server; its URL becomes `jwksUri` unless `options` gives a key source. */
  jwks?: JwksServer;
  options?: Partial<NeutralOptions>;
  /** Which carriers besides the header the app reads (default: the header only). */
  carrier?: Exclude<Carrier, 'header'>;
  clock?: FakeClock;
}

/** A running app behind one driver, with its own clock and capturing logger. */
export interface GateServer {
  readonly driver: Driver;
  readonly app: RunningApp;
  readonly clock: FakeClock;
  readonly logger: CapturingLogger;
  /** Routes whose handler ran since the last `send`. */
  readonly handled: string[];
  /** The last token sent (its text must reach no log and no body). */
  lastToken: string | undefined;
  /** Sends `token` by `carrier` (default: `Authorization: Bearer`), after clearing logs. */
  send(token: string, carrier?: Carrier, extra?: Record<string, string>): Promise<Reply>;
  /** Sends raw headers (after clearing logs). */
  sendHeaders(headers: Record<string, string> | string[], path?: string): Promise<Reply>;
  close(): Promise<void>;
}

/** Options every gate starts from: the fixtures' issuer, audience and receiver keys. */
export function baseOptions(
  jwks: JwksServer | undefined,
  clock: FakeClock,
  logger: CapturingLogger,
): NeutralOptions {
  return {
    issuer: ISSUER,
    audience: AUDIENCE,
    ...(jwks && { jwksUri: jwks.url }),
    decryption: { keys: decryptionKeys },
    now: clock.now,
    logger,
  };
}

/** Starts `driver` with the base options plus `setup.options`. */
export async function startGate(driver: Driver, setup: GateSetup = {}): Promise<GateServer> {
  const clock = setup.clock ?? createClock();
  const logger = createCapturingLogger();
  const handled: string[] = [];
  const options = { ...baseOptions(setup.jwks, clock, logger), ...setup.options };
  if (options.issuers !== undefined) {
    delete options.issuer;
    delete options.jwksUri;
  }
  if (options.keys !== undefined || options.keySource !== undefined) delete options.jwksUri;
  const app = await driver.start({
    gate: options,
    tokenFromCookie: setup.carrier === 'cookie',
    tokenFromQuery: setup.carrier === 'query',
    handle: (route, auth) => {
      handled.push(route);
      return { route, sub: auth?.payload.sub ?? null };
    },
  });
  const reset = (): void => {
    logger.entries.length = 0;
    handled.length = 0;
  };
  const gate: GateServer = {
    driver,
    app,
    clock,
    logger,
    handled,
    lastToken: undefined,
    async send(token, carrier = 'header', extra = {}) {
      reset();
      gate.lastToken = token;
      if (carrier === 'query') {
        return send(app.origin, `${PATH}?access_token=${encodeURIComponent(token)}`, extra);
      }
      const headers: Record<string, string> =
        carrier === 'cookie' ? { cookie: `token=${token}` } : { authorization: `Bearer ${token}` };
      return send(app.origin, PATH, { ...headers, ...extra });
    },
    async sendHeaders(headers, path = PATH) {
      reset();
      return send(app.origin, path, headers);
    },
    close: () => app.close(),
  };
  return gate;
}

/** Segments of a token long enough to be secret material (signature, ciphertext, key). */
function secretParts(token: string | undefined): string[] {
  if (!token) return [];
  return [token, ...token.split('.').filter((s) => s.length >= 24)];
}

// What must never appear in a response body: a stack frame, PEM, private or public key members.
const LEAKS = [/\bat .+:\d+:\d+/, /-----BEGIN/, /"(?:n|e|d|p|q|dp|dq|qi|x|y|k)"\s*:/, /Error\b/];

/** Asserts that neither the body nor any log record carries the token, a stack or key material. */
export function expectNoLeak(gate: GateServer, reply: { text: string }): void {
  const logged = JSON.stringify(gate.logger.entries);
  for (const secret of secretParts(gate.lastToken)) {
    expect(reply.text).not.toContain(secret);
    expect(logged).not.toContain(secret);
  }
  for (const pattern of LEAKS) expect(reply.text).not.toMatch(pattern);
}

/** What an answer says, in one comparable object (a failure shows the actual code). */
function summary(gate: GateServer, reply: Reply) {
  return {
    status: reply.status,
    challenge: reply.headers['www-authenticate'],
    body: reply.body,
    logged: gate.logger.rejections().map((r) => r.code),
    handled: [...gate.handled],
  };
}

/**
 * Asserts the exact refusal for `code`: status, RFC 6750 challenge and body from core's one
 * table, the handler not run, one log record with that code, and nothing leaked.
 */
export function expectRefused(
  gate: GateServer,
  reply: Reply,
  code: VerificationErrorCode,
  options: { scope?: readonly string[]; realm?: string } = {},
): void {
  const want = toHttpError(new VerificationError(code, { scope: options.scope }), options);
  expect(summary(gate, reply)).toEqual({
    status: want.status,
    challenge: want.headers['WWW-Authenticate'],
    body: want.body,
    logged: [code],
    handled: [],
  });
  expectNoLeak(gate, reply);
}

/** Asserts the handler ran and answered 200 with no rejection logged. */
export function expectAccepted(gate: GateServer, reply: Reply): void {
  expect(summary(gate, reply)).toMatchObject({ status: 200, logged: [], handled: ['open'] });
}

/** A keep-alive agent for floods; destroy it when done. */
export function floodAgent(maxSockets = 16): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}

/**
 * Runs `count` jobs with at most `concurrency` in flight, returning their results in order.
 * Bounded: no job is started after `count`.
 */
export async function pool<T>(
  count: number,
  concurrency: number,
  job: (i: number) => Promise<T>,
): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** Counts answers by `status code` (`"401 kid_unknown"`), for flood summaries. */
export function tally(replies: readonly Reply[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of replies) {
    const body = r.body as { error_description?: string } | undefined;
    const key = `${r.status} ${body?.error_description ?? ''}`.trim();
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Records the JWKS cache's fetch outcomes and lets a test wait for the next one. */
export interface FetchWatch {
  readonly outcomes: ('ok' | 'error')[];
  /** Resolves when `n` outcomes have been seen in total. */
  until(n: number): Promise<void>;
  hooks: {
    onFetch: () => void;
    onError: () => void;
  };
}

export function watchFetches(): FetchWatch {
  const outcomes: ('ok' | 'error')[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const record = (outcome: 'ok' | 'error') => {
    outcomes.push(outcome);
    for (const w of waiters.filter((w) => outcomes.length >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  return {
    outcomes,
    async until(n) {
      if (outcomes.length < n) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`waited 5 s for fetch #${n}`)), 5000);
          waiters.push({
            n,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          });
        });
      }
      // The hook runs inside the fetch: let its promise chain settle (single flight cleared).
      await new Promise((resolve) => setImmediate(resolve));
    },
    hooks: { onFetch: () => record('ok'), onError: () => record('error') },
  };
}

/** What a case can use: the clock and key server of the gate it runs against. */
export interface AttackEnv {
  clock: FakeClock;
  jwks: JwksServer;
  gate: GateServer;
}

/** One hostile request, run through every adapter. */
export interface AttackCase {
  name: string;
  /** The token sent. */
  token: (env: AttackEnv) => string | Promise<string>;
  /**
   * The refusal expected, or `'accepted'` for a control case (it proves the path under attack
   * is live: the same set-up accepts the honest token).
   */
  expect: VerificationErrorCode | 'accepted';
  /** Options for a gate of its own (otherwise the shared gate with the base options). */
  options?: (env: Omit<AttackEnv, 'gate'>) => Partial<NeutralOptions>;
  carrier?: Carrier;
  /** Keys published by a key server of its own. */
  published?: { keys: object[] };
  /** Extra assertions (what a key server saw, say). */
  after?: (env: AttackEnv) => void | Promise<void>;
}

/**
 * Runs a table of cases against every driver: one shared gate per driver (a fresh one for a case
 * with its own options, carrier or key server), the clock at NOW for each case.
 */
export function describeAttacks(cases: readonly AttackCase[], published = issuerJwks): void {
  describe.each(drivers)('$name', (driver) => {
    const fixture = gateFixture(driver, published);

    it.each(cases)('$name', async (c) => {
      const ownJwks = c.published ? await startJwksServer(c.published) : undefined;
      const server = ownJwks ?? fixture.jwks;
      const clock = createClock();
      const needsOwn = c.options || ownJwks || (c.carrier && c.carrier !== 'header');
      const own = needsOwn
        ? await startGate(driver, {
            jwks: server,
            clock,
            options: c.options?.({ clock, jwks: server }),
            ...(c.carrier && c.carrier !== 'header' && { carrier: c.carrier }),
          })
        : undefined;
      const gate = own ?? fixture.gate;
      gate.clock.set(NOW);
      try {
        const env: AttackEnv = { clock: gate.clock, jwks: server, gate };
        const token = await c.token(env);
        const reply = await gate.send(token, c.carrier);
        if (c.expect === 'accepted') expectAccepted(gate, reply);
        else expectRefused(gate, reply, c.expect);
        await c.after?.(env);
      } finally {
        await own?.close();
        await ownJwks?.close();
      }
    });
  });
}

/**
 * A key server publishing `published` and a gate for `driver`, started before and closed after
 * the surrounding describe block. Read `fixture.gate` / `fixture.jwks` inside tests.
 */
export function gateFixture(
  driver: Driver,
  published: { keys: object[] } = issuerJwks,
): { readonly jwks: JwksServer; readonly gate: GateServer } {
  const fixture = {} as { jwks: JwksServer; gate: GateServer };
  beforeAll(async () => {
    fixture.jwks = await startJwksServer(published);
    fixture.gate = await startGate(driver, { jwks: fixture.jwks });
  });
  afterAll(async () => {
    await fixture.gate?.close();
    await fixture.jwks?.close();
  });
  return fixture;
}

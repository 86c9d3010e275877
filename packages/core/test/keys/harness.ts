// Shared set-up for the key-source tests: a real loopback server, a fake clock, a capturing
// logger, and a way to wait for a background fetch to finish without sleeping.
import { generateKeyPairSync } from 'node:crypto';
import { afterEach } from 'vitest';
import { createRemoteJwks } from '../../src/keys/remote-jwks.js';
import type { RemoteJwks, RemoteJwksOptions } from '../../src/keys/remote-jwks.js';
import { createClock } from '@tokengate/test-fixtures/clock';
import type { FakeClock } from '@tokengate/test-fixtures/clock';
import { startJwksServer } from '@tokengate/test-fixtures/jwks-server';
import type { Handler, JwksServer, JwksServerOptions } from '@tokengate/test-fixtures/jwks-server';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import type { CapturingLogger } from '@tokengate/test-fixtures/logger';

export { JWKS_PATH, DISCOVERY_PATH } from '@tokengate/test-fixtures/jwks-server';

/** Hook calls in order: `fetch 200`, `fetch 304`, `error <message>`. */
export interface Events {
  readonly seen: string[];
  onFetch: NonNullable<RemoteJwksOptions['onFetch']>;
  onError: NonNullable<RemoteJwksOptions['onError']>;
  /** Resolves once `n` hook calls have happened in total and their fetch has settled. */
  settle(n: number): Promise<void>;
}

export function createEvents(): Events {
  const seen: string[] = [];
  const waiters: (() => void)[] = [];
  const push = (event: string): void => {
    seen.push(event);
    for (const wake of waiters.splice(0)) wake();
  };
  return {
    seen,
    onFetch: (info) => push(`fetch ${info.status}`),
    onError: (err) => push(`error ${err.message}`),
    async settle(n) {
      const deadline = setTimeout(() => {
        for (const wake of waiters.splice(0)) wake();
      }, 5000);
      try {
        while (seen.length < n) {
          const before = seen.length;
          await new Promise<void>((resolve) => waiters.push(resolve));
          if (seen.length === before) throw new Error(`waited 5 s for ${n} fetch events`);
        }
      } finally {
        clearTimeout(deadline);
      }
      // The hook runs inside the fetch; let its promise chain finish.
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

export interface Harness {
  server: JwksServer;
  clock: FakeClock;
  logger: CapturingLogger;
  events: Events;
  jwks: RemoteJwks;
}

const open: JwksServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** Starts a server (closed after the test). */
export async function serve(
  jwks: { keys: object[] },
  options: JwksServerOptions = {},
): Promise<JwksServer> {
  const server = await startJwksServer(jwks, options);
  open.push(server);
  return server;
}

/** A server publishing `jwks` and a cache for it on a fake clock; both closed after the test. */
export async function harness(
  jwks: { keys: object[] },
  options: RemoteJwksOptions & { server?: JwksServerOptions; uri?: string } = {},
): Promise<Harness> {
  const { server: serverOptions, uri, ...rest } = options;
  const server = await serve(jwks, serverOptions);
  const clock = createClock();
  const logger = createCapturingLogger();
  const events = createEvents();
  const jwksSource = createRemoteJwks(uri ?? server.url, {
    now: clock.now,
    logger,
    onFetch: events.onFetch,
    onError: events.onError,
    // No jitter: the plain doubling, so waits are exact (jitter has its own tests).
    random: () => 0,
    ...rest,
  });
  return { server, clock, logger, events, jwks: jwksSource };
}

/** A 1024-bit RSA public JWK (refused: RFC 7518 §3.3 wants 2048). */
export function weakRsaJwk(kid: string): object {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

/** A promise plus its resolver: holds a scripted response until the test releases it. */
export function gate(): { wait: Promise<void>; release: () => void } {
  let release!: () => void;
  const wait = new Promise<void>((resolve) => (release = resolve));
  return { wait, release };
}

/**
 * A scripted handler that answers normally, but only once the test calls `hold.release()`;
 * `received.wait` resolves when the request has arrived.
 */
export function heldResponse(): { handler: Handler; received: Gate; hold: Gate } {
  const received = gate();
  const hold = gate();
  const handler: Handler = async (_req, ctx) => {
    received.release();
    await hold.wait;
    return ctx.fallback();
  };
  return { handler, received, hold };
}

type Gate = ReturnType<typeof gate>;

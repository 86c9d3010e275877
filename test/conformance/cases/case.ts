// The shape of one conformance row: what it sets up, what it sends, what every adapter must answer.
import type { ReplayStore, VerificationErrorCode } from '@tokengate/core';
import type { FakeClock } from '@tokengate/test-fixtures/clock';
import type { JwksServer } from '@tokengate/test-fixtures/jwks-server';
import type { Identity } from '@tokengate/test-fixtures/tls';
import type { NeutralOptions, RouteName, RunningApp } from '../drivers.js';

/** What a case can touch: its own clock, key server and running app. */
export interface CaseEnv {
  clock: FakeClock;
  jwks: JwksServer;
  app: RunningApp;
  /** The second receiver of an `instances: 2` case (same options, its own replay store). */
  other?: RunningApp;
}

/** What `options` sees: one call per receiver. */
export interface OptionsEnv extends Omit<CaseEnv, 'app' | 'other'> {
  /** With `redis: true`: this receiver's replay store on the shared Redis (own connection). */
  replayStore?: ReplayStore;
}

/** One request. `headers` as an array is a raw header list, sent as is (repeats included). */
export interface Outgoing {
  route?: RouteName;
  headers?: Record<string, string> | string[];
  /** The credential sent, so the suite can check that no log record contains it. */
  secret?: string;
  /** Send to the second receiver (`instances: 2`). */
  to?: 'other';
  /** The TLS client certificate to present (`tls` cases). */
  certificate?: Identity;
  /**
   * The request target as sent, when it is not the route's path: an absolute-form URL, or a
   * path with a query. The log record must still name the route's path alone.
   */
  target?: string;
  /** The Host header lines to send instead of the app's own (raw: none, one or several). */
  hosts?: string[];
}

export interface Expected {
  status: number;
  /** The exact WWW-Authenticate header; absent when undefined. */
  challenge?: string;
  /** Other response headers that must be present, exactly. */
  headers?: Record<string, string>;
  body: unknown;
  /** Whether the route handler ran. */
  handled: boolean;
  /** The one rejection record (its request-specific fields are filled in by the suite). */
  log?: {
    code: VerificationErrorCode;
    kid?: string;
    alg?: string;
    iss?: string;
    /** The exact log reason, when it tells two rejections with one code apart. */
    reason?: string;
    /** The record's level. Default `info` for `token_missing`, `warn` for every other code. */
    level?: 'info' | 'warn' | 'error';
  };
}

/** The log fields a row may name besides the code. */
export type LogHints = Omit<NonNullable<Expected['log']>, 'code'>;

/**
 * One row. `Prepared` is what `before` hands to `request` (a request already sent once, a server
 * nonce): rows run one at a time, but nothing passes between steps outside these two calls.
 */
export interface Case<Prepared = unknown> {
  name: string;
  /** Verifier and gate options on top of the suite's defaults (called once per receiver). */
  options?: (env: OptionsEnv) => Partial<NeutralOptions>;
  /** Serve HTTPS and ask for a client certificate (mTLS). */
  tls?: boolean;
  /** The app rewrites `<prefix>/orders` to `/orders` before the gate; requests use the prefix. */
  rewritePrefix?: string;
  /** Start two receivers with the same options (`env.other`). */
  instances?: 2;
  /** Give each receiver a replay store on one shared redis-server (`env.replayStore`). */
  redis?: boolean;
  tokenFromCookie?: boolean;
  /** The framework's error handling upstream of tokengate (with `passErrors`, see drivers.ts). */
  upstreamErrorHandler?: boolean;
  /**
   * Runs before the request (warm caches, take the key server down, move the clock); what it
   * returns is `request`'s second argument. Method syntax on purpose: a `Case<string>` is then a
   * `Case` in the table.
   */
  before?(env: CaseEnv): Promise<Prepared>;
  request(env: CaseEnv, prepared: Prepared): Promise<Outgoing>;
  expect: Expected;
  /** Extra checks after the response (what the key server saw, say). */
  after?: (env: CaseEnv) => void;
}

/** A row whose `before` hands something to `request`: infers `Prepared` from `before`. */
export function preparedCase<Prepared>(c: Case<Prepared>): Case {
  return c;
}

/** The JSON body every route handler answers with. */
export function handlerBody(route: RouteName, sub: unknown, encrypted = false) {
  return { route, sub, encrypted };
}

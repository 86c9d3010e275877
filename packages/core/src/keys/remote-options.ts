// Options shared by the remote JWKS cache and discovery: validated once, at construction.
import { systemClock } from '../config/clock.js';
import type { CachedDocumentOptions } from './http/cached-document.js';
import type { Clock } from '../config/clock.js';
import { toSeconds } from '../config/duration.js';
import type { Duration } from '../config/duration.js';
import { stderrLogger, toLogger } from '../telemetry/log.js';
import type { LoggerOption } from '../telemetry/log.js';
import type { Logger } from '../telemetry/log.js';
import type { FetchLimits } from './http/fetch.js';
import type { FreshnessPolicy } from './http/http-cache.js';
import { BACKOFF_INITIAL } from './http/cached-document.js';
import type { FetchInfo } from './http/cached-document.js';
import { createEmitter } from '../telemetry/events.js';
import type { Emitter, EventSink } from '../telemetry/events.js';
import type { JwksStore } from './http/store.js';
import { booleanOption } from '../config/option-default.js';

/** Options of `createRemoteJwks` (and of discovery, which caches its metadata the same way). */
export interface RemoteJwksOptions {
  /** Clock in epoch seconds: drives freshness, cooldown and backoff. Default `systemClock`. */
  now?: Clock;
  /**
   * Receives one `error` record per failed fetch, and one `warn` per set with skipped keys.
   * Default: one JSON line on stderr; `false` logs nothing.
   */
  logger?: LoggerOption;
  /** Limit for one fetch, body included (a trickling server times out). Default 5 s. */
  timeout?: Duration;
  /** Largest accepted body in bytes, enforced while streaming. Default 512 KiB. */
  maxBodyBytes?: number;
  /**
   * An unknown `kid` forces at most one refresh per cooldown, plus conditional ones at most
   * every `cooldown / 15`; with a coordinating `store` (Redis), one refresh per cooldown for the
   * whole fleet. Also the longest wait between retries after failures. Default 30 s.
   */
  cooldown?: Duration;
  /**
   * How long a request waits for keys that are not at hand (cold cache, or a refresh for an
   * unknown `kid`); the fetch carries on in the background. Default 2 s.
   */
  maxWait?: Duration;
  /** Uniform randomness in [0, 1) for the retry jitter (tests pin it). Default `Math.random`. */
  random?: () => number;
  /** Lower bound for the lifetime the server gives. Default 30 s. */
  minTtl?: Duration;
  /** Upper bound for the lifetime the server gives. Default 24 h. */
  maxTtl?: Duration;
  /** Lifetime when the server sends no caching headers. Default 10 min. */
  defaultTtl?: Duration;
  /** How long past fresh the last good keys are served while the server fails. Default 24 h. */
  maxStale?: Duration;
  /** Keys read from one set; further keys are skipped (and logged). Default 100. */
  maxKeys?: number;
  /**
   * **Warning: lets anyone on the network path substitute signing keys.** Allows plain `http:`
   * for hosts other than loopback (127.0.0.0/8, ::1, localhost, which are always allowed).
   */
  allowInsecureHttp?: boolean;
  /** Called after every successful fetch (200 or 304). Exceptions are ignored. */
  onFetch?: (info: FetchInfo) => void;
  /** Called once per failed fetch, after it is logged. Exceptions are ignored. */
  onError?: (err: Error) => void;
  /**
   * Telemetry: `jwks.fetch`, `jwks.stale_served` and `jwks.recovered` (entering and leaving
   * stale-if-error), `kid.miss`, `cooldown.hit` (see `onEvent`).
   */
  onEvent?: EventSink;
  /**
   * Keeps each fetched document with its ETag, Last-Modified and freshness, so a cold process
   * starts with keys and revalidates with a 304. `createFileStore(dir)`, or any key-value store.
   * A store with `acquire`/`release` (`createRedisJwksStore` of `@tokengate/redis`) also
   * coordinates a fleet: one fetch at a time per document, the unknown-`kid` budget fleet-wide.
   */
  store?: JwksStore;
}

/** Options after validation, in seconds. */
export interface RemoteSettings {
  now: Clock;
  logger: Logger;
  limits: FetchLimits;
  policy: FreshnessPolicy;
  cooldown: number;
  maxStale: number;
  /** Seconds (real time) a request waits for keys not at hand. */
  maxWait: number;
  /** Cap of the retry backoff (seconds, before jitter): the cooldown, at least 1 s. */
  backoffMax: number;
  random: () => number;
  maxKeys: number;
  allowInsecureHttp: boolean;
  onFetch: ((info: FetchInfo) => void) | undefined;
  onError: ((err: Error) => void) | undefined;
  events: Emitter;
  /** The caller's own sink, kept so a shared cache can fan events out to every caller. */
  onEvent: EventSink | undefined;
  store: JwksStore | undefined;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`"${name}" must be a positive integer`);
  }
  return value;
}

function hookOrUndefined<F>(value: F | undefined, name: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`"${name}" must be a function`);
  }
  return value;
}

function checkStore(store: JwksStore | undefined): JwksStore | undefined {
  if (
    store !== undefined &&
    (typeof store !== 'object' ||
      store === null ||
      typeof store.get !== 'function' ||
      typeof store.set !== 'function')
  ) {
    throw new TypeError('"store" must have get(key) and set(key, value, ttlSeconds)');
  }
  // One without the other would coordinate nothing, or take locks nobody releases.
  if (store !== undefined && (store.acquire === undefined) !== (store.release === undefined)) {
    throw new TypeError(
      '"store" coordinates a fleet only with both acquire(key, ttlMs) and release(key, token)',
    );
  }
  return store;
}

/** Validates the options; every mistake is a TypeError naming the option. */
export function toRemoteSettings(options: RemoteJwksOptions): RemoteSettings {
  const seconds = (value: Duration | undefined, fallback: number, name: string): number =>
    value === undefined ? fallback : toSeconds(value, name);
  const cooldown = seconds(options.cooldown, 30, 'cooldown');
  const minTtl = seconds(options.minTtl, 30, 'minTtl');
  const maxTtl = seconds(options.maxTtl, 86_400, 'maxTtl');
  const timeout = seconds(options.timeout, 5, 'timeout');
  // A cooldown under a second would let an unknown-kid flood refresh almost without a bound.
  if (cooldown < 1) throw new TypeError('"cooldown" must be at least 1 s');
  if (minTtl > maxTtl) throw new TypeError('"minTtl" must not be greater than "maxTtl"');
  if (timeout <= 0) throw new TypeError('"timeout" must be greater than zero');
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw new TypeError('"now" must be a function returning epoch seconds');
  }
  if (options.random !== undefined && typeof options.random !== 'function') {
    throw new TypeError('"random" must be a function returning a number in [0, 1)');
  }
  return {
    now: options.now ?? systemClock,
    logger: toLogger(options.logger, stderrLogger),
    limits: {
      timeoutMs: Math.ceil(timeout * 1000),
      maxBodyBytes: positiveInteger(options.maxBodyBytes, 512 * 1024, 'maxBodyBytes'),
      maxRedirects: 2,
    },
    policy: {
      minTtl,
      maxTtl,
      defaultTtl: seconds(options.defaultTtl, 600, 'defaultTtl'),
      noCacheTtl: cooldown,
    },
    cooldown,
    maxStale: seconds(options.maxStale, 86_400, 'maxStale'),
    maxWait: seconds(options.maxWait, 2, 'maxWait'),
    backoffMax: Math.max(BACKOFF_INITIAL, cooldown),
    random: options.random ?? Math.random,
    maxKeys: positiveInteger(options.maxKeys, 100, 'maxKeys'),
    allowInsecureHttp: booleanOption(options.allowInsecureHttp, false, 'allowInsecureHttp'),
    onFetch: hookOrUndefined(options.onFetch, 'onFetch'),
    onError: hookOrUndefined(options.onError, 'onError'),
    events: createEmitter(options.onEvent),
    onEvent: options.onEvent,
    store: checkStore(options.store),
  };
}

/**
 * The cached-document settings of one remote document (a JWKS or issuer metadata): the remote
 * settings, plus what the document itself names.
 */
export function documentOptions<T>(
  settings: RemoteSettings,
  own: Pick<CachedDocumentOptions<T>, 'urls' | 'event' | 'parse' | 'storeKey'>,
): CachedDocumentOptions<T> {
  return {
    ...own,
    now: settings.now,
    logger: settings.logger,
    limits: settings.limits,
    policy: settings.policy,
    maxStale: settings.maxStale,
    backoffMax: settings.backoffMax,
    random: settings.random,
    maxWait: settings.maxWait,
    onFetch: settings.onFetch,
    onError: settings.onError,
    events: settings.events,
    store: settings.store,
    cooldown: settings.cooldown,
  };
}

// One cached HTTP JSON document (a JWKS, or issuer metadata): conditional requests, freshness,
// single flight, stale-if-error and backoff. What the document means is the caller's `parse`.
import type { Clock } from '../../config/clock.js';
import { VerificationError } from '../../errors.js';
import type { Logger } from '../../telemetry/log.js';
import { FetchFailed, fetchJson, loggableUrl } from './fetch.js';
import type { FetchLimits } from './fetch.js';
import { toFreshness } from './http-cache.js';
import type { FreshnessPolicy, FreshnessSource } from './http-cache.js';
import type { Emitter } from '../../telemetry/events.js';
import { isStoredDocument } from './store.js';
import type { JwksStore, StoredDocument } from './store.js';

/** The first retry after a failure waits up to this long (seconds); each failure doubles it. */
export const BACKOFF_INITIAL = 1;

/**
 * Seconds to wait before the next try after `failures` consecutive failures: doubling from
 * `BACKOFF_INITIAL`, capped at `cap`, then scaled by a random factor in (0.5, 1] ("equal
 * jitter"), so a fleet that failed together does not retry in lockstep. `random() = 0` gives
 * the plain doubling.
 */
export function backoffDelay(failures: number, cap: number, random: () => number): number {
  const base = Math.min(cap, BACKOFF_INITIAL * 2 ** Math.max(0, failures - 1));
  const r = random();
  const jitter = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return base * (1 - jitter / 2);
}

const TIMED_OUT = Symbol('timed out');

/**
 * Waits for `promise` at most `seconds` (real time), then gives up with `TIMED_OUT`; the work
 * itself carries on. A rejection after the deadline is swallowed (the caller is gone).
 */
export function waitAtMost<T>(promise: Promise<T>, seconds: number): Promise<T | typeof TIMED_OUT> {
  if (!Number.isFinite(seconds)) return promise;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, seconds * 1000, TIMED_OUT);
    timer.unref?.();
  });
  promise.catch(() => {});
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** True when `waitAtMost` gave up. */
export const timedOut = (value: unknown): value is typeof TIMED_OUT => value === TIMED_OUT;

/** One successful fetch, as the `onFetch` hook sees it. */
export interface FetchInfo {
  /** The URL requested (before same-origin redirects; query string removed). */
  uri: string;
  status: 200 | 304;
  /** True when the document changed (a 200 with other bytes than before). */
  changed: boolean;
  fetchedAt: number;
  freshUntil: number;
  /** Where the freshness lifetime came from. */
  freshness: FreshnessSource;
}

/** Where the document stands, as `status()` reports it. */
export type ResourceState = 'cold' | 'fresh' | 'stale' | 'expired';

/** What the cache counts, as `status()` reports it. */
export interface ResourceCounters {
  /** HTTP requests made (each try counts once). */
  fetches: number;
  /** `304 Not Modified` answers. */
  notModified: number;
  /** Failed fetches, in total and since the last success. */
  failures: number;
  consecutiveFailures: number;
  /** No fetch before this time (backoff after a failure). */
  retryAt: number | undefined;
  lastError: LastError | undefined;
}

/** A document held by the cache. */
export interface Entry<T> {
  readonly value: T;
  /** The document as received (kept for the persistent store). */
  readonly body: unknown;
  readonly url: URL;
  readonly digest: string;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
  readonly fetchedAt: number;
  readonly freshUntil: number;
}

/** The last failure, as `status()` reports it. */
export interface LastError {
  message: string;
  status?: number;
  at: number;
}

export interface ResourceOptions<T> {
  /** Tried in order while the server answers 4xx (discovery's two well-known paths). */
  urls: readonly URL[];
  /** `event` of the failure log record, e.g. `jwks_fetch_failed`. */
  event: string;
  now: Clock;
  logger: Logger;
  limits: FetchLimits;
  policy: FreshnessPolicy;
  /** How long past `freshUntil` a document may still be served when refreshing fails. */
  maxStale: number;
  /** The longest wait between retries after failures (seconds, before jitter). */
  backoffMax: number;
  /** Uniform in [0, 1): the backoff jitter (injectable for tests). */
  random: () => number;
  /** How long `ready()` waits for a fetch when nothing is servable (seconds, real time). */
  maxWait: number;
  /** Turns a new body into the cached value; throws an Error with a safe message to refuse it. */
  parse(body: unknown, url: URL): T;
  onFetch?: ((info: FetchInfo) => void) | undefined;
  onError?: ((err: Error) => void) | undefined;
  events: Emitter;
  /** Where the document survives restarts, under `storeKey`. */
  store?: JwksStore | undefined;
  storeKey: string;
}

export interface Resource<T> {
  /** The newest document, however old. */
  entry(): Entry<T> | undefined;
  /** The document when it may still be served (at most `maxStale` past fresh). */
  usable(): Entry<T> | undefined;
  /** True while a fetch is in flight. */
  readonly loading: boolean;
  /** False while backing off after a failure. */
  mayFetch(): boolean;
  /** Fetches now, or joins the fetch in flight. Rejects with the failure (already logged). */
  load(): Promise<Entry<T>>;
  /** The last failure itself (for `cause`), cleared by the next success. */
  failure(): Error | undefined;
  /** Starts one background fetch when the document is stale and no backoff applies. */
  revalidateIfStale(): void;
  /**
   * Synchronous: the document when one may be served now (revalidating it in the background when
   * stale), else undefined. The hot path of `ready()`.
   */
  servable(): Entry<T> | undefined;
  /**
   * A servable document: at once when one is held (revalidating it in the background when
   * stale), else after a fetch. Rejects with `jwks_unavailable`, without fetching while
   * backing off, and when the fetch takes longer than `maxWait` (it carries on).
   */
  ready(): Promise<Entry<T>>;
  /**
   * Like `ready()`, but a stale document is revalidated first (stale-if-error still applies),
   * and the fetch is awaited to its end (bounded by the fetch timeout, not `maxWait`).
   */
  refresh(): Promise<Entry<T>>;
  counters(): ResourceCounters;
  /** `cold`: never loaded; `stale`: past fresh, still served; `expired`: past `maxStale`. */
  state(): ResourceState;
}

/** Creates the cache for one document. Nothing is fetched until asked. */
export function createResource<T>(options: ResourceOptions<T>): Resource<T> {
  let current: Entry<T> | undefined;
  let inflight: Promise<Entry<T>> | undefined;
  let fetches = 0;
  let notModified = 0;
  let failures = 0;
  let consecutiveFailures = 0;
  let retryAt: number | undefined;
  let lastError: LastError | undefined;
  let lastUrl = options.urls[0]!;
  let failure: Error | undefined;
  let restored = false;
  let startedMs = 0;
  // Set while a held document is served past its freshness because refreshing it failed: the
  // telemetry reports entering and leaving that state, not every request served in it.
  let staleSince: number | undefined;

  // A cold cache first looks in the store: a document from a previous process is served while
  // fresh, and otherwise revalidated with its validators (a 304 instead of a full download).
  async function restore(): Promise<void> {
    restored = true;
    if (!options.store) return;
    try {
      const stored = await options.store.get(options.storeKey);
      if (!isStoredDocument(stored) || current) return;
      const url = options.urls.find((u) => u.href === stored.url);
      if (!url) return;
      const { body, digest, etag, lastModified, fetchedAt, freshUntil } = stored;
      current = {
        value: options.parse(body, url),
        body,
        url,
        digest,
        etag,
        lastModified,
        fetchedAt,
        freshUntil,
      };
    } catch (err) {
      options.logger.warn(
        { event: 'jwks_store_failed', op: 'get', reason: (err as Error).message },
        'key store read failed',
      );
    }
  }

  function save(entry: Entry<T>): void {
    if (!options.store) return;
    const ttl = Math.max(1, Math.ceil(entry.freshUntil + options.maxStale - options.now()));
    const { url, body, digest, etag, lastModified, fetchedAt, freshUntil } = entry;
    const record: StoredDocument = {
      url: url.href,
      body,
      digest,
      etag,
      lastModified,
      fetchedAt,
      freshUntil,
    };
    Promise.resolve()
      .then(() => options.store!.set(options.storeKey, record, ttl))
      .catch((err: unknown) => {
        options.logger.warn(
          { event: 'jwks_store_failed', op: 'set', reason: (err as Error).message },
          'key store write failed',
        );
      });
  }

  function emitFetch(url: URL, status: 200 | 304 | 'error'): void {
    if (options.events.active()) {
      options.events.emit({
        type: 'jwks.fetch',
        uri: loggableUrl(url),
        status,
        durationMs: performance.now() - startedMs,
      });
    }
  }

  function hook<A>(fn: ((arg: A) => void) | undefined, arg: A): void {
    try {
      fn?.(arg);
    } catch {
      // A throwing hook must not break key loading.
    }
  }

  async function attempt(): Promise<Entry<T>> {
    if (!restored) {
      await restore();
      if (current && options.now() < current.freshUntil) return current;
    }
    // Revalidate where the document came from; otherwise try the well-known URLs in order.
    const urls = current ? [current.url] : options.urls;
    const conditional: Record<string, string> = {};
    if (current?.etag !== undefined) conditional['if-none-match'] = current.etag;
    if (current?.lastModified !== undefined)
      conditional['if-modified-since'] = current.lastModified;
    for (let i = 0; ; i++) {
      const url = urls[i]!;
      lastUrl = url;
      fetches++;
      startedMs = performance.now();
      let res;
      try {
        res = await fetchJson(url, conditional, options.limits);
      } catch (err) {
        const next = i + 1 < urls.length;
        if (next && err instanceof FetchFailed && err.status !== undefined && err.status < 500) {
          continue;
        }
        throw err;
      }
      const now = options.now();
      const fresh = toFreshness(res.headers, now, options.policy);
      const base = { url, fetchedAt: now, freshUntil: fresh.freshUntil };
      let changed = false;
      if (res.status === 304) {
        if (!current) throw new FetchFailed('304 without a cached document', { status: 304 });
        notModified++;
        // RFC 9111 §4.3.4: a 304 updates the stored validators it carries.
        current = {
          ...current,
          ...base,
          etag: fresh.etag ?? current.etag,
          lastModified: fresh.lastModified ?? current.lastModified,
        };
      } else {
        const digest = res.digest!;
        changed = current?.digest !== digest;
        // The same bytes again keep the same value, so imported keys stay the same objects.
        const value = changed ? options.parse(res.body, res.url) : current!.value;
        current = {
          value,
          body: res.body,
          digest,
          etag: fresh.etag,
          lastModified: fresh.lastModified,
          ...base,
        };
      }
      consecutiveFailures = 0;
      retryAt = undefined;
      failure = undefined;
      save(current);
      emitFetch(url, res.status);
      if (staleSince !== undefined) {
        if (options.events.active()) {
          options.events.emit({
            type: 'jwks.recovered',
            uri: loggableUrl(url),
            staleSeconds: now - staleSince,
          });
        }
        staleSince = undefined;
      }
      hook(options.onFetch, {
        uri: loggableUrl(url),
        status: res.status,
        changed,
        fetchedAt: now,
        freshUntil: current.freshUntil,
        freshness: fresh.source,
      });
      return current;
    }
  }

  function fail(err: unknown): never {
    const error = err instanceof Error ? err : new Error(String(err));
    const now = options.now();
    failure = error;
    failures++;
    consecutiveFailures++;
    const wait = backoffDelay(consecutiveFailures, options.backoffMax, options.random);
    retryAt = now + wait;
    const status = err instanceof FetchFailed ? err.status : undefined;
    lastError = { message: error.message, at: now, ...(status === undefined ? {} : { status }) };
    options.logger.error(
      {
        event: options.event,
        uri: loggableUrl(lastUrl),
        reason: error.message,
        ...(status === undefined ? {} : { status }),
        consecutiveFailures,
        retryInSeconds: wait,
        servingStale: resource.usable() !== undefined,
      },
      'key server fetch failed',
    );
    emitFetch(lastUrl, 'error');
    noteStale(now);
    hook(options.onError, error);
    throw error;
  }

  // Entering "stale": past fresh, still served, and the last refresh failed. Reported once per
  // episode (the ordinary stale-while-revalidate moment before a 304 is not an episode).
  function noteStale(now: number): void {
    if (staleSince !== undefined || consecutiveFailures === 0) return;
    const entry = resource.usable();
    if (!entry || now < entry.freshUntil) return;
    staleSince = now;
    if (options.events.active()) {
      options.events.emit({
        type: 'jwks.stale_served',
        uri: loggableUrl(entry.url),
        ageSeconds: now - entry.fetchedAt,
      });
    }
  }

  const unavailable = (reason: string): VerificationError =>
    new VerificationError('jwks_unavailable', { cause: failure, reason });

  // Cold, or older than maxStale: the caller has to wait for the key server (at most
  // `maxSeconds`; the fetch itself carries on for the next caller).
  async function waitForLoad(maxSeconds: number): Promise<Entry<T>> {
    if (!inflight && !resource.mayFetch())
      throw unavailable('the key server is backing off after failures');
    try {
      if (timedOut(await waitAtMost(resource.load(), maxSeconds))) {
        throw unavailable('the key server is slow; still fetching');
      }
    } catch (err) {
      if (err instanceof VerificationError) throw err;
      throw unavailable('the key server fetch failed');
    }
    const loaded = resource.usable();
    if (!loaded) throw unavailable('no usable document is cached');
    return loaded;
  }

  const resource: Resource<T> = {
    entry: () => current,
    usable: () =>
      current && options.now() <= current.freshUntil + options.maxStale ? current : undefined,
    get loading() {
      return inflight !== undefined;
    },
    failure: () => failure,
    mayFetch: () => retryAt === undefined || options.now() >= retryAt,
    load() {
      // Single flight: every caller shares the one request in flight.
      inflight ??= attempt()
        .catch(fail)
        .finally(() => {
          inflight = undefined;
        });
      return inflight;
    },
    revalidateIfStale() {
      if (!current || inflight || options.now() < current.freshUntil || !resource.mayFetch())
        return;
      // Already logged and counted in fail(); a background refresh never rejects unhandled.
      resource.load().catch(() => {});
    },
    servable() {
      const entry = resource.usable();
      if (!entry) return undefined;
      // A refresh that failed while the document was fresh makes it stale only from now.
      if (consecutiveFailures > 0 && staleSince === undefined) noteStale(options.now());
      resource.revalidateIfStale();
      return entry;
    },
    async ready() {
      return resource.servable() ?? waitForLoad(options.maxWait);
    },
    async refresh() {
      const entry = resource.usable();
      if (entry && options.now() < entry.freshUntil) return entry;
      return waitForLoad(Infinity).catch((err: unknown) => {
        const stale = resource.usable();
        if (stale) return stale;
        throw err;
      });
    },
    state() {
      if (!current) return 'cold';
      if (options.now() < current.freshUntil) return 'fresh';
      return resource.usable() ? 'stale' : 'expired';
    },
    counters: () => ({
      fetches,
      notModified,
      failures,
      consecutiveFailures,
      retryAt,
      lastError,
    }),
  };
  return resource;
}

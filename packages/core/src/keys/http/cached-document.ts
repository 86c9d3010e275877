// One cached HTTP JSON document (a JWKS, or issuer metadata): conditional requests, freshness,
// single flight, stale-if-error and backoff. What the document means is the caller's `parse`.
import type { Clock } from '../../config/clock.js';
import { VerificationError } from '../../errors.js';
import type { Logger } from '../../telemetry/log.js';
import { FetchFailed, fetchJson, loggableUrl } from './fetch.js';
import type { FetchLimits, FetchedJson } from './fetch.js';
import { toFreshness } from './http-cache.js';
import type { FreshnessPolicy, FreshnessSource } from './http-cache.js';
import type { Emitter } from '../../telemetry/events.js';
import { isCoordinating, isStoredDocument } from './store.js';
import type { JwksStore, StoredDocument } from './store.js';
import { loadThroughFleet, storeHealthOf } from './fleet.js';
import type { FetchReason, FleetOptions, StoreHealth } from './fleet.js';
import { timedOut, waitAtMost } from './wait.js';

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

export { timedOut, waitAtMost };

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
export type DocumentState = 'cold' | 'fresh' | 'stale' | 'expired';

/** What the cache counts, as `status()` reports it. */
export interface DocumentCounters {
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

export interface CachedDocumentOptions<T> {
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
  /**
   * Where the document survives restarts, under `storeKey`. A store with `acquire`/`release`
   * also coordinates a fleet (`fleet.ts`).
   */
  store?: JwksStore | undefined;
  storeKey: string;
  /** The unknown-`kid` refresh window (seconds): fleet-wide when the store coordinates. */
  cooldown: number;
}

/**
 * One cached document (a JWKS, or issuer metadata). Its state, by the age of the document held
 * (`now` against `freshUntil` and `maxStale`), and what each accessor answers in it:
 *
 * | state     | held      | unexpired | servableNow                          | whenServable / revalidateNow |
 * | --------- | --------- | --------- | ------------------------------------ | ---------------------------- |
 * | `cold`    | undefined | undefined | undefined                            | fetches (waits)              |
 * | `fresh`   | document  | document  | document                             | document / document          |
 * | `stale`   | document  | document  | document, revalidated in background  | document / fetches first     |
 * | `expired` | document  | undefined | undefined                            | fetches (waits)              |
 *
 * Across every state: `fetching` (a fetch is in flight), `backoffOver()` (no backoff forbids a
 * fetch), `lastFailure()` (the failure since the last success).
 */
export interface CachedDocument<T> {
  /** The newest document, however old (any state but `cold`). */
  held(): Entry<T> | undefined;
  /** The document when it may still be served: `fresh` or `stale` (at most `maxStale` past fresh). */
  unexpired(): Entry<T> | undefined;
  /** True while a fetch is in flight. */
  readonly fetching: boolean;
  /** False while backing off after a failure. */
  backoffOver(): boolean;
  /**
   * Fetches now, or joins the fetch in flight. Rejects with the failure (already logged).
   * `forced` (an unknown `kid`): in a fleet, only a copy newer than the one held will do, and a
   * request spends the fleet-wide budget; when it is spent, resolves the document held.
   */
  fetchNow(reason?: FetchReason): Promise<Entry<T>>;
  /** The last failure itself (for `cause`), cleared by the next success. */
  lastFailure(): Error | undefined;
  /** Starts one background fetch when the document is stale and no backoff applies. */
  revalidateIfStale(): void;
  /**
   * Synchronous: the document when one may be served now (revalidating it in the background when
   * stale), else undefined. The hot path of `whenServable()`.
   */
  servableNow(): Entry<T> | undefined;
  /**
   * A servable document: at once when one is held (revalidating it in the background when
   * stale), else after a fetch. Rejects with `jwks_unavailable`, without fetching while
   * backing off, and when the fetch takes longer than `maxWait` (it carries on).
   */
  whenServable(): Promise<Entry<T>>;
  /**
   * Like `whenServable()`, but a stale document is revalidated first (stale-if-error still applies),
   * and the fetch is awaited to its end (bounded by the fetch timeout, not `maxWait`).
   */
  revalidateNow(): Promise<Entry<T>>;
  counters(): DocumentCounters;
  /** `cold`: never loaded; `stale`: past fresh, still served; `expired`: past `maxStale`. */
  state(): DocumentState;
}

/** The document after a response, and what the `onFetch` hook reports about it. */
export interface Merged<T> {
  entry: Entry<T>;
  changed: boolean;
  freshness: FreshnessSource;
}

/**
 * Pure: the document after a `200` or `304` for `url`, from the one held (`current`). A 304
 * keeps the body and value and updates freshness and the validators it carries (RFC 9111
 * §4.3.4); a 200 with the same bytes keeps the same value (so imported keys stay the same
 * objects), and new bytes are parsed. A 304 with nothing held is a failed fetch.
 */
export function mergeResponse<T>(
  current: Entry<T> | undefined,
  res: FetchedJson,
  url: URL,
  now: number,
  policy: FreshnessPolicy,
  parse: (body: unknown, url: URL) => T,
): Merged<T> {
  const fresh = toFreshness(res.headers, now, policy);
  const base = { url, fetchedAt: now, freshUntil: fresh.freshUntil };
  if (res.status === 304) {
    if (!current) throw new FetchFailed('304 without a cached document', { status: 304 });
    const entry = {
      ...current,
      ...base,
      etag: fresh.etag ?? current.etag,
      lastModified: fresh.lastModified ?? current.lastModified,
    };
    return { entry, changed: false, freshness: fresh.source };
  }
  const digest = res.digest!;
  const changed = current?.digest !== digest;
  const value = changed ? parse(res.body, res.url) : current.value;
  const entry = {
    value,
    body: res.body,
    digest,
    etag: fresh.etag,
    lastModified: fresh.lastModified,
    ...base,
  };
  return { entry, changed, freshness: fresh.source };
}

/** Failures in a row and the time before which no fetch is made (`backoffDelay`). */
export interface Backoff {
  readonly total: number;
  readonly consecutive: number;
  readonly retryAt: number | undefined;
  /** False while backing off after a failure. */
  over(): boolean;
  /** As `status()` reports them. */
  counters(): Pick<DocumentCounters, 'failures' | 'consecutiveFailures' | 'retryAt'>;
  /** The last failure itself (for `cause`), cleared by the next success. */
  readonly failure: Error | undefined;
  /** The last failure as `status()` reports it (kept after a success). */
  readonly lastError: LastError | undefined;
  /** Counts a failure at `now`; returns the wait before the next try (seconds). */
  failed(now: number, error: Error): number;
  succeeded(): void;
}

/** The retry schedule of one document after failed fetches. */
export function createBackoff(
  options: Pick<CachedDocumentOptions<unknown>, 'now' | 'backoffMax' | 'random'>,
): Backoff {
  let total = 0;
  let consecutive = 0;
  let retryAt: number | undefined;
  let failure: Error | undefined;
  let lastError: LastError | undefined;
  return {
    get failure() {
      return failure;
    },
    get lastError() {
      return lastError;
    },
    get total() {
      return total;
    },
    get consecutive() {
      return consecutive;
    },
    get retryAt() {
      return retryAt;
    },
    over: () => retryAt === undefined || options.now() >= retryAt,
    counters: () => ({ failures: total, consecutiveFailures: consecutive, retryAt }),
    failed(now, error) {
      failure = error;
      const status = error instanceof FetchFailed ? error.status : undefined;
      lastError = { message: error.message, at: now, ...(status === undefined ? {} : { status }) };
      total++;
      consecutive++;
      const wait = backoffDelay(consecutive, options.backoffMax, options.random);
      retryAt = now + wait;
      return wait;
    },
    succeeded() {
      failure = undefined;
      consecutive = 0;
      retryAt = undefined;
    },
  };
}

/** A value read from the store as an entry, or undefined (not a document, or another URL's). */
function entryFromStored<T>(
  options: CachedDocumentOptions<T>,
  stored: unknown,
  held: Entry<T> | undefined,
): Entry<T> | undefined {
  if (!isStoredDocument(stored)) return undefined;
  const url = options.urls.find((u) => u.href === stored.url);
  if (!url) return undefined;
  const { body, digest, etag, lastModified, fetchedAt, freshUntil } = stored;
  // The same bytes keep the same value, so imported keys stay the same objects.
  const value = held?.digest === digest ? held.value : options.parse(body, url);
  return { value, body, url, digest, etag, lastModified, fetchedAt, freshUntil };
}

// A cold cache first looks in the store: a document from a previous process is served while
// fresh, and otherwise revalidated with its validators (a 304 instead of a full download).
async function restoreFromStore<T>(
  options: CachedDocumentOptions<T>,
  held: () => boolean,
): Promise<Entry<T> | undefined> {
  if (!options.store) return undefined;
  try {
    const stored = await options.store.get(options.storeKey);
    // A fetch that finished while the store answered wins over the stored document.
    return held() ? undefined : entryFromStored(options, stored, undefined);
  } catch (err) {
    options.logger.warn(
      { event: 'jwks_store_failed', op: 'get', reason: (err as Error).message },
      'key store read failed',
    );
    return undefined;
  }
}

/**
 * Writes the document to the store. A plain store is written in the background (a failure is
 * one warning); a fleet's store is awaited, so the others find the result before the lock is
 * released (a failure counts towards the outage, `health`).
 */
function saveToStore<T>(
  options: CachedDocumentOptions<T>,
  entry: Entry<T>,
  health: StoreHealth | undefined,
): Promise<void> {
  const store = options.store;
  if (!store) return Promise.resolve();
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
  const write = Promise.resolve().then(() => store.set(options.storeKey, record, ttl));
  if (health) {
    return waitAtMost(write, options.limits.timeoutMs / 1000).then(
      (outcome) =>
        timedOut(outcome)
          ? health.failed(new Error('the store did not answer in time'))
          : health.succeeded(),
      (err: unknown) => health.failed(err),
    );
  }
  write.catch((err: unknown) => {
    options.logger.warn(
      { event: 'jwks_store_failed', op: 'set', reason: (err as Error).message },
      'key store write failed',
    );
  });
  return Promise.resolve();
}

function callHook<A>(fn: ((arg: A) => void) | undefined, arg: A): void {
  try {
    fn?.(arg);
  } catch {
    // A throwing hook must not break key loading.
  }
}

/** Conditional request headers from the validators of the document held (RFC 9110 §13.1). */
function validatorsOf(current: Entry<unknown> | undefined): Record<string, string> {
  const conditional: Record<string, string> = {};
  if (current?.etag !== undefined) conditional['if-none-match'] = current.etag;
  if (current?.lastModified !== undefined) conditional['if-modified-since'] = current.lastModified;
  return conditional;
}

/** The `jwks.*` events of one document: fetches, and entering and leaving a stale episode. */
interface DocumentTelemetry {
  /** True while a held document is served past its freshness because refreshing it failed. */
  readonly stale: boolean;
  /** A request is starting (its duration is measured from here). */
  started(): void;
  fetched(url: URL, status: 200 | 304 | 'error'): void;
  /**
   * Entering "stale": past fresh, still served, and the last refresh failed (`failing`). Reported
   * once per episode (the ordinary stale-while-revalidate moment before a 304 is not an episode).
   */
  staleIfFailing(entry: Entry<unknown> | undefined, now: number, failing: boolean): void;
  /** Leaving "stale": reported once, when a refresh succeeds again. */
  recovered(url: URL, now: number): void;
}

function createDocumentTelemetry(events: Emitter): DocumentTelemetry {
  let startedMs = 0;
  // Reported on entering and leaving the stale state, not for every request served in it.
  let staleSince: number | undefined;
  return {
    get stale() {
      return staleSince !== undefined;
    },
    started() {
      startedMs = performance.now();
    },
    fetched(url, status) {
      if (events.active()) {
        events.emit({
          type: 'jwks.fetch',
          uri: loggableUrl(url),
          status,
          durationMs: performance.now() - startedMs,
        });
      }
    },
    staleIfFailing(entry, now, failing) {
      if (staleSince !== undefined || !failing) return;
      if (!entry || now < entry.freshUntil) return;
      staleSince = now;
      if (events.active()) {
        events.emit({
          type: 'jwks.stale_served',
          uri: loggableUrl(entry.url),
          ageSeconds: now - entry.fetchedAt,
        });
      }
    },
    recovered(url, now) {
      if (staleSince === undefined) return;
      if (events.active()) {
        events.emit({
          type: 'jwks.recovered',
          uri: loggableUrl(url),
          staleSeconds: now - staleSince,
        });
      }
      staleSince = undefined;
    },
  };
}

// Cold, or older than maxStale: the caller has to wait for the key server (at most
// `maxSeconds`; the fetch itself carries on for the next caller).
async function waitForLoad<T>(
  resource: FetchingDocument<T>,
  maxSeconds: number,
): Promise<Entry<T>> {
  const unavailable = (reason: string): VerificationError =>
    new VerificationError('jwks_unavailable', { cause: resource.lastFailure(), reason });
  if (!resource.fetching && !resource.backoffOver())
    throw unavailable('the key server is backing off after failures');
  try {
    if (timedOut(await waitAtMost(resource.fetchNow(), maxSeconds))) {
      throw unavailable('the key server is slow; still fetching');
    }
  } catch (err) {
    if (err instanceof VerificationError) throw err;
    throw unavailable('the key server fetch failed');
  }
  const loaded = resource.unexpired();
  if (!loaded) throw unavailable('no usable document is cached');
  return loaded;
}

// The URLs to try, in order, until one answers other than 4xx (discovery's two paths).
async function fetchFirst(
  urls: readonly URL[],
  conditional: Record<string, string>,
  limits: FetchLimits,
  onTry: (url: URL) => void,
): Promise<{ url: URL; res: FetchedJson }> {
  for (let i = 0; ; i++) {
    const url = urls[i]!;
    onTry(url);
    try {
      return { url, res: await fetchJson(url, conditional, limits) };
    } catch (err) {
      const next = i + 1 < urls.length;
      if (next && err instanceof FetchFailed && err.status !== undefined && err.status < 500) {
        continue;
      }
      throw err;
    }
  }
}

/** What the `onFetch` hook is told about one successful fetch. */
function fetchInfo(url: URL, status: 200 | 304, merged: Merged<unknown>, now: number): FetchInfo {
  return {
    uri: loggableUrl(url),
    status,
    changed: merged.changed,
    fetchedAt: now,
    freshUntil: merged.entry.freshUntil,
    freshness: merged.freshness,
  };
}

/** The one log record of a failed fetch (the URL without its query). */
function logFailure(
  options: Pick<CachedDocumentOptions<unknown>, 'logger' | 'event'>,
  url: URL,
  error: LastError,
  backoff: { consecutiveFailures: number; retryInSeconds: number; servingStale: boolean },
): void {
  options.logger.error(
    {
      event: options.event,
      uri: loggableUrl(url),
      reason: error.message,
      ...(error.status === undefined ? {} : { status: error.status }),
      ...backoff,
    },
    'key server fetch failed',
  );
}

/** The state of the document held at `now` (see the table on `CachedDocument`). */
function stateOf(
  current: Entry<unknown> | undefined,
  now: number,
  unexpired: () => boolean,
): DocumentState {
  if (!current) return 'cold';
  if (now < current.freshUntil) return 'fresh';
  return unexpired() ? 'stale' : 'expired';
}

/** The accessors that fetch and report; `withServing` adds those that serve. */
type FetchingDocument<T> = Omit<
  CachedDocument<T>,
  'revalidateIfStale' | 'servableNow' | 'whenServable' | 'revalidateNow'
>;

/**
 * Adds the serving accessors (stale-while-revalidate, the bounded wait) on top of fetching.
 * `noteFailedRefresh` reports a stale episode that began while the document was still fresh.
 */
function withServing<T>(
  doc: FetchingDocument<T>,
  options: Pick<CachedDocumentOptions<T>, 'now' | 'maxWait'>,
  noteFailedRefresh: () => void,
): CachedDocument<T> {
  const resource: CachedDocument<T> = {
    held: () => doc.held(),
    unexpired: () => doc.unexpired(),
    get fetching() {
      return doc.fetching;
    },
    lastFailure: () => doc.lastFailure(),
    backoffOver: () => doc.backoffOver(),
    fetchNow: (reason) => doc.fetchNow(reason),
    state: () => doc.state(),
    counters: () => doc.counters(),
    revalidateIfStale() {
      const current = doc.held();
      if (!current || doc.fetching || options.now() < current.freshUntil || !doc.backoffOver())
        return;
      // Already logged and counted in fail(); a background refresh never rejects unhandled.
      doc.fetchNow().catch(() => {});
    },
    servableNow() {
      const entry = doc.unexpired();
      if (!entry) return undefined;
      noteFailedRefresh();
      resource.revalidateIfStale();
      return entry;
    },
    async whenServable() {
      return resource.servableNow() ?? waitForLoad(doc, options.maxWait);
    },
    async revalidateNow() {
      const entry = doc.unexpired();
      if (entry && options.now() < entry.freshUntil) return entry;
      return waitForLoad(doc, Infinity).catch((err: unknown) => {
        const stale = doc.unexpired();
        if (stale) return stale;
        throw err;
      });
    },
  };
  return resource;
}

/** A store with `acquire`/`release` coordinates a fleet: every fetch then goes through it. */
function fleetOptionsOf<T>(
  options: CachedDocumentOptions<T>,
  held: () => Entry<T> | undefined,
): FleetOptions<Entry<T>> | undefined {
  const store = options.store;
  if (!isCoordinating(store)) return undefined;
  const timeout = options.limits.timeoutMs / 1000;
  return {
    store,
    storeKey: options.storeKey,
    now: options.now,
    cooldown: options.cooldown,
    timeout,
    // Half of maxWait: when the holder never writes back (it crashed), our own fetch still has
    // the other half, so a waiting request is not refused for it.
    maxWait: Math.min(options.maxWait / 2, timeout),
    health: storeHealthOf(store, options.logger, options.events),
    fromStored(value) {
      try {
        return entryFromStored(options, value, held());
      } catch {
        return undefined; // a stored body that does not parse counts as absent: fetched again
      }
    },
  };
}

/** One request to the key server and the document after it (`mergeResponse`). */
async function requestAndMerge<T>(
  options: CachedDocumentOptions<T>,
  current: Entry<T> | undefined,
  onTry: (url: URL) => void,
): Promise<{ url: URL; res: FetchedJson; merged: Merged<T>; now: number }> {
  // Revalidate where the document came from; otherwise try the well-known URLs in order.
  const urls = current ? [current.url] : options.urls;
  const { url, res } = await fetchFirst(urls, validatorsOf(current), options.limits, onTry);
  const now = options.now();
  const merged = mergeResponse(current, res, url, now, options.policy, (body, from) =>
    options.parse(body, from),
  );
  return { url, res, merged, now };
}

/** Creates the cache for one document. Nothing is fetched until asked. */
export function createCachedDocument<T>(options: CachedDocumentOptions<T>): CachedDocument<T> {
  let current: Entry<T> | undefined;
  let inflight: Promise<Entry<T>> | undefined;
  const counts = { fetches: 0, notModified: 0 };
  const backoff = createBackoff(options);
  let lastUrl = options.urls[0]!;
  let restored = false;
  const telemetry = createDocumentTelemetry(options.events);

  const fleet = fleetOptionsOf(options, () => current);

  async function attempt(reason: FetchReason): Promise<Entry<T>> {
    if (fleet) {
      const outcome = await loadThroughFleet(fleet, reason, current, fetchFromServer);
      if (outcome.kind === 'stored') {
        // Another receiver fetched it: as good as our own success.
        current = outcome.entry;
        backoff.succeeded();
      }
      return current!;
    }
    if (!restored) {
      restored = true;
      current = (await restoreFromStore(options, () => current !== undefined)) ?? current;
      if (current && options.now() < current.freshUntil) return current;
    }
    return fetchFromServer();
  }

  async function fetchFromServer(): Promise<Entry<T>> {
    const { url, res, merged, now } = await requestAndMerge(options, current, (tried) => {
      lastUrl = tried;
      counts.fetches++;
      telemetry.started();
    });
    if (res.status === 304) counts.notModified++;
    current = merged.entry;
    backoff.succeeded();
    await saveToStore(options, current, fleet?.health);
    telemetry.fetched(url, res.status);
    telemetry.recovered(url, now);
    callHook(options.onFetch, fetchInfo(url, res.status, merged, now));
    return current;
  }

  function fail(err: unknown): never {
    const error = err instanceof Error ? err : new Error(String(err));
    const now = options.now();
    const wait = backoff.failed(now, error);
    logFailure(options, lastUrl, backoff.lastError!, {
      consecutiveFailures: backoff.consecutive,
      retryInSeconds: wait,
      servingStale: resource.unexpired() !== undefined,
    });
    telemetry.fetched(lastUrl, 'error');
    noteStale(now);
    callHook(options.onError, error);
    throw error;
  }

  const noteStale = (now: number): void =>
    telemetry.staleIfFailing(resource.unexpired(), now, backoff.consecutive > 0);

  const resource: FetchingDocument<T> = {
    held: () => current,
    unexpired: () =>
      current && options.now() <= current.freshUntil + options.maxStale ? current : undefined,
    get fetching() {
      return inflight !== undefined;
    },
    lastFailure: () => backoff.failure,
    backoffOver: () => backoff.over(),
    fetchNow(reason = 'load') {
      // Single flight: every caller shares the one request in flight.
      inflight ??= attempt(reason)
        .catch(fail)
        .finally(() => {
          inflight = undefined;
        });
      return inflight;
    },
    state: () => stateOf(current, options.now(), () => resource.unexpired() !== undefined),
    counters: () => ({ ...counts, ...backoff.counters(), lastError: backoff.lastError }),
  };
  // A refresh that failed while the document was fresh makes it stale only from now.
  return withServing(resource, options, () => noteStale(options.now()));
}

// A fleet of receivers sharing one coordinating store (Redis): for each document at most one
// receiver fetches at a time, the others take its result from the store, and the unknown-`kid`
// refresh budget is spent once per cooldown for the whole fleet. The store is a coordinator,
// never a single point of failure: when it fails, each receiver fetches on its own.
import type { Clock } from '../../config/clock.js';
import type { Emitter } from '../../telemetry/events.js';
import type { Logger } from '../../telemetry/log.js';
import { timedOut, waitAtMost } from './wait.js';
import type { CoordinatingStore } from './store.js';

/**
 * Why a document is fetched: `load` (cold, or revalidation after max-age: a fresh copy in the
 * store will do) or `forced` (an unknown `kid`: only a copy newer than the one held will do,
 * and a new request spends the fleet-wide budget).
 */
export type FetchReason = 'load' | 'forced';

/** A store call that failed or timed out: the receiver falls back to fetching on its own. */
export class StoreUnavailable extends Error {}

/** The once-per-outage log of one store, shared by every document using it in this process. */
export interface StoreHealth {
  failed(err: unknown): void;
  succeeded(): void;
}

const healthByStore = new WeakMap<object, StoreHealth>();

/**
 * The health of `store` in this process: the first failure of an outage logs
 * `jwks_store_unavailable` (warn) and emits `jwks.store_unavailable`; the first success after
 * it logs `jwks_store_recovered` (info) and emits `jwks.store_recovered`. Nothing in between.
 */
export function storeHealthOf(store: object, logger: Logger, events: Emitter): StoreHealth {
  let health = healthByStore.get(store);
  if (health) return health;
  let downSince: number | undefined;
  health = {
    failed(err) {
      if (downSince !== undefined) return;
      downSince = performance.now();
      const reason = err instanceof Error ? err.message : String(err);
      try {
        logger.warn(
          { event: 'jwks_store_unavailable', reason },
          'key store unavailable: each receiver fetches keys on its own until it is back',
        );
      } catch {
        // A failing log transport must not fail key loading.
      }
      if (events.active()) events.emit({ type: 'jwks.store_unavailable', reason });
    },
    succeeded() {
      if (downSince === undefined) return;
      const downSeconds = (performance.now() - downSince) / 1000;
      downSince = undefined;
      try {
        (logger.info ?? logger.warn).call(
          logger,
          { event: 'jwks_store_recovered', downSeconds },
          'key store is back: the fleet shares key fetches again',
        );
      } catch {
        // A failing log transport must not fail key loading.
      }
      if (events.active()) events.emit({ type: 'jwks.store_recovered', downSeconds });
    },
  };
  healthByStore.set(store, health);
  return health;
}

/** What the fleet needs to know of a document: when it was fetched, until when it is fresh. */
export interface Dated {
  readonly fetchedAt: number;
  readonly freshUntil: number;
}

/** What one document needs to coordinate its fetches through the store. */
export interface FleetOptions<E extends Dated> {
  store: CoordinatingStore;
  storeKey: string;
  now: Clock;
  /** The fleet-wide unknown-`kid` budget window (seconds). */
  cooldown: number;
  /** The fetch timeout (seconds): how long the lock lives beyond it, and the longest store call. */
  timeout: number;
  /** The longest wait for another receiver's fetch (seconds, real time), then fetch on our own. */
  maxWait: number;
  health: StoreHealth;
  /** A value read from the store as a document, or undefined when it is none (or another URL's). */
  fromStored(value: unknown): E | undefined;
}

/** What happened: a document taken from the store, fetched here, or nothing (budget spent). */
export type FleetOutcome<E> =
  { kind: 'stored'; entry: E } | { kind: 'fetched'; entry: E } | { kind: 'cooling-down' };

const FIRST_POLL_MS = 10;
const LONGEST_POLL_MS = 100;
/** The lock outlives the fetch timeout by this much (the store write after the fetch). */
const LOCK_MARGIN_MS = 2000;

/** One store call, bounded by `seconds`; any failure becomes `StoreUnavailable`. */
async function call<R>(seconds: number, op: () => Promise<R> | R): Promise<R> {
  let result: Awaited<R> | 'timed out';
  try {
    const outcome = await waitAtMost(Promise.resolve().then(op), seconds);
    result = timedOut(outcome) ? 'timed out' : outcome;
  } catch (err) {
    throw new StoreUnavailable(err instanceof Error ? err.message : String(err), { cause: err });
  }
  if (result === 'timed out') {
    throw new StoreUnavailable(`the store did not answer within ${seconds} s`);
  }
  return result;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Loads a document the fleet way. Loop (bounded by `maxWait`): a usable copy in the store is
 * taken; else whoever takes the lock fetches (`fetchOwn`, which writes the result to the store
 * before the lock is released) and the others poll the store for it. A `forced` fetch also
 * needs the fleet-wide budget (`SET NX PX cooldown`), else nothing is fetched. When the store
 * fails or the wait runs out, `fetchOwn` runs without the lock: a valid token is never refused
 * because the store failed. Errors of `fetchOwn` (the key server) pass through unchanged.
 */
export async function loadThroughFleet<E extends Dated>(
  options: FleetOptions<E>,
  reason: FetchReason,
  held: E | undefined,
  fetchOwn: () => Promise<E>,
): Promise<FleetOutcome<E>> {
  const { store, storeKey, health } = options;
  // Nothing held: any copy will do, as for a cold load.
  if (held === undefined) reason = 'load';
  const lockKey = `${storeKey} lock`;
  const usable = (entry: E | undefined): entry is E =>
    entry !== undefined &&
    (reason === 'load'
      ? options.now() < entry.freshUntil
      : entry.fetchedAt > (held?.fetchedAt ?? -Infinity));
  const read = async () =>
    options.fromStored(await call(options.timeout, () => store.get(storeKey)));
  const deadline = performance.now() + options.maxWait * 1000;
  let pause = FIRST_POLL_MS;
  try {
    for (;;) {
      const stored = await read();
      if (usable(stored)) {
        health.succeeded();
        return { kind: 'stored', entry: stored };
      }
      const lockMs = Math.ceil(options.timeout * 1000) + LOCK_MARGIN_MS;
      const token = await call(options.timeout, () => store.acquire(lockKey, lockMs));
      health.succeeded();
      if (token !== undefined) {
        return await asOwner(options, reason, { lockKey, token }, read, usable, fetchOwn);
      }
      // Another receiver is fetching: its result lands in the store.
      if (performance.now() >= deadline) break;
      await sleep(Math.min(pause, Math.max(1, deadline - performance.now())));
      pause = Math.min(pause * 2, LONGEST_POLL_MS);
    }
  } catch (err) {
    if (!(err instanceof StoreUnavailable)) throw err;
    health.failed(err);
  }
  return { kind: 'fetched', entry: await fetchOwn() };
}

async function asOwner<E extends Dated>(
  options: FleetOptions<E>,
  reason: FetchReason,
  lock: { lockKey: string; token: string },
  read: () => Promise<E | undefined>,
  usable: (entry: E | undefined) => entry is E,
  fetchOwn: () => Promise<E>,
): Promise<FleetOutcome<E>> {
  const { store, storeKey } = options;
  try {
    // A fetch may have landed between our read and our lock.
    const stored = await read();
    if (usable(stored)) return { kind: 'stored', entry: stored };
    if (reason === 'forced') {
      const budget = await call(options.timeout, () =>
        store.acquire(`${storeKey} kid-refresh`, Math.ceil(options.cooldown * 1000)),
      );
      if (budget === undefined) return { kind: 'cooling-down' };
    }
    return { kind: 'fetched', entry: await fetchOwn() };
  } finally {
    // Only the owner's token releases it; a failed release just lets the lock expire.
    Promise.resolve()
      .then(() => store.release(lock.lockKey, lock.token))
      .catch(() => {});
  }
}

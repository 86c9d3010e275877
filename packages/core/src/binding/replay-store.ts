import { LRUCache } from 'lru-cache';
import { systemClock } from '../config/clock.js';
import type { Clock } from '../config/clock.js';
import { VerificationError } from '../errors.js';
import { orDefault } from '../config/option-default.js';

/**
 * Remembers single-use values (DPoP proof `jti`s) for a while. Share one store between every
 * receiver that accepts the same proofs (`@tokengate/redis`), or a proof replayed at another
 * instance passes.
 */
export interface ReplayStore {
  /**
   * Records `key` for `ttlSeconds` (a positive integer). Atomic check-and-set: resolves `true`
   * when the key was not there (first use), `false` when it was (a replay). May return the
   * boolean directly. A failure (throw or rejection) refuses the request with 503
   * `replay_store_unavailable`: replay protection fails closed.
   */
  add(key: string, ttlSeconds: number): boolean | Promise<boolean>;
}

/** Options of the in-memory replay store. */
export interface MemoryReplayStoreOptions {
  /**
   * Most keys held at once. When every slot holds a live key, new proofs are refused (503)
   * rather than forgetting one that could then be replayed. Default 100 000.
   */
  max?: number;
  /** Clock in epoch seconds. Default: the system clock. */
  now?: Clock;
}

/**
 * Creates the default replay store: one process's memory, bounded, expiring keys on the given
 * clock. A fleet of receivers needs a shared store instead (`@tokengate/redis`).
 */
export function createMemoryReplayStore(options: MemoryReplayStoreOptions = {}): ReplayStore {
  const max = orDefault(options.max, 100_000, 'max');
  if (typeof max !== 'number' || !Number.isSafeInteger(max) || max <= 0) {
    throw new TypeError('"max" must be a positive integer');
  }
  const now = orDefault(options.now, systemClock, 'now');
  if (typeof now !== 'function') throw new TypeError('"now" must be a function');
  const seen = new LRUCache<string, true>({
    max,
    // lru-cache counts in milliseconds; ttlResolution 0 reads the injected clock on every check.
    perf: { now: () => now() * 1000 },
    ttlResolution: 0,
    ttlAutopurge: false,
  });
  let lastPurge = -Infinity;
  return {
    add(key, ttlSeconds) {
      if (seen.has(key)) return false;
      if (seen.size >= max) {
        // A full scan, at most once a second: an LRU eviction would let an evicted jti replay.
        const t = now();
        if (t - lastPurge >= 1) {
          lastPurge = t;
          seen.purgeStale();
        }
        if (seen.size >= max) {
          throw new VerificationError('replay_store_unavailable', {
            reason: 'the replay store is full',
          });
        }
      }
      seen.set(key, true, { ttl: ttlSeconds * 1000 });
      return true;
    },
  };
}

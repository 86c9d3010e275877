// Persistence for key-server documents (a JWKS with its validators), so a cold process starts
// with keys and revalidates with a cheap 304 instead of a full fetch.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';

/**
 * A key-value store for cached key-server documents. Values are plain JSON-serialisable objects.
 * Fits Redis (`GET` / `SET … EX ttl`), a database, or anything with expiry; errors are logged and
 * never fail a request.
 */
export interface JwksStore {
  /** The stored value, or a promise of it (`unknown` covers both). */
  get(key: string): unknown;
  set(key: string, value: unknown, ttlSeconds: number): Promise<void> | void;
  /**
   * Optional, for a fleet sharing the store (`createRedisJwksStore` of `@tokengate/redis`): takes
   * the lock `key` for `ttlMs` milliseconds unless someone holds it. Resolves an owner token when
   * taken, `undefined` when held elsewhere; rejects when the store is unavailable. With
   * `acquire` and `release`, at most one receiver fetches each document at a time, and the
   * unknown-`kid` budget is one refresh per cooldown for the whole fleet (`keys/http/fleet.ts`).
   */
  acquire?(key: string, ttlMs: number): Promise<string | undefined>;
  /** Releases the lock `key` only if `token` (from `acquire`) still owns it. */
  release?(key: string, token: string): Promise<unknown>;
}

/** A store that coordinates a fleet: `acquire` and `release` are present. */
export type CoordinatingStore = JwksStore & Required<Pick<JwksStore, 'acquire' | 'release'>>;

/** True when the store coordinates a fleet (both `acquire` and `release` are functions). */
export function isCoordinating(store: JwksStore | undefined): store is CoordinatingStore {
  return typeof store?.acquire === 'function' && typeof store.release === 'function';
}

/** What is kept per document: enough to serve it and to revalidate it conditionally. */
export interface StoredDocument {
  url: string;
  body: unknown;
  digest: string;
  etag?: string | undefined;
  lastModified?: string | undefined;
  fetchedAt: number;
  freshUntil: number;
}

/** True when a value read from a store has the shape of a StoredDocument. */
export function isStoredDocument(value: unknown): value is StoredDocument {
  const v = value as Partial<StoredDocument> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.url === 'string' &&
    typeof v.digest === 'string' &&
    typeof v.fetchedAt === 'number' &&
    typeof v.freshUntil === 'number' &&
    (v.etag === undefined || typeof v.etag === 'string') &&
    (v.lastModified === undefined || typeof v.lastModified === 'string')
  );
}

/**
 * An in-process store (bounded LRU with expiry). Useful to share documents between caches made
 * with different options in one process; it does not survive a restart.
 */
export function createMemoryStore({ max = 100 }: { max?: number } = {}): JwksStore {
  const cache = new LRUCache<string, { value: unknown }>({ max });
  return {
    get: (key) => cache.get(key)?.value,
    set: (key, value, ttlSeconds) => {
      cache.set(key, { value: structuredClone(value) }, { ttl: Math.max(1, ttlSeconds) * 1000 });
    },
  };
}

/**
 * A store in a directory: one JSON file per key (named by the key's SHA-256), written
 * atomically (temp file, then rename) so concurrent processes never read half a file. Expiry is
 * kept in the file; an expired or unreadable file counts as absent.
 */
export function createFileStore(
  directory: string,
  { now = () => Date.now() / 1000 } = {},
): JwksStore {
  if (typeof directory !== 'string' || !directory) {
    throw new TypeError('createFileStore needs a directory');
  }
  const file = (key: string) =>
    join(directory, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);
  return {
    async get(key) {
      let text: string;
      try {
        text = await readFile(file(key), 'utf8');
      } catch {
        return undefined; // not stored yet
      }
      const record = JSON.parse(text) as { key?: unknown; expires?: unknown; value?: unknown };
      if (record.key !== key || typeof record.expires !== 'number' || record.expires <= now()) {
        return undefined;
      }
      return record.value;
    },
    async set(key, value, ttlSeconds) {
      await mkdir(directory, { recursive: true });
      const target = file(key);
      const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(temp, JSON.stringify({ key, expires: now() + ttlSeconds, value }));
      await rename(temp, target);
    },
  };
}

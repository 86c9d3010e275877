// The key sets of a fleet in Redis: one copy of each JWKS (with its validators and freshness)
// for every receiver, and the short locks that let one receiver fetch for all of them.
import { randomBytes } from 'node:crypto';
import type { JwksStore } from '@tokengate/core';
import { storeConnection, timeout } from './connection.js';

/**
 * The commands the store sends: `GET`, `SET … PX` (with `NX` for locks) and `EVAL` (the
 * owner-only release). A node-redis v5 client fits; `isReady` (when present) lets a
 * disconnected client fail at once instead of queueing until the timeout.
 */
export interface RedisJwksClient {
  get(key: string): Promise<unknown>;
  set(
    key: string,
    value: string,
    options: { expiration: { type: 'PX'; value: number }; condition?: 'NX' },
  ): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  readonly isReady?: boolean;
}

/** Options of `createRedisJwksStore`: a client you own, or a URL for a client it owns. */
export interface RedisJwksStoreOptions {
  /** A connected (or connecting) node-redis client. You connect it, handle its errors, close it. */
  client?: RedisJwksClient;
  /**
   * `redis://host:6379` (or `rediss://`): the store creates and connects its own client (it
   * reconnects by itself); call `close()` on shutdown. Connection errors go to `onError`.
   */
  url?: string;
  /**
   * Prefix of every key, to separate environments sharing one Redis. Default `''`: keys are
   * already named `tokengate:jwks <JWKS URL>` (and `… lock`, `… kid-refresh`).
   */
  prefix?: string;
  /**
   * How long one command may take (milliseconds) before the receiver stops waiting for Redis
   * and fetches keys on its own. Default 500.
   */
  timeoutMs?: number;
  /** Receives errors of a client created from `url` (node-redis emits them while reconnecting). */
  onError?: (err: Error) => void;
}

/** A JWKS store on Redis that also coordinates the fleet's fetches (`acquire`/`release`). */
export interface RedisJwksStore extends Required<JwksStore> {
  /** Closes the client created from `url`; does nothing for a client you passed in. */
  close(): Promise<void>;
}

/**
 * Deletes the lock only when it still holds the caller's token: a receiver whose lock expired
 * (a slow fetch) never releases the lock another receiver took since.
 */
const RELEASE_IF_OWNER =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * Creates the fleet's JWKS store on Redis, for the `jwks.store` option. Each key set is kept with
 * its ETag, Last-Modified and freshness (`SET … PX`, until it may no longer be served), so a cold
 * receiver starts with keys and makes no request while the stored set is fresh. For each key set,
 * at most one receiver fetches at a time (`SET <key> lock <token> NX PX <ms>`, released by its
 * owner only); the others take its result from Redis. The unknown-`kid` refresh budget becomes
 * one request per cooldown for the whole fleet. When Redis fails or is slower than `timeoutMs`,
 * each receiver fetches on its own (logged once per outage: `jwks_store_unavailable`).
 *
 * @example
 * const store = createRedisJwksStore({ url: process.env.REDIS_URL });
 * app.use(tokengate({ issuer, audience, jwksUri, jwks: { store } }));
 * process.on('SIGTERM', () => store.close());
 */
export function createRedisJwksStore(options: RedisJwksStoreOptions): RedisJwksStore {
  const { client, close, prefix, timeoutMs } = storeConnection<RedisJwksClient>(
    options,
    'createRedisJwksStore',
    ['get', 'set', 'eval'],
    { prefix: '', timeoutMs: 500 },
  );

  // One command, bounded; a client that is not connected fails at once (no offline queue wait).
  const send = <R>(command: (c: RedisJwksClient) => Promise<R>): Promise<R> =>
    timeout(
      client.then((c) => {
        if (c.isReady === false) throw new Error('redis is not connected');
        return command(c);
      }),
      timeoutMs,
    );

  return {
    async get(key) {
      const text = await send((c) => c.get(prefix + key));
      if (typeof text !== 'string') return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return undefined; // not ours: counts as absent, the next fetch overwrites it
      }
    },
    async set(key, value, ttlSeconds) {
      const ms = Math.max(1000, Math.ceil(ttlSeconds * 1000));
      await send((c) =>
        c.set(prefix + key, JSON.stringify(value), { expiration: { type: 'PX', value: ms } }),
      );
    },
    async acquire(key, ttlMs) {
      const token = randomBytes(16).toString('base64url');
      const ms = Math.max(1, Math.ceil(ttlMs));
      const reply = await send((c) =>
        c.set(prefix + key, token, { expiration: { type: 'PX', value: ms }, condition: 'NX' }),
      );
      // 'OK' when taken; null when someone holds it (NX).
      return reply === 'OK' ? token : undefined;
    },
    async release(key, token) {
      return send((c) => c.eval(RELEASE_IF_OWNER, { keys: [prefix + key], arguments: [token] }));
    },
    close: () => close(),
  };
}

import type { ReplayStore } from '@tokengate/core';
import { storeConnection, timeout } from './connection.js';

export { createRedisJwksStore } from './jwks-store.js';
export type { RedisJwksClient, RedisJwksStore, RedisJwksStoreOptions } from './jwks-store.js';
export { createRedisDenylist } from './denylist.js';
export type {
  DenylistClient,
  DenylistSubscriber,
  RedisDenylist,
  RedisDenylistOptions,
} from './denylist.js';

/**
 * The one command the store sends: `SET key 1 NX EX ttl`. A node-redis v5 client, cluster or
 * sentinel fits (a node-redis v4 client accepts the same call shape too).
 */
export interface RedisSetClient {
  set(
    key: string,
    value: string,
    options: { expiration: { type: 'EX'; value: number }; condition: 'NX' },
  ): Promise<unknown>;
}

/** Options of `createRedisReplayStore`: a client you own, or a URL for a client it owns. */
export interface RedisReplayStoreOptions {
  /** A connected (or connecting) node-redis client. You connect it, handle its errors, close it. */
  client?: RedisSetClient;
  /**
   * `redis://host:6379` (or `rediss://`): the store creates and connects its own client; call
   * `close()` on shutdown. Connection errors are passed to `onError`.
   */
  url?: string;
  /** Prefix of every key. Default `'tokengate:dpop:'`. */
  prefix?: string;
  /**
   * How long one check may take, in milliseconds, before the request is refused with 503
   * (`replay_store_unavailable`): replay protection fails closed. Default 1000.
   */
  timeoutMs?: number;
  /** Receives errors of a client created from `url` (node-redis emits them while reconnecting). */
  onError?: (err: Error) => void;
}

/** A replay store on Redis: every receiver using the same Redis shares one replay window. */
export interface RedisReplayStore extends ReplayStore {
  /** Closes the client created from `url`; does nothing for a client you passed in. */
  close(): Promise<void>;
}

/**
 * Creates a DPoP replay store on Redis. Each proof is recorded with one atomic
 * `SET <prefix><key> 1 NX EX <ttl>`: the first receiver to see a proof wins, any later one (on
 * any instance) sees a replay, and Redis forgets the key when the proof's `iat` window ends.
 *
 * @example
 * const replayStore = createRedisReplayStore({ url: process.env.REDIS_URL });
 * app.use(tokengate({ issuer, audience, jwksUri, dpop: { mode: 'required', replayStore } }));
 * process.on('SIGTERM', () => replayStore.close());
 */
export function createRedisReplayStore(options: RedisReplayStoreOptions): RedisReplayStore {
  const { client, close, prefix, timeoutMs } = storeConnection<RedisSetClient>(
    options,
    'createRedisReplayStore',
    ['set'],
    { prefix: 'tokengate:dpop:', timeoutMs: 1000 },
  );
  return {
    async add(key, ttlSeconds) {
      const reply = await timeout(
        client.then((c) =>
          c.set(`${prefix}${key}`, '1', {
            expiration: { type: 'EX', value: Math.max(1, Math.ceil(ttlSeconds)) },
            condition: 'NX',
          }),
        ),
        timeoutMs,
      );
      // 'OK' when the key was set; null when it already existed (NX).
      return reply === 'OK';
    },
    close: () => close(),
  };
}

// The node-redis client a store talks to: one you pass in, or one it creates from a URL and owns.
import { createRequire } from 'node:module';

/**
 * Throws the configuration mistake at construction: `url` needs node-redis, an optional peer.
 * Resolved, not loaded: loading is asynchronous (`import()`), the check must not be.
 */
function assertRedisInstalled(): void {
  try {
    createRequire(import.meta.url).resolve('redis');
  } catch {
    throw new TypeError(
      '"url" needs the redis package (node-redis v5): npm install redis, or pass your own "client"',
    );
  }
}

/** Rejects when `promise` takes longer than `ms` milliseconds. */
export function timeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** The client a store uses, and how to close it (a no-op for a client passed in). */
export interface Connection<C> {
  client: Promise<C>;
  close: () => Promise<void>;
}

/** Checks the options shared by every store: exactly one of `client` and `url`, and `onError`. */
export function checkConnectionOptions(
  options: { client?: unknown; url?: unknown; onError?: unknown },
  factory: string,
): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${factory} needs { client } or { url }`);
  }
  if ((options.client === undefined) === (options.url === undefined)) {
    throw new TypeError('give exactly one of "client" and "url"');
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new TypeError('"onError" must be a function');
  }
  if (options.url !== undefined) {
    if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) {
      throw new TypeError('"url" must be a redis:// or rediss:// URL');
    }
    assertRedisInstalled();
  }
}

/**
 * A client created from `url` and owned by the store: connected at once, reconnecting by itself,
 * its errors passed to `onError` (node-redis emits them while reconnecting).
 */
export function ownedConnection<C>(
  url: string,
  onError: ((err: Error) => void) | undefined,
): Connection<C> {
  // Loaded only here: `redis` is an optional peer, not needed by an app passing its own client.
  const owning = import('redis').then(({ createClient }) => {
    // Commands wait offline while the client reconnects; the stores' timeouts bound the wait.
    const owned = createClient({ url });
    // Without a listener, node-redis's 'error' event would crash the process.
    owned.on('error', (err: Error) => onError?.(err));
    const connecting = owned.connect().catch((err: unknown) => {
      onError?.(err as Error);
    });
    return { owned, connecting };
  });
  // A failed import (a broken install) is reported once; commands then reject with it.
  owning.catch((err: unknown) => onError?.(err as Error));
  return {
    // The first commands wait for the first connection attempt (the stores' timeouts bound it).
    client: owning.then(({ owned, connecting }) => connecting.then(() => owned as unknown as C)),
    close: async () => {
      // A failed import left no client to close (onError has the error already).
      const loaded = await owning.catch(() => undefined);
      if (!loaded) return;
      const { owned, connecting } = loaded;
      if (owned.isReady) await owned.close();
      else if (owned.isOpen) owned.destroy(); // still (re)connecting: nothing to flush
      await connecting;
    },
  };
}

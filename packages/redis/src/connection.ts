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

/** Checks a `url` option at construction: a redis:// or rediss:// URL, and node-redis installed. */
export function assertRedisUrl(url: unknown): asserts url is string {
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw new TypeError('"url" must be a redis:// or rediss:// URL');
  }
  assertRedisInstalled();
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

/** The options every store takes: a client you own, or a URL for a client it owns. */
export interface ConnectionOptions<C> {
  client?: C;
  url?: string;
  prefix?: string;
  timeoutMs?: number;
  onError?: (err: Error) => void;
}

/**
 * Checks the options every store shares (a configuration mistake is a TypeError at once) and
 * opens its connection: the `client` passed in, which must have `methods`, or one created from
 * `url`. `defaults` are the store's own `prefix` and `timeoutMs`.
 */
export function storeConnection<C>(
  options: ConnectionOptions<C>,
  factory: string,
  methods: readonly string[],
  defaults: { prefix: string; timeoutMs: number },
): Connection<C> & { prefix: string; timeoutMs: number } {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${factory} needs { client } or { url }`);
  }
  const { url, prefix = defaults.prefix, timeoutMs = defaults.timeoutMs, onError } = options;
  if ((options.client === undefined) === (url === undefined)) {
    throw new TypeError('give exactly one of "client" and "url"');
  }
  if (typeof prefix !== 'string') throw new TypeError('"prefix" must be a string');
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('"timeoutMs" must be a positive integer');
  }
  if (onError !== undefined && typeof onError !== 'function') {
    throw new TypeError('"onError" must be a function');
  }
  if (url !== undefined) {
    assertRedisUrl(url);
    return { ...ownedConnection<C>(url, onError), prefix, timeoutMs };
  }
  const given = options.client as Record<string, unknown> | null;
  if (
    typeof given !== 'object' ||
    given === null ||
    methods.some((m) => typeof given[m] !== 'function')
  ) {
    const named = methods.length > 1 ? ` (${methods.join(', ')})` : '';
    throw new TypeError(`"client" must be a node-redis client${named}`);
  }
  return {
    client: Promise.resolve(options.client as C),
    close: async () => {},
    prefix,
    timeoutMs,
  };
}

/**
 * A client created from `url` and owned by the store: connected at once, reconnecting by itself,
 * its errors passed to `onError` (node-redis emits them while reconnecting).
 */
function ownedConnection<C>(
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

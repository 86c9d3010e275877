// What the Redis stores share: the optional-peer check and the bound on one Redis call.
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

/** `promise`, or a rejection after `ms` milliseconds (the timer never holds the process open). */
export function timeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

// The one test for "maybe a promise" (issue 12): custom key sources, resolvers and hooks may
// answer with any thenable (another promise library, a userland `{ then }`), not only a native
// Promise. `instanceof Promise` would treat such an answer as the value itself.

/** A value, or a promise (any thenable) of it. */
export type MaybePromise<T> = T | PromiseLike<T>;

/**
 * True when `value` is a thenable: an object or function with a callable `then`
 * (Promises/A+ §1.1). Awaiting it, or `Promise.resolve(value)`, adopts its state.
 */
export function isPromiseLike<T>(value: MaybePromise<T>): value is PromiseLike<T> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

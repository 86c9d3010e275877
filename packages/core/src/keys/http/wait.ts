// A bounded wait: the caller gives up, the work carries on.
const TIMED_OUT = Symbol('timed out');

/**
 * Waits for `promise` at most `seconds` (real time), then gives up with `TIMED_OUT`; the work
 * itself carries on. A rejection after the deadline is swallowed (the caller is gone).
 */
export function waitAtMost<T>(promise: Promise<T>, seconds: number): Promise<T | typeof TIMED_OUT> {
  if (!Number.isFinite(seconds)) return promise;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, seconds * 1000, TIMED_OUT);
    timer.unref?.();
  });
  promise.catch(() => {});
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** True when `waitAtMost` gave up. */
export const timedOut = (value: unknown): value is typeof TIMED_OUT => value === TIMED_OUT;

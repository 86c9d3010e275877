import { VerificationError } from '../errors.js';
import type { Logger } from '../telemetry/log.js';

/** Returns the current time in epoch seconds (may be fractional). */
export type Clock = () => number;

/** The default clock. The only place in core that reads the system time. */
export const systemClock: Clock = () => Date.now() / 1000;

/**
 * Wraps a clock for the checks that judge time (claims, DPoP `iat`): a reading that is not a
 * finite number (`NaN`, `undefined`, `Infinity`) throws `clock_unavailable` (503), because
 * every comparison with NaN is false and would switch the time checks off. The first bad
 * reading of each outage is logged once at error level (`clock_invalid`), not once per request;
 * a good reading ends the outage. The raw clock still keys caches (its identity matters there).
 */
export function createCheckedClock(clock: Clock, logger: Logger): Clock {
  let broken = false;
  return function checkedClock() {
    const now: unknown = clock();
    if (typeof now === 'number' && Number.isFinite(now)) {
      broken = false;
      return now;
    }
    if (!broken) {
      broken = true;
      try {
        logger.error(
          { event: 'clock_invalid', type: typeof now },
          'clock returned a time that is not a finite number: time checks fail closed',
        );
      } catch {
        // A failing log transport must not turn a 503 into a 500.
      }
    }
    throw new VerificationError('clock_unavailable', { reason: 'clock reading is not finite' });
  };
}

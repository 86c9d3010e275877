/** Returns the current time in epoch seconds (may be fractional). */
export type Clock = () => number;

/** The default clock. The only place in core that reads the system time. */
export const systemClock: Clock = () => Date.now() / 1000;

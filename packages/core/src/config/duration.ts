/** A duration option: a number of seconds, or a string such as `'30s'`, `'15m'`, `'24h'`, `'7d'`. */
export type Duration = number | string;

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Converts a duration option to seconds. Throws a TypeError naming the option, so a typo in a
 * configuration fails at start-up.
 */
export function toSeconds(value: Duration, name: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
  } else if (typeof value === 'string') {
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim());
    if (match) return Number(match[1]) * UNITS[match[2]!]!;
  }
  throw new TypeError(
    `"${name}" must be a non-negative number of seconds or a string such as '30s', '15m', '24h'`,
  );
}

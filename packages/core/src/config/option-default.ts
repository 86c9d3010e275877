/**
 * An option's value, or `fallback` when it is left out. `null` is a configuration mistake (a
 * TypeError at start-up), never "use the default": a config loader that writes `null` for a
 * missing `clockTolerance` or `now` must not switch a check to a value nobody chose.
 */
export function orDefault<T>(value: T | null | undefined, fallback: T, name: string): T {
  if (value === null) {
    throw new TypeError(`"${name}" must not be null (leave it out for the default)`);
  }
  return value === undefined ? fallback : value;
}

/**
 * A boolean option, or `fallback` when left out. Anything but `true` / `false` is a TypeError:
 * `requireEncryption: 'true'` or `credentialsRequired: 0` must never switch a check off.
 */
export function booleanOption(value: unknown, fallback: boolean, name: string): boolean {
  if (orDefault(value, undefined, name) === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`"${name}" must be a boolean`);
  return value;
}

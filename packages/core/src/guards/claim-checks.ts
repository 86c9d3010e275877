import { VerificationError } from '../errors.js';
import { isPromiseLike } from '../lib/maybe-promise.js';
import type { TokenPayload } from '../token/types.js';

/** A JSON primitive: what `claimEquals` and `claimIncludes` compare claims with. */
export type JsonPrimitive = string | number | boolean | null;

/**
 * A predicate on verified claims, for `requireClaims`: true passes; anything else is 403
 * `insufficient_scope`. It may be async (a directory lookup): the promise is awaited once per
 * request, and a sync predicate keeps the request synchronous.
 */
export type ClaimsPredicate = (payload: TokenPayload) => boolean | PromiseLike<boolean>;

/**
 * A check on verified claims, for `requireClaims`. Returns true to pass; false is 403
 * `insufficient_scope` (the token is valid but does not grant this). It may throw a
 * VerificationError itself, e.g. `claim_missing` (401) when the claim is absent.
 */
export interface ClaimCheck<R extends boolean | Promise<boolean> = boolean | Promise<boolean>> {
  (payload: TokenPayload): R;
  /** Fixed, token-free text for logs. */
  readonly description: string;
}

function claimName(name: unknown): string {
  if (typeof name !== 'string' || !name) throw new TypeError('a claim check needs a claim name');
  return name;
}

function isJsonPrimitive(value: unknown): value is JsonPrimitive {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/** The claim's value; absent (or, unless `nullCounts`, null) is `claim_missing` (401). */
function present(payload: TokenPayload, name: string, nullCounts = false): unknown {
  // Own properties only: a claim named "constructor" must not find Object.prototype's.
  const value = Object.hasOwn(payload, name) ? payload[name] : undefined;
  if (value === undefined || (value === null && !nullCounts)) {
    throw new VerificationError('claim_missing', { reason: `"${name}" is missing` });
  }
  return value;
}

/** Builds a check from a predicate (sync or async) and a fixed description. */
export function claimCheck(
  predicate: (payload: TokenPayload) => boolean,
  description: string,
): ClaimCheck<boolean>;
export function claimCheck(
  predicate: (payload: TokenPayload) => PromiseLike<boolean>,
  description: string,
): ClaimCheck<Promise<boolean>>;
export function claimCheck(predicate: ClaimsPredicate, description: string): ClaimCheck;
export function claimCheck(predicate: ClaimsPredicate, description: string): ClaimCheck {
  if (typeof predicate !== 'function') throw new TypeError('claimCheck needs a function');
  if (typeof description !== 'string' || !description) {
    throw new TypeError('claimCheck needs a description');
  }
  const check = (payload: TokenPayload): boolean | Promise<boolean> => {
    const result = predicate(payload);
    return isPromiseLike(result)
      ? Promise.resolve(result).then((value) => value === true)
      : result === true;
  };
  return Object.assign(check, { description });
}

/**
 * The claim must equal `value` exactly: any JSON primitive (a string, a finite number, a
 * boolean, or null). Absent is 401; a null claim is absent unless `value` is null.
 */
export function claimEquals(name: string, value: JsonPrimitive): ClaimCheck<boolean> {
  const claim = claimName(name);
  if (!isJsonPrimitive(value)) {
    throw new TypeError(
      'claimEquals compares with a JSON primitive (string, number, boolean, null)',
    );
  }
  return claimCheck(
    (p) => present(p, claim, value === null) === value,
    `"${claim}" equals the expected value`,
  );
}

/**
 * The claim must include every one of `values` (JSON primitives): an array holding each, or a
 * space-delimited string (as `scope` is) holding each string. Absent is 401.
 */
export function claimIncludes(name: string, ...values: JsonPrimitive[]): ClaimCheck<boolean> {
  const claim = claimName(name);
  if (values.length === 0 || !values.every(isJsonPrimitive)) {
    throw new TypeError('claimIncludes needs one or more JSON primitives');
  }
  return claimCheck((p) => {
    const raw = present(p, claim);
    const have: unknown[] =
      typeof raw === 'string' ? raw.split(' ').filter(Boolean) : Array.isArray(raw) ? raw : [];
    return values.every((v) => have.includes(v));
  }, `"${claim}" includes the expected values`);
}

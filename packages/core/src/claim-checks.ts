import { VerificationError } from './errors.js';
import type { TokenPayload } from './types.js';

/**
 * A check on verified claims, for `requireClaims`. Returns true to pass; false is 403
 * `insufficient_scope` (the token is valid but does not grant this). It may throw a
 * VerificationError itself, e.g. `claim_missing` (401) when the claim is absent.
 */
export interface ClaimCheck {
  (payload: TokenPayload): boolean;
  /** Fixed, token-free text for logs. */
  readonly description: string;
}

function claimName(name: unknown): string {
  if (typeof name !== 'string' || !name) throw new TypeError('a claim check needs a claim name');
  return name;
}

function present(payload: TokenPayload, name: string): unknown {
  // Own properties only: a claim named "constructor" must not find Object.prototype's.
  const value = Object.hasOwn(payload, name) ? payload[name] : undefined;
  if (value === undefined || value === null) {
    throw new VerificationError('claim_missing', { reason: `"${name}" is missing` });
  }
  return value;
}

/** Builds a check from a predicate and a fixed description. */
export function claimCheck(
  predicate: (payload: TokenPayload) => boolean,
  description: string,
): ClaimCheck {
  if (typeof predicate !== 'function') throw new TypeError('claimCheck needs a function');
  if (typeof description !== 'string' || !description) {
    throw new TypeError('claimCheck needs a description');
  }
  return Object.assign((payload: TokenPayload) => predicate(payload) === true, { description });
}

/** The claim must equal `value` exactly (a string, number or boolean). Absent is 401. */
export function claimEquals(name: string, value: string | number | boolean): ClaimCheck {
  const claim = claimName(name);
  if (!['string', 'number', 'boolean'].includes(typeof value)) {
    throw new TypeError('claimEquals compares with a string, number or boolean');
  }
  return claimCheck((p) => present(p, claim) === value, `"${claim}" equals the expected value`);
}

/**
 * The claim must include every one of `values`: an array of strings, or a space-delimited
 * string (as `scope` is). Absent is 401.
 */
export function claimIncludes(name: string, ...values: string[]): ClaimCheck {
  const claim = claimName(name);
  if (values.length === 0 || !values.every((v) => typeof v === 'string' && v)) {
    throw new TypeError('claimIncludes needs one or more strings');
  }
  return claimCheck((p) => {
    const raw = present(p, claim);
    const have = typeof raw === 'string' ? raw.split(' ') : Array.isArray(raw) ? raw : [];
    return values.every((v) => have.includes(v));
  }, `"${claim}" includes the expected values`);
}

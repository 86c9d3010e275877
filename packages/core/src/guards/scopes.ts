import type { ClaimCheck, ClaimsPredicate } from './claim-checks.js';
import { VerificationError, isVerificationError } from '../errors.js';
import { isPromiseLike } from '../lib/maybe-promise.js';
import type { TokenPayload, VerifiedToken } from '../token/types.js';

const DEFAULT_SCOPE_CLAIMS = ['scope', 'scp'];
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/; // RFC 6749 §3.3 scope-token

/**
 * The scopes a token grants: `scope` and `scp`, each a space-delimited string (RFC 8693 §4.2,
 * RFC 9068 §2.2.3) or an array of strings (as several issuers send), plus any extra claims named
 * in `claims` (e.g. `permissions`). A claim read here that is neither is `claim_invalid` (401):
 * the guard refuses a token it cannot read rather than guessing at its scopes.
 */
export function parseScopes(
  payload: TokenPayload,
  claims: readonly string[] = DEFAULT_SCOPE_CLAIMS,
): Set<string> {
  const granted = new Set<string>();
  for (const name of claims) {
    // Own properties only: a claim named "constructor" must not find Object.prototype's.
    const value = Object.hasOwn(payload, name) ? payload[name] : undefined;
    if (value === undefined) continue;
    if (typeof value === 'string') {
      for (const s of value.split(' ')) if (s) granted.add(s);
    } else if (Array.isArray(value) && value.every((s) => typeof s === 'string')) {
      for (const s of value) if (s) granted.add(s);
    } else {
      throw new VerificationError('claim_invalid', {
        reason: `"${name}" is not a string or strings`,
      });
    }
  }
  return granted;
}

/** True when every scope in `required` is granted. */
export function hasAllScopes(granted: ReadonlySet<string>, required: readonly string[]): boolean {
  return required.every((s) => granted.has(s));
}

/** True when at least one scope in `required` is granted. */
export function hasAnyScope(granted: ReadonlySet<string>, required: readonly string[]): boolean {
  return required.some((s) => granted.has(s));
}

export interface ScopeGuardOptions {
  /** Claims to read scopes from. Default `['scope', 'scp']`; add `'permissions'` for Auth0-style. */
  claims?: readonly string[];
}

/**
 * Throws a VerificationError unless the request is authenticated and passes. Returns a promise
 * only when the check is async (an async claims predicate); then it rejects instead.
 */
export type Guard = (
  auth: VerifiedToken | null | undefined,
  scopeClaims?: readonly string[],
) => void | Promise<void>;

/**
 * Builds a scope check: `'all'` needs every scope, `'any'` at least one. A missing token is
 * `token_missing` (401); an insufficient one `scope_insufficient` (403, with `scope=`). The list
 * is validated here, so a typo fails at start-up.
 */
export function scopeGuard(
  mode: 'all' | 'any',
  scopes: readonly string[],
  options: ScopeGuardOptions = {},
): Guard {
  if (scopes.length === 0) throw new TypeError('a scope guard needs at least one scope');
  for (const s of scopes) {
    if (typeof s !== 'string' || !SCOPE_TOKEN.test(s)) {
      throw new TypeError(`invalid scope ${JSON.stringify(s)}: RFC 6749 scope-tokens only`);
    }
  }
  const required = [...scopes];
  const passes = mode === 'all' ? hasAllScopes : hasAnyScope;
  return function checkScopes(auth, scopeClaims) {
    if (!auth) throw new VerificationError('token_missing');
    const claims = options.claims ?? scopeClaims ?? DEFAULT_SCOPE_CLAIMS;
    const granted = parseScopes(auth.payload, claims);
    if (!passes(granted, required)) {
      throw new VerificationError('scope_insufficient', {
        scope: required,
        reason: missingScopes(mode, required, granted),
      });
    }
  };
}

/** The log reason of a refused scope guard: it names the scopes the route needs and lacks. */
function missingScopes(
  mode: 'all' | 'any',
  required: readonly string[],
  granted: ReadonlySet<string>,
): string {
  if (mode === 'any') return `token has none of the scopes ${required.join(', ')}`;
  const missing = required.filter((s) => !granted.has(s));
  return `token lacks the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`;
}

/**
 * Builds a claims check from a predicate, sync or async. A result other than `true` is
 * `scope_insufficient` (403: the token is valid but does not grant this); a missing token is
 * 401. An async predicate is awaited once; a sync one keeps the check synchronous. A predicate
 * that throws or rejects with anything but a VerificationError (a failed lookup, a bug) is a
 * 403 too, with the error kept as `cause` for logs: access is not granted on an answer nobody
 * gave, and a client never sees a 500 for it.
 */
export function claimsGuard(
  predicate: ClaimsPredicate | ClaimCheck,
  description = (predicate as Partial<ClaimCheck>).description,
): Guard {
  if (typeof predicate !== 'function') throw new TypeError('requireClaims needs a function');
  const named = (what: string): string => (description ? `${what}: ${description}` : what);
  const judge = (result: unknown): void => {
    if (result !== true) {
      throw new VerificationError('scope_insufficient', {
        reason: named('claims check failed'),
      });
    }
  };
  const failed = (cause: unknown): never => {
    if (isVerificationError(cause)) throw cause;
    throw new VerificationError('scope_insufficient', {
      reason: named('claims check threw'),
      cause,
    });
  };
  return function checkClaims(auth) {
    if (!auth) throw new VerificationError('token_missing');
    let result: unknown;
    try {
      result = predicate(auth.payload);
    } catch (err) {
      failed(err);
    }
    if (isPromiseLike(result)) return Promise.resolve(result).then(judge, failed);
    return judge(result);
  };
}

/** The route guards every adapter exports, each returning the framework's handler type `H`. */
export interface GuardFactories<H> {
  /**
   * Passes when the token grants every one of `scopes` (read from `scope` and `scp`, or the
   * gate's `scopeClaims`); 403 `insufficient_scope` otherwise, 401 without a token. Invalid scope
   * names throw at start-up.
   */
  requireScopes: (...scopes: string[]) => H;
  /** Like `requireScopes`, but one of `scopes` is enough. */
  requireAnyScope: (...scopes: string[]) => H;
  /**
   * Passes when `predicate(payload)` is true (see `claimEquals`, `claimIncludes`,
   * `claimCheck`); 403 otherwise (the token is valid but does not grant this), 401 without a
   * token. The predicate may be async: it is awaited once per request. One that throws or
   * rejects is a 403, never a 500.
   */
  requireClaims: (predicate: ClaimsPredicate | ClaimCheck, description?: string) => H;
}

/**
 * Builds the guards of an adapter from its one wrapper, which turns a core Guard into the
 * framework's handler (and answers a failure through the gate).
 */
export function createGuards<H>(wrap: (check: Guard, name: string) => H): GuardFactories<H> {
  return {
    requireScopes: (...scopes) => wrap(scopeGuard('all', scopes), 'requireScopes'),
    requireAnyScope: (...scopes) => wrap(scopeGuard('any', scopes), 'requireAnyScope'),
    requireClaims: (predicate, description) =>
      wrap(claimsGuard(predicate, description), 'requireClaims'),
  };
}

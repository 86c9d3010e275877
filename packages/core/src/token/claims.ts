import { VerificationError } from '../errors.js';
import type { NormalizedOptions } from '../config/options.js';
import type { TokenHeader, TokenPayload } from './types.js';

/**
 * The comparison form of a `typ` or `cty` media type: lower case, with `application/` prepended
 * only when the value has no `/` (RFC 7515 §4.1.9), so `at+jwt` and `application/at+jwt` match
 * but `text/plain` never matches `application/text/plain`.
 */
export function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
}

// NumericDate bounds: before 1970 or after 9999-12-31 is not a date a real issuer writes.
const MAX_NUMERIC_DATE = 253_402_300_799;

function numericDate(payload: TokenPayload, name: 'exp' | 'nbf' | 'iat'): number | undefined {
  const value = payload[name];
  if (value === undefined) return undefined;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    value > MAX_NUMERIC_DATE
  ) {
    throw new VerificationError('claim_invalid', { reason: `"${name}" is not a NumericDate` });
  }
  return value;
}

/** The time claims of a token, validated once so cache hits can re-check them cheaply. */
export interface TimeClaims {
  exp: number | undefined;
  nbf: number | undefined;
  iat: number | undefined;
}

type TimeOptions = Pick<NormalizedOptions, 'clockTolerance' | 'maxTokenAge'>;

/** Reads and type-checks `exp`, `nbf`, `iat`. */
export function readTimeClaims(payload: TokenPayload): TimeClaims {
  return {
    exp: numericDate(payload, 'exp'),
    nbf: numericDate(payload, 'nbf'),
    iat: numericDate(payload, 'iat'),
  };
}

/**
 * Checks the time claims against `now`, with the tolerance on each side. Runs on every
 * token-cache hit too. `exp` is exclusive (RFC 7519 §4.1.4: now must be *before* it, so
 * `exp` equal to now minus the tolerance is expired); `nbf` is inclusive (§4.1.5: now may equal
 * it), and `iat` is read like `nbf`: a token issued exactly at now plus the tolerance passes,
 * one issued later does not.
 */
export function checkTimes(times: TimeClaims, now: number, options: TimeOptions): void {
  const leeway = options.clockTolerance;
  if (times.exp !== undefined && now - leeway >= times.exp) {
    throw new VerificationError('token_expired');
  }
  if (times.nbf !== undefined && times.nbf > now + leeway) {
    throw new VerificationError('token_not_yet_valid', { reason: '"nbf" is in the future' });
  }
  if (times.iat !== undefined) {
    if (times.iat > now + leeway) {
      throw new VerificationError('token_not_yet_valid', { reason: '"iat" is in the future' });
    }
    if (options.maxTokenAge !== undefined && now - times.iat > options.maxTokenAge + leeway) {
      throw new VerificationError('token_too_old');
    }
  }
}

/**
 * RFC 7519 §5.3: `iss`, `sub` and `aud` replicated in a JWE's protected header (readable before
 * decryption, e.g. for routing) must be identical to the claims, so nothing that acted on the
 * header saw another token than the one verified. Applies to bare claims and nested tokens.
 */
export function checkReplicatedClaims(encryption: TokenHeader, payload: TokenPayload): void {
  for (const name of ['iss', 'sub', 'aud'] as const) {
    if (!Object.hasOwn(encryption, name)) continue;
    // Both sides were parsed from JSON: equal values serialise identically.
    if (JSON.stringify(encryption[name]) !== JSON.stringify(payload[name])) {
      throw new VerificationError('claim_invalid', {
        reason: `"${name}" in the JWE header differs from the claim`,
      });
    }
  }
}

type IdentityOptions = Pick<NormalizedOptions, 'audiences' | 'requiredClaims'>;

/** Checks `typ` of the signed token's header (RFC 8725 §3.11: explicit typing). */
export function checkTyp(header: TokenHeader, options: Pick<NormalizedOptions, 'typ'>): void {
  if (options.typ === undefined) return;
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== options.typ) {
    throw new VerificationError('typ_mismatch');
  }
}

// Claims that, when present, must be strings.
const STRING_CLAIMS = ['sub', 'jti', 'client_id'] as const;

/** Checks required claims and `aud` (exact member, never a prefix). */
export function checkIdentity(payload: TokenPayload, options: IdentityOptions): void {
  for (const name of options.requiredClaims) {
    if (!Object.hasOwn(payload, name) || payload[name] === null) {
      throw new VerificationError('claim_missing', { reason: `"${name}" is missing` });
    }
  }
  // `iss` was checked before the key lookup (verifier.ts), so an untrusted issuer costs nothing.
  const aud: unknown = payload.aud;
  if (aud === undefined)
    throw new VerificationError('audience_mismatch', { reason: 'token has no "aud"' });
  if (typeof aud === 'string') {
    // The common shape, checked without building a one-element array.
    if (!options.audiences.includes(aud)) throw new VerificationError('audience_mismatch');
  } else {
    if (!Array.isArray(aud) || !aud.every((a) => typeof a === 'string')) {
      throw new VerificationError('claim_invalid', {
        reason: '"aud" is neither a string nor an array of strings',
      });
    }
    if (!aud.some((a: string) => options.audiences.includes(a))) {
      throw new VerificationError('audience_mismatch');
    }
  }
  // `scope` may be a string or an array of strings (as `scp`): scopes.ts checks it where a guard
  // reads it, so a route without a scope guard does not refuse a token for its shape.
  for (const name of STRING_CLAIMS) {
    if (payload[name] !== undefined && typeof payload[name] !== 'string') {
      throw new VerificationError('claim_invalid', { reason: `"${name}" is not a string` });
    }
  }
}

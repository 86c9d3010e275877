import { VerificationError } from './errors.js';
import { normalizeTyp } from './options.js';
import type { NormalizedOptions } from './options.js';
import type { TokenHeader, TokenPayload } from './types.js';

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
 * Checks the time claims against `now`, with the tolerance on each side: exactly at the
 * tolerance passes, past it fails. Runs on every token-cache hit too.
 */
export function checkTimes(times: TimeClaims, now: number, options: TimeOptions): void {
  const leeway = options.clockTolerance;
  if (times.exp !== undefined && now - leeway > times.exp) {
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

type IdentityOptions = Pick<NormalizedOptions, 'audiences' | 'requiredClaims'>;

/** Checks `typ` of the signed token's header (RFC 8725 §3.11: explicit typing). */
export function checkTyp(header: TokenHeader, options: Pick<NormalizedOptions, 'typ'>): void {
  if (options.typ === undefined) return;
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== options.typ) {
    throw new VerificationError('typ_mismatch');
  }
}

/** Checks required claims and `aud` (exact member, never a prefix). */
export function checkIdentity(payload: TokenPayload, options: IdentityOptions): void {
  for (const name of options.requiredClaims) {
    if (!Object.hasOwn(payload, name) || payload[name] === null) {
      throw new VerificationError('claim_missing', { reason: `"${name}" is missing` });
    }
  }
  // `iss` was checked before the key lookup (verifier.ts), so an untrusted issuer costs nothing.
  const aud: unknown = payload.aud;
  const auds = typeof aud === 'string' ? [aud] : aud;
  if (auds === undefined)
    throw new VerificationError('audience_mismatch', { reason: 'token has no "aud"' });
  if (!Array.isArray(auds) || !auds.every((a) => typeof a === 'string')) {
    throw new VerificationError('claim_invalid', {
      reason: '"aud" is neither a string nor an array of strings',
    });
  }
  if (!auds.some((a) => options.audiences.includes(a))) {
    throw new VerificationError('audience_mismatch');
  }
  for (const name of ['sub', 'jti', 'client_id', 'scope'] as const) {
    if (payload[name] !== undefined && typeof payload[name] !== 'string') {
      throw new VerificationError('claim_invalid', { reason: `"${name}" is not a string` });
    }
  }
}

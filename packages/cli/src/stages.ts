// Which step of the verifier's path refused a token, from what the run recorded. The order is
// core's (verifier.ts: classify, decrypt, issuer, key lookup, signature, then claims.ts's
// checks); the CLI test of every refusal code pins it, so a change of order shows up there.
import type { Run } from './verify.js';

/** `pass`, `fail`, `not_reached` (an earlier step failed) or `none` (does not apply). */
export type Verdict = 'pass' | 'fail' | 'not_reached' | 'none';

/** The verifier's steps, in the order it runs them. */
export const STAGES = ['token', 'decrypt', 'issuer', 'key', 'signature', 'claims'] as const;
export type Stage = (typeof STAGES)[number];

/** Which step of the verifier's path refused the token (from its code, reason and trace). */
export function failedStage(run: Run): Stage | undefined {
  const err = run.failure;
  if (!err) return undefined;
  const jwe = run.decoded?.layers[0]?.kind === 'JWE';
  switch (err.code) {
    case 'token_malformed':
      // The outer layer decoded, so what was malformed is inside the JWE.
      return jwe ? 'decrypt' : 'token';
    case 'token_too_large':
    case 'clock_unavailable':
      return 'token';
    case 'decryption_failed':
    case 'enc_not_allowed':
    case 'encryption_required':
      return 'decrypt';
    case 'alg_not_allowed':
      return err.reason?.startsWith('JWE') ? 'decrypt' : 'signature';
    case 'issuer_mismatch':
      return 'issuer';
    case 'kid_unknown':
      // Keys were found but more fit than may be tried: the signature step gave up.
      return run.lookup?.keys?.length ? 'signature' : 'key';
    case 'jwks_unavailable':
      return 'key';
    case 'signature_invalid':
      return 'signature';
    default:
      return 'claims';
  }
}

/** A step's verdict: passed before the failing step, failed at it, not reached after it. */
export function verdictOf(stage: Stage, failed: Stage | undefined): Verdict {
  if (failed === undefined) return 'pass';
  const [i, f] = [STAGES.indexOf(stage), STAGES.indexOf(failed)];
  return i < f ? 'pass' : i === f ? 'fail' : 'not_reached';
}

/** The claim checks, in the order claims.ts runs them (`types`: sub, jti, client_id are strings). */
export const CLAIM_CHECKS = ['header', 'exp', 'nbf', 'iat', 'required', 'aud', 'types'] as const;
export type ClaimCheck = (typeof CLAIM_CHECKS)[number];

/** Which claim check refused the token, in claims.ts's order. */
export function failedClaim(run: Run): ClaimCheck {
  const err = run.failure!;
  const named = /"(\w+)"/.exec(err.reason ?? '')?.[1];
  switch (err.code) {
    case 'token_expired':
      return 'exp';
    case 'token_not_yet_valid':
      return named === 'iat' ? 'iat' : 'nbf';
    case 'token_too_old':
      return 'iat';
    case 'claim_missing':
      return 'required';
    case 'audience_mismatch':
      return 'aud';
    default:
      if (err.reason?.includes('JWE header')) return 'header';
      return CLAIM_CHECKS.includes(named as ClaimCheck) ? (named as ClaimCheck) : 'types';
  }
}

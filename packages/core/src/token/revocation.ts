// The `revoked` hook: asked after verification and again on every token-cache hit, so a token
// revoked after it was cached is refused from the next request on. The hook answers for a
// verified token only: a forged or expired token never reaches it.
import { VerificationError, isVerificationError } from '../errors.js';
import { isPromiseLike } from '../lib/maybe-promise.js';
import type { MaybePromise } from '../lib/maybe-promise.js';
import type { TokenHeader, TokenPayload, VerifiedToken } from './types.js';

/**
 * Answers whether a verified token is revoked: `true` refuses it with 401 `token_revoked`,
 * `false` accepts it. Anything else (another value, a throw, a rejection) fails closed with 503
 * `revocation_unavailable`; a thrown `VerificationError` is answered as is (a denylist that is
 * unsure its list is current throws `revocation_unavailable` itself).
 * A synchronous answer keeps the token-cache hit synchronous: no promise, no await.
 */
export interface RevokedHook {
  (payload: TokenPayload, header: TokenHeader): boolean | PromiseLike<boolean>;
  /**
   * Optional: a number the hook changes whenever a token it answered `false` for might now be
   * revoked (a new entry, a reconnect), and sets to `NaN` while its answers must be asked every
   * time (a denylist unsure of its list). While it is unchanged, a cached token the hook
   * synchronously answered `false` for is not asked again: a cache hit costs no lookup.
   * `createRedisDenylist().revoked` keeps one.
   */
  readonly version?: number;
}

/** What the token cache keeps per token: the hook's `version` at its last synchronous `false`. */
export interface RevocationMemo {
  revocationVersion: number;
}

/** Checks the `revoked` option; a TypeError at construction for anything but a function. */
export function normalizeRevoked(value: unknown): RevokedHook | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new TypeError('"revoked" must be a function (payload, header) => boolean');
  }
  return value as RevokedHook;
}

/** The log hints of a refusal: the verified token's key and issuer, as every other record. */
function withDetails(err: VerificationError, result: VerifiedToken): VerificationError {
  const { header, payload } = result;
  err.details ??= { kid: header.kid, alg: header.alg, iss: payload.iss };
  return err;
}

/** The error for a hook that failed: its own VerificationError, or a typed 503 with the cause. */
function hookFailure(err: unknown): VerificationError {
  if (isVerificationError(err)) return err;
  // The cause is kept for the log record only; the client sees the fixed 503 description.
  return new VerificationError('revocation_unavailable', {
    cause: err,
    reason: 'the revoked hook threw',
  });
}

function judge(answer: unknown, result: VerifiedToken): VerifiedToken {
  if (answer === false) return result;
  if (answer === true) {
    throw withDetails(
      new VerificationError('token_revoked', { reason: 'the revoked hook answered true' }),
      result,
    );
  }
  // `undefined` from a hook that forgot to return is not "not revoked": fail closed, loudly.
  throw withDetails(
    new VerificationError('revocation_unavailable', {
      reason: 'the revoked hook answered neither true nor false',
    }),
    result,
  );
}

/**
 * The verified token when `hook` says it is not revoked: synchronously for a synchronous hook,
 * a promise only when the hook answers with one. Throws (or rejects with) `token_revoked` or
 * `revocation_unavailable`. `memo` is the token's cache entry: with a hook `version`, a
 * synchronous `false` is remembered there until the version changes.
 */
export function checkRevocation(
  result: VerifiedToken,
  hook: RevokedHook | undefined,
  memo?: RevocationMemo,
): MaybePromise<VerifiedToken> {
  if (hook === undefined) return result;
  // Read before the call: a version that moves during it is not the one the answer belongs to.
  const version = hook.version;
  // NaN never equals itself, and `undefined` is never stored: such hooks are asked every time.
  if (memo !== undefined && version === memo.revocationVersion) return result;
  let answer: unknown;
  try {
    answer = hook(result.payload, result.header);
  } catch (err) {
    throw withDetails(hookFailure(err), result);
  }
  if (!isPromiseLike(answer)) {
    const accepted = judge(answer, result);
    if (memo !== undefined && typeof version === 'number') memo.revocationVersion = version;
    return accepted;
  }
  // Promise.resolve adopts any thenable (lib/maybe-promise.ts).
  return Promise.resolve(answer).then(
    (settled) => judge(settled, result),
    (err: unknown) => {
      throw withDetails(hookFailure(err), result);
    },
  );
}

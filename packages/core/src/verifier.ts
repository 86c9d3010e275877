import {
  checkIdentity,
  checkReplicatedClaims,
  checkTimes,
  checkTyp,
  readTimeClaims,
} from './token/claims.js';
import { createCheckedClock } from './config/clock.js';
import type { TimeClaims } from './token/claims.js';
import { openJwe } from './token/decrypt.js';
import type { Opened } from './token/decrypt.js';
import { VerificationError, fromJoseError } from './errors.js';
import type { TokenDetails } from './errors.js';
import { createEmitter } from './telemetry/events.js';
import type { Emitter } from './telemetry/events.js';
import { stderrLogger, toLogger } from './telemetry/log.js';
import { createPolicySet } from './issuers/policy-set.js';
import { assertKnownOptions } from './config/option-names.js';
import { isPromiseLike } from './lib/maybe-promise.js';
import type { MaybePromise } from './lib/maybe-promise.js';
import { deepFreeze } from './lib/freeze.js';
import { checkRevocation } from './token/revocation.js';
import type { RevocationMemo } from './token/revocation.js';
import { normalizeShared } from './config/options.js';
import type { SharedOptions } from './config/options.js';
import type { Clock } from './config/clock.js';
import type { PolicySet } from './issuers/policy-set.js';
import type { NormalizedOptions, VerifierOptions } from './config/options.js';
import { assertEncryptionAllowed } from './issuers/policy.js';
import type { Policy } from './issuers/policy.js';
import { verifyJwsSignature } from './token/signature.js';
import { parsePayload, parseToken } from './token/compact.js';
import type { ParsedJws } from './token/compact.js';
import { createTokenCache } from './token/cache.js';
import type { TokenHeader, TokenPayload, VerifiedToken } from './token/types.js';
import type { VerificationKey } from './keys/types.js';

/** The key that verifies the signature; awaits only when the key source has to. */
function checkSignature(
  policy: Policy,
  jws: ParsedJws,
): VerificationKey | Promise<VerificationKey> {
  const alg = jws.header.alg;
  if (!policy.options.algorithms.has(alg)) throw new VerificationError('alg_not_allowed');
  const candidates = policy.keys.getKeys({ kid: jws.header.kid, alg });
  const max = policy.options.maxCandidateKeys;
  // Promise.resolve adopts any thenable a custom key source returns.
  return isPromiseLike(candidates)
    ? Promise.resolve(candidates).then((keys) => verifyWithAny(alg, keys, jws, max))
    : verifyWithAny(alg, candidates, jws, max);
}

// Bounded work per token: at most `max` signature checks, however many keys fit the header.
function verifyWithAny(
  alg: string,
  keys: readonly VerificationKey[],
  jws: ParsedJws,
  max: number,
): VerificationKey {
  const tries = Math.min(keys.length, max);
  for (let i = 0; i < tries; i++) {
    const key = keys[i]!;
    if (verifyJwsSignature(alg, key, jws)) return key;
  }
  if (keys.length > max) {
    // The right key may be among those not tried: the token did not say which one it is.
    throw new VerificationError('kid_unknown', { reason: 'too many candidate keys' });
  }
  throw new VerificationError('signature_invalid');
}

/**
 * DESIGN: a token bound to a key or certificate (`cnf`) is never accepted as a plain bearer
 * token. `verify()` alone cannot see the request that would prove the binding, so it refuses
 * bound tokens unless its caller checks the binding itself (createGate does, for every adapter).
 */
function assertUnbound(result: VerifiedToken, options: VerifyOptions | undefined): VerifiedToken {
  const cnf = result.payload.cnf;
  if (cnf === undefined) return result;
  let err: VerificationError | undefined;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) {
    err = new VerificationError('claim_invalid', { reason: '"cnf" is not an object' });
  } else if (Object.keys(cnf).some((member) => !CHECKED_CONFIRMATIONS.has(member))) {
    // RFC 7800 §3 methods tokengate cannot check (jwk, jku, kid, ...): accepting the token
    // would turn a bound token into a bearer token, whatever the caller checks.
    err = new VerificationError('token_binding_mismatch', {
      reason: 'token is bound by an unsupported confirmation method',
    });
  } else if (
    !options?.bindingChecked &&
    (Object.hasOwn(cnf, 'jkt') || Object.hasOwn(cnf, 'x5t#S256'))
  ) {
    err = new VerificationError('token_binding_mismatch', {
      reason: 'bound token was verified without its request',
    });
  }
  if (err) {
    err.details = { kid: result.header.kid, alg: result.header.alg, iss: result.payload.iss };
    throw err;
  }
  return result;
}

/** Telemetry of a refusal on the cached path (`cached()`), which has no duration; rethrows. */
function rejectedFromCache(telemetry: Emitter, err: unknown): never {
  if (telemetry.active()) {
    telemetry.emit({
      type: 'token.rejected',
      code: (err as VerificationError).code,
      durationMs: 0,
    });
  }
  throw err;
}

/** The `cnf` members the gate checks against the request: RFC 9449 §6 and RFC 8705 §3. */
const CHECKED_CONFIRMATIONS: ReadonlySet<string> = new Set(['jkt', 'x5t#S256']);

interface Entry extends RevocationMemo {
  result: VerifiedToken;
  times: TimeClaims;
  policyOptions: NormalizedOptions;
  policy: Policy;
  key: VerificationKey | undefined;
}

/** Options of one verification. */
export interface VerifyOptions {
  /**
   * The caller checks a bound token's `cnf` (DPoP key, client certificate) against the request
   * itself, as `createGate` does. Without it a bound token is refused with
   * `token_binding_mismatch`: `verify()` alone cannot see the proof.
   */
  bindingChecked?: boolean;
}

/** A configured verifier: what `createVerifier` returns and every adapter calls. */
export interface Verifier {
  /**
   * Verifies a compact JWS, JWE or nested token. Resolves to the verified token or rejects with
   * a VerificationError (never another error type). `request` is handed to an issuer resolver.
   */
  verify(token: string, request?: unknown, options?: VerifyOptions): Promise<VerifiedToken>;
  /**
   * Synchronous token-cache lookup: the verified result when this exact token was verified
   * before and is still valid now; `undefined` when it is not cached. Throws a VerificationError
   * when the cached token has since expired, its key was removed or it is revoked. A promise
   * only when a `revoked` hook answers with one (a synchronous hook keeps the hit synchronous).
   */
  cached(token: string, options?: VerifyOptions): MaybePromise<VerifiedToken> | undefined;
  /** Loads remote keys (and discovery metadata) now; resolves when verification can proceed. */
  ready(): Promise<void>;
}

// Shared by every request that presents the same token (the cache): nobody may change it.
function frozenResult(
  token: string,
  header: TokenHeader,
  payload: TokenPayload,
  opened: Opened | undefined,
): VerifiedToken {
  // Spelled out rather than spread: the same object shape, built without a generic copy.
  return deepFreeze(
    opened ? { payload, header, encryption: opened.encryption, token } : { payload, header, token },
  );
}

/**
 * The pipeline for a token not in the cache (ARCHITECTURE.md): classify, decrypt, choose the
 * issuer's policy, re-check the encryption, resolve the key and verify, check the claims, cache.
 * Synchronous as long as every step is (a JWS, a policy and keys at hand): it returns the result
 * itself, and a promise only from the first step that has to wait (decryption, an issuer
 * resolver, a key source), so no layer adds a promise hop when nothing is asynchronous. Throws
 * (or rejects) with whatever a step threw.
 */
function createPipeline(
  shared: SharedOptions,
  policies: PolicySet,
  now: Clock,
  cache: { set(token: string, entry: Entry): void } | undefined,
): (token: string, details: TokenDetails, request: unknown) => MaybePromise<VerifiedToken> {
  /** Steps 4 on: the payload is read, the signature (if any) not yet checked. */
  function afterClassify(
    token: string,
    details: TokenDetails,
    request: unknown,
    jws: ParsedJws | undefined,
    opened: Opened | undefined,
  ): MaybePromise<VerifiedToken> {
    // Read before the signature check only to choose the issuer's policy, never to fetch a URL.
    const payload = jws ? parsePayload(jws) : (opened as { claims: TokenPayload }).claims;
    details.iss = payload.iss;
    const chosen = policies.choose(payload.iss, request);
    // Promise.resolve adopts any thenable a custom issuer resolver returns.
    return isPromiseLike(chosen)
      ? Promise.resolve(chosen).then((policy) => withPolicy(token, policy, jws, opened, payload))
      : withPolicy(token, chosen, jws, opened, payload);
  }

  function withPolicy(
    token: string,
    policy: Policy,
    jws: ParsedJws | undefined,
    opened: Opened | undefined,
    payload: TokenPayload,
  ): MaybePromise<VerifiedToken> {
    const policyOptions = policy.options;
    // An untrusted issuer costs no key lookup (and so no JWKS request).
    if (typeof payload.iss !== 'string' || !policyOptions.issuers.includes(payload.iss)) {
      throw new VerificationError('issuer_mismatch');
    }
    if (opened) assertEncryptionAllowed(policyOptions, opened.encryption);
    else if (policyOptions.requireEncryption) throw new VerificationError('encryption_required');
    if (!jws) {
      if (!policyOptions.decryption?.allowUnsignedClaims) {
        // An encrypted token proves nothing about its author: anyone can encrypt to us.
        throw new VerificationError('token_malformed', { reason: 'encrypted token is not signed' });
      }
      return accept(token, policy, opened!.encryption, opened, payload, undefined);
    }
    const checked = checkSignature(policy, jws);
    return isPromiseLike(checked)
      ? checked.then((key) => accept(token, policy, jws.header, opened, payload, key))
      : accept(token, policy, jws.header, opened, payload, checked);
  }

  /** Steps 7 and 8: the claims, then the cache. */
  function accept(
    token: string,
    policy: Policy,
    header: TokenHeader,
    opened: Opened | undefined,
    payload: TokenPayload,
    key: VerificationKey | undefined,
  ): MaybePromise<VerifiedToken> {
    const policyOptions = policy.options;
    checkTyp(header, policyOptions);
    if (opened) checkReplicatedClaims(opened.encryption, payload);
    const times = readTimeClaims(payload);
    checkTimes(times, now(), policyOptions);
    checkIdentity(payload, policyOptions);
    const result = frozenResult(token, header, payload, opened);
    const entry: Entry = { result, times, policyOptions, policy, key, revocationVersion: NaN };
    cache?.set(token, entry);
    // After caching: a revoked token is refused again by a cheap cache hit, not re-verified.
    return checkRevocation(result, policyOptions.revoked, entry);
  }

  return function verifyUncached(token, details, request) {
    // First, so a broken clock costs no decryption, key lookup or key-server request.
    now();
    const parsed = parseToken(token, shared.maxTokenLength, details);
    if (parsed.kind === 'jws') return afterClassify(token, details, request, parsed, undefined);
    const opening: MaybePromise<Opened> = openJwe(
      policies.decrypt,
      token,
      parsed.header,
      shared.maxTokenLength,
      details,
    );
    const next = (opened: Opened) =>
      afterClassify(token, details, request, 'jws' in opened ? opened.jws : undefined, opened);
    return isPromiseLike(opening) ? Promise.resolve(opening).then(next) : next(opening);
  };
}

/** A verified token, once it is known not to be bound (and its event emitted). */
function verified(
  telemetry: Emitter,
  result: VerifiedToken,
  options: VerifyOptions | undefined,
  started: number,
): VerifiedToken {
  assertUnbound(result, options);
  if (started) {
    telemetry.emit({
      type: 'token.verified',
      iss: result.payload.iss,
      alg: result.header.alg,
      nested: result.encryption !== undefined,
      durationMs: performance.now() - started,
    });
  }
  return result;
}

/** Any failure as a VerificationError with the token's details (and its event emitted). */
function rejected(
  telemetry: Emitter,
  err: unknown,
  details: TokenDetails,
  started: number,
): VerificationError {
  const failure = fromJoseError(err, 'token_malformed');
  failure.details ??= details;
  if (started) {
    telemetry.emit({
      type: 'token.rejected',
      code: failure.code,
      durationMs: performance.now() - started,
    });
  }
  return failure;
}

/**
 * Creates a verifier: one trusted issuer (`issuer`), several (`issuers: [...]`), or issuers
 * looked up at run time (`issuers: async (iss) => policy`). Every configuration mistake throws a
 * TypeError here, never on a request.
 *
 * @example
 * const verifier = createVerifier({
 *   issuer: 'https://issuer.example.com/',
 *   audience: 'api://orders',
 *   jwksUri: 'https://issuer.example.com/.well-known/jwks.json',
 * });
 * const { payload } = await verifier.verify(token);
 */
export function createVerifier(options: VerifierOptions): Verifier {
  assertKnownOptions(options, ['top']);
  const shared = normalizeShared(options);
  const policies = createPolicySet(options, shared.now);
  const cache = shared.tokenCache ? createTokenCache<Entry>(shared.tokenCache) : undefined;
  const telemetry = createEmitter(options.onEvent);
  // Every time check reads this one: a broken clock fails closed (503), logged once per outage.
  const now = createCheckedClock(shared.now, toLogger(options.logger, stderrLogger));
  const verifyUncached = createPipeline(shared, policies, now, cache);

  /**
   * Token-cache lookup; throws when a cached token is no longer valid or is revoked. A promise
   * only when the `revoked` hook answers with one.
   */
  function lookup(token: string): MaybePromise<VerifiedToken> | undefined {
    const entry = cache?.get(token);
    if (!entry) return undefined;
    // Read outside the try: a broken clock says nothing about the cached token.
    const time = now();
    try {
      checkTimes(entry.times, time, entry.policyOptions);
      if (entry.key && !entry.policy.keys.isPublished(entry.key)) {
        throw new VerificationError('kid_unknown', {
          reason: 'the verifying key is no longer published',
        });
      }
    } catch (err) {
      cache!.delete(token);
      const { header, payload } = entry.result;
      (err as VerificationError).details = { kid: header.kid, alg: header.alg, iss: payload.iss };
      throw err;
    }
    if (telemetry.active()) telemetry.emit({ type: 'cache.hit' });
    // Outside the try: a revoked token stays cached, so asking again costs a lookup, not a
    // signature check.
    return checkRevocation(entry.result, entry.policyOptions.revoked, entry);
  }

  return {
    cached(token, options) {
      try {
        const hit = lookup(token);
        if (hit === undefined || !isPromiseLike(hit)) return hit && assertUnbound(hit, options);
        return Promise.resolve(hit).then(
          (r) => assertUnbound(r, options),
          (err: unknown) => rejectedFromCache(telemetry, err),
        );
      } catch (err) {
        return rejectedFromCache(telemetry, err);
      }
    },
    verify(token, request, options) {
      const details: TokenDetails = {};
      const started = telemetry.active() ? performance.now() : 0;
      let outcome: MaybePromise<VerifiedToken>;
      try {
        const hit = lookup(token);
        if (hit && !isPromiseLike(hit)) return Promise.resolve(assertUnbound(hit, options));
        if (hit) {
          // An asynchronous revoked hook answering for a cached token.
          return Promise.resolve(hit)
            .then((result) => assertUnbound(result, options))
            .catch((err: unknown) => {
              throw rejected(telemetry, err, details, started);
            });
        }
        outcome = verifyUncached(token, details, request);
        // The common case (keys at hand): settled here, one promise for the public API only.
        if (!isPromiseLike(outcome))
          return Promise.resolve(verified(telemetry, outcome, options, started));
      } catch (err) {
        return Promise.reject(rejected(telemetry, err, details, started));
      }
      return Promise.resolve(outcome).then(
        (result) => {
          try {
            return verified(telemetry, result, options, started);
          } catch (err) {
            throw rejected(telemetry, err, details, started);
          }
        },
        (err: unknown) => {
          throw rejected(telemetry, err, details, started);
        },
      );
    },
    ready: () => policies.ready(),
  };
}

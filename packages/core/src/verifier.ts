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
import { VerificationError, fromJoseError } from './errors.js';
import type { TokenDetails } from './errors.js';
import { createEmitter } from './telemetry/events.js';
import type { Emitter } from './telemetry/events.js';
import { stderrLogger, toLogger } from './telemetry/log.js';
import { createPolicySet } from './issuers/policy-set.js';
import { assertKnownOptions } from './config/option-names.js';
import { isPromiseLike } from './lib/maybe-promise.js';
import type { MaybePromise } from './lib/maybe-promise.js';
import { checkRevocation } from './token/revocation.js';
import type { RevocationMemo } from './token/revocation.js';
import { normalizeShared } from './config/options.js';
import type { SharedOptions } from './config/options.js';
import type { Clock } from './config/clock.js';
import type { PolicySet } from './issuers/policy-set.js';
import type { NormalizedOptions, VerifierOptions } from './config/options.js';
import { assertEncryptionAllowed } from './issuers/policy.js';
import type { Policy } from './issuers/policy.js';
import { verifySignature } from './token/signature.js';
import { parsePayload, parseToken } from './token/compact.js';
import type { ParsedJws } from './token/compact.js';
import { createTokenCache } from './token/cache.js';
import type { TokenPayload, VerifiedToken } from './token/types.js';
import type { VerificationKey } from './keys/types.js';

// The result is shared by every request that presents the same token: nobody may change it.
// Iterative, so its cost is bounded by the size of the value, never by the call stack (decoded
// JSON is at most MAX_JSON_DEPTH deep anyway).
function deepFreeze<T>(value: T): T {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next !== 'object' || next === null || Object.isFrozen(next)) continue;
    Object.freeze(next);
    for (const key in next) pending.push((next as Record<string, unknown>)[key]);
  }
  return value;
}

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
    if (verifySignature(alg, key, jws.signingInput, jws.signature)) return key;
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

/**
 * The pipeline for a token not in the cache (ARCHITECTURE.md): classify, decrypt, choose the
 * issuer's policy, re-check the encryption, resolve the key and verify, check the claims, cache.
 */
function createPipeline(
  shared: SharedOptions,
  policies: PolicySet,
  now: Clock,
  cache: { set(token: string, entry: Entry): void } | undefined,
): (token: string, details: TokenDetails, request: unknown) => Promise<VerifiedToken> {
  return async function verifyUncached(
    token: string,
    details: TokenDetails,
    request: unknown,
  ): Promise<VerifiedToken> {
    // First, so a broken clock costs no decryption, key lookup or key-server request.
    now();
    const parsed = parseToken(token, shared.maxTokenLength, details);
    const opened =
      parsed.kind === 'jwe'
        ? await openJwe(policies.decrypt, token, parsed.header, shared.maxTokenLength, details)
        : undefined;
    const jws = opened ? ('jws' in opened ? opened.jws : undefined) : (parsed as ParsedJws);
    // Read before the signature check only to choose the issuer's policy, never to fetch a URL.
    const payload = jws ? parsePayload(jws) : (opened as { claims: TokenPayload }).claims;
    details.iss = payload.iss;
    const chosen = policies.choose(payload.iss, request);
    const policy = isPromiseLike(chosen) ? await chosen : chosen;
    const policyOptions = policy.options;
    // An untrusted issuer costs no key lookup (and so no JWKS request).
    if (typeof payload.iss !== 'string' || !policyOptions.issuers.includes(payload.iss)) {
      throw new VerificationError('issuer_mismatch');
    }
    if (opened) assertEncryptionAllowed(policyOptions, opened.encryption);
    else if (policyOptions.requireEncryption) throw new VerificationError('encryption_required');
    let key: VerificationKey | undefined;
    if (jws) {
      const checked = checkSignature(policy, jws);
      key = isPromiseLike(checked) ? await checked : checked;
    } else if (!policyOptions.decryption?.allowUnsignedClaims) {
      // An encrypted token proves nothing about its author: anyone can encrypt to us.
      throw new VerificationError('token_malformed', { reason: 'encrypted token is not signed' });
    }
    const header = jws ? jws.header : opened!.encryption;
    checkTyp(header, policyOptions);
    if (opened) checkReplicatedClaims(opened.encryption, payload);
    const times = readTimeClaims(payload);
    checkTimes(times, now(), policyOptions);
    checkIdentity(payload, policyOptions);
    const result: VerifiedToken = deepFreeze({
      payload,
      header,
      ...(opened && { encryption: opened.encryption }),
      token,
    });
    const entry: Entry = { result, times, policyOptions, policy, key, revocationVersion: NaN };
    cache?.set(token, entry);
    // After caching: a revoked token is refused again by a cheap cache hit, not re-verified.
    return checkRevocation(result, policyOptions.revoked, entry);
  };
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
    async verify(token, request, options) {
      const details: TokenDetails = {};
      const started = telemetry.active() ? performance.now() : 0;
      try {
        const hit = lookup(token);
        if (hit) return assertUnbound(isPromiseLike(hit) ? await hit : hit, options);
        const result = assertUnbound(await verifyUncached(token, details, request), options);
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
      } catch (err) {
        const failure = fromJoseError(err, 'token_malformed');
        failure.details ??= details;
        if (started) {
          telemetry.emit({
            type: 'token.rejected',
            code: failure.code,
            durationMs: performance.now() - started,
          });
        }
        throw failure;
      }
    },
    ready: () => policies.ready(),
  };
}

import {
  checkIdentity,
  checkReplicatedClaims,
  checkTimes,
  checkTyp,
  readTimeClaims,
} from './claims.js';
import { createCheckedClock } from './clock.js';
import type { TimeClaims } from './claims.js';
import type { Decryptor } from './decrypt.js';
import { VerificationError, fromJoseError } from './errors.js';
import type { TokenDetails } from './errors.js';
import { createEmitter } from './events.js';
import { stderrLogger, toLogger } from './log.js';
import { createPolicySet } from './issuers.js';
import { assertKnownOptions } from './option-names.js';
import { isPromiseLike } from './promise.js';
import { normalizeShared, normalizeTyp } from './options.js';
import type { NormalizedOptions, VerifierOptions } from './options.js';
import { assertEncryptionAllowed } from './policy.js';
import type { Policy } from './policy.js';
import { verifySignature } from './signature.js';
import { parseJsonObject, parsePayload, parseToken } from './token.js';
import type { ParsedJws } from './token.js';
import { createTokenCache } from './token-cache.js';
import type {
  TokenHeader,
  TokenPayload,
  VerificationKey,
  VerifiedToken,
  Verifier,
  VerifyOptions,
} from './types.js';

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

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

type Opened =
  { jws: ParsedJws; encryption: TokenHeader } | { claims: TokenPayload; encryption: TokenHeader };

/** Opens a JWE: the inner compact JWS, or (only when some policy allows it) its bare claims. */
async function open(
  decrypt: Decryptor | undefined,
  token: string,
  header: TokenHeader,
  maxLength: number,
  details: TokenDetails,
): Promise<Opened> {
  if (!decrypt) {
    throw new VerificationError('decryption_failed', {
      reason: 'no decryption keys are configured',
    });
  }
  const { plaintext, header: encryption } = await decrypt(token, header);
  let text: string;
  try {
    text = utf8.decode(plaintext);
  } catch {
    throw new VerificationError('token_malformed', { reason: 'plaintext is not UTF-8' });
  }
  const cty = encryption.cty === undefined ? undefined : normalizeTyp(encryption.cty);
  if (cty === 'application/jwt' || COMPACT_JWS.test(text)) {
    const inner = parseToken(text, maxLength, details);
    if (inner.kind !== 'jws') {
      throw new VerificationError('token_malformed', { reason: 'nested token is not a JWS' });
    }
    return { jws: inner, encryption };
  }
  return { claims: parseJsonObject(plaintext, 'plaintext') as TokenPayload, encryption };
}

/** The key that verifies the signature; awaits only when the key source has to. */
function checkSignature(
  policy: Policy,
  jws: ParsedJws,
): VerificationKey | Promise<VerificationKey> {
  const alg = jws.header.alg;
  if (!policy.o.algorithms.has(alg)) throw new VerificationError('alg_not_allowed');
  const candidates = policy.keys.getKeys({ kid: jws.header.kid, alg });
  const max = policy.o.maxCandidateKeys;
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

/** The `cnf` members the gate checks against the request: RFC 9449 §6 and RFC 8705 §3. */
const CHECKED_CONFIRMATIONS: ReadonlySet<string> = new Set(['jkt', 'x5t#S256']);

interface Entry {
  result: VerifiedToken;
  times: TimeClaims;
  o: NormalizedOptions;
  policy: Policy;
  key: VerificationKey | undefined;
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

  /** Token-cache lookup; throws when a cached token is no longer valid. */
  function lookup(token: string): VerifiedToken | undefined {
    const entry = cache?.get(token);
    if (!entry) return undefined;
    // Read outside the try: a broken clock says nothing about the cached token.
    const time = now();
    try {
      checkTimes(entry.times, time, entry.o);
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
    return entry.result;
  }

  async function verifyUncached(
    token: string,
    details: TokenDetails,
    request: unknown,
  ): Promise<VerifiedToken> {
    // First, so a broken clock costs no decryption, key lookup or key-server request.
    now();
    const parsed = parseToken(token, shared.maxTokenLength, details);
    const opened =
      parsed.kind === 'jwe'
        ? await open(policies.decrypt, token, parsed.header, shared.maxTokenLength, details)
        : undefined;
    const jws = opened ? ('jws' in opened ? opened.jws : undefined) : (parsed as ParsedJws);
    // Read before the signature check only to choose the issuer's policy, never to fetch a URL.
    const payload = jws ? parsePayload(jws) : (opened as { claims: TokenPayload }).claims;
    details.iss = payload.iss;
    const chosen = policies.choose(payload.iss, request);
    const policy = isPromiseLike(chosen) ? await chosen : chosen;
    const o = policy.o;
    // An untrusted issuer costs no key lookup (and so no JWKS request).
    if (typeof payload.iss !== 'string' || !o.issuers.includes(payload.iss)) {
      throw new VerificationError('issuer_mismatch');
    }
    if (opened) assertEncryptionAllowed(o, opened.encryption);
    else if (o.requireEncryption) throw new VerificationError('encryption_required');
    let key: VerificationKey | undefined;
    if (jws) {
      const checked = checkSignature(policy, jws);
      key = isPromiseLike(checked) ? await checked : checked;
    } else if (!o.decryption?.allowUnsignedClaims) {
      // An encrypted token proves nothing about its author: anyone can encrypt to us.
      throw new VerificationError('token_malformed', { reason: 'encrypted token is not signed' });
    }
    const header = jws ? jws.header : opened!.encryption;
    checkTyp(header, o);
    if (opened) checkReplicatedClaims(opened.encryption, payload);
    const times = readTimeClaims(payload);
    checkTimes(times, now(), o);
    checkIdentity(payload, o);
    const result: VerifiedToken = deepFreeze({
      payload,
      header,
      ...(opened && { encryption: opened.encryption }),
      token,
    });
    cache?.set(token, { result, times, o, policy, key });
    return result;
  }

  return {
    cached(token, options) {
      try {
        const hit = lookup(token);
        return hit && assertUnbound(hit, options);
      } catch (err) {
        if (telemetry.active()) {
          telemetry.emit({
            type: 'token.rejected',
            code: (err as VerificationError).code,
            durationMs: 0,
          });
        }
        throw err;
      }
    },
    async verify(token, request, options) {
      const details: TokenDetails = {};
      const started = telemetry.active() ? performance.now() : 0;
      try {
        const hit = lookup(token);
        if (hit) return assertUnbound(hit, options);
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

import { VerificationError } from '../errors.js';
import type { KeySelector, KeySource, VerificationKey } from './types.js';
import {
  KeyRejected,
  SIGNATURE_ALGORITHMS,
  importVerificationKey,
  keyFitsAlg,
  privateMaterialOf,
} from './jwk.js';

/**
 * Picks the keys for a header from a list: the keys with that `kid` that fit `alg`, or, without
 * a `kid`, the keys that fit `alg`, in set order. Shared by local and remote sets; the verifier
 * tries at most `maxCandidateKeys` of them.
 */
export function selectKeys(
  byKid: ReadonlyMap<string, readonly VerificationKey[]>,
  all: readonly VerificationKey[],
  { kid, alg }: KeySelector,
): VerificationKey[] {
  const pool = kid === undefined ? all : (byKid.get(kid) ?? []);
  return pool.filter((k) => keyFitsAlg(k, alg));
}

/** Indexes keys by `kid`; a Map, so a `kid` of `__proto__` is just a string. */
export function indexByKid(keys: readonly VerificationKey[]): Map<string, VerificationKey[]> {
  const map = new Map<string, VerificationKey[]>();
  for (const key of keys) {
    if (key.kid === undefined) continue;
    const list = map.get(key.kid);
    if (list) list.push(key);
    else map.set(key.kid, [key]);
  }
  return map;
}

// A static set is configuration, so an ambiguous one is refused at start-up. RFC 8725 §3.1: HMAC
// secrets beside public keys invite key confusion (and a set holding a secret must never look
// publishable). RFC 7517 §4.5: one `kid` names one key, unless the key types differ; two keys
// under one `kid` for the same algorithm would let a rotated-out key keep verifying.
function assertUnambiguous(keys: readonly VerificationKey[]): void {
  if (keys.some((k) => k.kty === 'oct') && keys.some((k) => k.kty !== 'oct')) {
    throw new TypeError('"keys" must not mix symmetric (oct) and public keys');
  }
  keys.forEach((key, i) => {
    const twin = keys.findIndex(
      (other, j) =>
        j > i &&
        key.kid !== undefined &&
        other.kid === key.kid &&
        SIGNATURE_ALGORITHMS.some((alg) => keyFitsAlg(key, alg) && keyFitsAlg(other, alg)),
    );
    if (twin >= 0) throw new TypeError(`"keys[${twin}]" repeats the "kid" of "keys[${i}]"`);
  });
}

/**
 * A static set of verification keys (a JWKS object or a JWK list), imported once. An invalid
 * key is a configuration mistake: TypeError at construction.
 */
export function createLocalKeySet(
  input: { keys: readonly unknown[] } | readonly unknown[],
  { allowSymmetric = false }: { allowSymmetric?: boolean } = {},
): KeySource {
  const list: unknown = Array.isArray(input) ? input : (input as { keys: readonly unknown[] }).keys;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError('"keys" must be a JWKS object or a non-empty array of JWKs');
  }
  const keys = (list as readonly unknown[]).map((jwk, i) => {
    const secret = typeof jwk === 'object' && jwk !== null ? privateMaterialOf(jwk) : undefined;
    if (secret !== undefined && !(allowSymmetric && (jwk as { kty?: unknown }).kty === 'oct')) {
      // Verification keys are public: a private key in the configuration is a mistake to fix
      // before it is published anywhere (RFC 7517 §9.2).
      throw new TypeError(`"keys[${i}]" holds ${secret}: configure the public key only`);
    }
    try {
      return importVerificationKey(jwk, { allowSymmetric });
    } catch (err) {
      const why = err instanceof KeyRejected ? err.message : 'invalid key';
      throw new TypeError(`"keys[${i}]" cannot verify signatures: ${why}`, { cause: err });
    }
  });
  assertUnambiguous(keys);
  const published = new Set(keys);
  const byKid = indexByKid(keys);
  return {
    getKeys(selector) {
      const found = selectKeys(byKid, keys, selector);
      if (found.length === 0) return Promise.reject(new VerificationError('kid_unknown'));
      return found;
    },
    isPublished: (key) => published.has(key),
    refresh: async () => {},
  };
}

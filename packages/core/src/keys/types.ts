import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { MaybePromise } from '../lib/maybe-promise.js';

/** A public key ready to verify signatures: imported once per key-set version. */
export interface VerificationKey {
  readonly kid: string | undefined;
  /** The JWK `alg`, when the key names one: then it verifies only that algorithm. */
  readonly alg: string | undefined;
  readonly kty: string;
  /** `crv` for EC and OKP keys. */
  readonly crv: string | undefined;
  /** RSA modulus length in bits (0 for other key types). */
  readonly modulusLength: number;
  /** The public JWK (private members removed). */
  readonly jwk: Readonly<JWK>;
  /** node:crypto key built once from the JWK. */
  readonly keyObject: KeyObject;
}

/** What a key selector receives: the untrusted header fields that choose a key. */
export interface KeySelector {
  kid?: string | undefined;
  alg: string;
}

/** A source of signature verification keys (a remote JWKS, or a static set). */
export interface KeySource {
  /**
   * The keys that may verify a token with this header: the one with the `kid`, or, when the
   * token names none, those that fit `alg` (the verifier tries at most `maxCandidateKeys` of
   * them). May answer synchronously (the hot path awaits nothing then). Rejects with
   * VerificationError `kid_unknown` or `jwks_unavailable`.
   */
  getKeys(selector: KeySelector): MaybePromise<readonly VerificationKey[]>;
  /**
   * Synchronous: whether this key object is still in the current set. The token cache asks this
   * on every hit, so a key removed from the JWKS stops verifying cached tokens at once.
   */
  isPublished(key: VerificationKey): boolean;
  /** Loads the keys now (warm-up). Resolves when keys are available; rejects otherwise. */
  refresh(): Promise<void>;
}

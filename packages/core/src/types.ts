import type { MaybePromise } from './promise.js';
import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';

/** The claims of a verified token. */
export interface TokenPayload {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  /** Space-delimited string, or an array of strings (the scope guards read both). */
  scope?: string | string[];
  scp?: string[];
  client_id?: string;
  [claim: string]: unknown;
}

/** A JOSE protected header as decoded from the token (untrusted until verified). */
export interface TokenHeader {
  alg: string;
  kid?: string;
  typ?: string;
  cty?: string;
  enc?: string;
  [parameter: string]: unknown;
}

/** What `verify` resolves to, and what the adapters attach as `auth`. */
export interface VerifiedToken<P extends TokenPayload = TokenPayload> {
  /** The verified claims. */
  payload: P;
  /** The protected header of the signed token (the inner JWS when nested). */
  header: TokenHeader;
  /** The JWE protected header when the token was encrypted. */
  encryption?: TokenHeader;
  /** The compact token as received. */
  token: string;
}

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

/** A pino-compatible logger: `warn(obj, msg)` and `error(obj, msg)`. */
export interface Logger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
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
   * when the cached token has since expired or its key was removed.
   */
  cached(token: string, options?: VerifyOptions): VerifiedToken | undefined;
  /** Loads remote keys (and discovery metadata) now; resolves when verification can proceed. */
  ready(): Promise<void>;
}

import type { JWK } from 'jose';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { toSeconds } from './duration.js';
import { booleanOption, orDefault } from './option-default.js';
import type { Duration } from './duration.js';
import { SIGNATURE_ALGORITHMS, isSymmetricAlg } from '../keys/jwk.js';
import type { RemoteJwksOptions } from '../keys/remote-jwks.js';
import type { EventSink } from '../telemetry/events.js';
import { toLogger } from '../telemetry/log.js';
import type { LoggerOption } from '../telemetry/log.js';
import { normalizeTyp } from '../token/claims.js';
import type { KeySource } from '../keys/types.js';
import { normalizeRevoked } from '../token/revocation.js';
import type { RevokedHook } from '../token/revocation.js';

/** The receiver's own private keys, to decrypt JWE tokens. */
export interface DecryptionOptions {
  /** Private JWKs, each with a `kid` when there are several (selected by the JWE header `kid`). */
  keys: readonly JWK[];
  /** JWE `alg` allow-list. Default `['RSA-OAEP-256', 'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A256KW']`. */
  keyManagementAlgorithms?: readonly string[];
  /** JWE `enc` allow-list. Default `['A256GCM', 'A128GCM', 'A256CBC-HS512', 'A128CBC-HS256']`. */
  contentEncryptionAlgorithms?: readonly string[];
  /**
   * Warning: an encrypted token proves nothing about who made it (anyone with the receiver's
   * public key can encrypt). When true, a JWE whose plaintext is a JSON claim set is accepted
   * without a signature. Default false.
   */
  allowUnsignedClaims?: boolean;
  /**
   * Warning: compressed JWE (`zip: "DEF"`) can inflate a small token into a huge plaintext.
   * Refused unless set: the most bytes a compressed plaintext may inflate to. Default 0 (refused).
   */
  maxDecompressedBytes?: number;
}

/** What one trusted issuer's tokens must satisfy, and where its keys come from. */
export interface PolicyOptions {
  /** Expected `aud` (the token's `aud` must contain one of these, exactly). Required. */
  audience: string | readonly string[];
  /** The issuer's JWKS URL. One of `jwksUri`, `discovery`, `keys` or `keySource` is required. */
  jwksUri?: string;
  /** Read `jwks_uri` from the issuer's `/.well-known/openid-configuration`. Needs one issuer. */
  discovery?: boolean;
  /** Static verification keys: a JWKS object or a list of JWKs. */
  keys?: { keys: readonly JWK[] } | readonly JWK[];
  /** A custom key source (advanced; takes the place of `jwksUri` / `keys`). */
  keySource?: KeySource;
  /**
   * Options for the remote JWKS cache (timeouts, TTLs, cooldown, store). By default verifiers in
   * one process that name the same `jwksUri` share one cache (the first one's limits apply);
   * `shared: false` gives this verifier a cache of its own.
   */
  jwks?: Omit<RemoteJwksOptions, 'now'> & { shared?: boolean };
  /** JWS `alg` allow-list. Default: RS256, PS256, ES256, ES384, EdDSA, Ed25519. */
  algorithms?: readonly string[];
  /** The receiver's private keys for JWE. */
  decryption?: DecryptionOptions;
  /** When true a plain JWS is refused with `encryption_required`. Default false. */
  requireEncryption?: boolean;
  /** Leeway for `exp`, `nbf`, `iat`. Default 5 s. */
  clockTolerance?: Duration;
  /** Reject tokens whose `iat` is older than this (then `iat` is required). */
  maxTokenAge?: Duration;
  /** Claims that must be present (`exp` always is unless `requireExp: false`). */
  requiredClaims?: readonly string[];
  /** Require `exp`. Default true. */
  requireExp?: boolean;
  /** Expected JWS `typ` (case-insensitive, `application/` optional), e.g. `'at+jwt'`. */
  typ?: string;
  /**
   * `'at+jwt'`: the RFC 9068 access-token profile: `typ` must be `at+jwt` (on the inner token when
   * nested), and `exp`, `iss`, `aud`, `sub`, `client_id`, `iat`, `jti` must be present.
   */
  profile?: 'at+jwt';
  /**
   * How many keys one token may try when its header does not pick one key (no `kid`, or a `kid`
   * several keys share): the keys that fit its `alg`, in set order. Each try is a signature
   * verification, so the bound keeps the work per token fixed. Past it, a token that none of
   * the tried keys verifies is refused with `kid_unknown` (logged reason `too many candidate
   * keys`). Default 3.
   */
  maxCandidateKeys?: number;
  /**
   * Asked for every accepted token, after verification and again on each token-cache hit:
   * `true` refuses it with 401 `token_revoked`. A hook that throws, rejects or answers anything
   * but a boolean fails closed with 503 `revocation_unavailable`. Keep it synchronous (an
   * in-memory lookup such as `createRedisDenylist().revoked` from `@tokengate/redis`) and a
   * cache hit stays synchronous. Per issuer: an `issuers[]` entry may set its own. Default: none.
   */
  revoked?: RevokedHook;
}

/** One trusted issuer in a multi-issuer set-up. Unset fields fall back to the top level. */
export interface IssuerPolicy extends Partial<PolicyOptions> {
  /** The exact `iss` this policy applies to. */
  issuer: string;
}

/**
 * Looks up the policy for an issuer at run time (tenants). Called with the unverified `iss`
 * only to choose a policy; results are cached. Return undefined for an untrusted issuer.
 */
export type IssuerResolver = (
  iss: string,
  request?: unknown,
) => IssuerPolicy | undefined | Promise<IssuerPolicy | undefined>;

export interface VerifierOptions extends Partial<PolicyOptions> {
  /** Expected `iss`, compared exactly. Required unless `issuers` is given. */
  issuer?: string | readonly string[];
  /** Several issuers, each with its own policy, or a resolver. Takes the place of `issuer`. */
  issuers?: readonly IssuerPolicy[] | IssuerResolver;
  /** Cache of resolver results. Default `{ max: 1000, ttl: '10m' }`. */
  issuerCache?: { max?: number; ttl?: Duration };
  /** Verified-token cache. Default `{ max: 100_000 }`; `false` turns it off. */
  tokenCache?: { max?: number; maxBytes?: number } | false;
  /** Longest token accepted, in characters. Default 16 KiB. */
  maxTokenLength?: number;
  /** Clock in epoch seconds; drives claims, the token cache and JWKS freshness. */
  now?: Clock;
  /**
   * Receives JWKS failures (error level). Default: one JSON line on stderr; `false` logs nothing
   * (behind an adapter: no rejection records either).
   */
  logger?: LoggerOption;
  /** Telemetry: every event of this verifier and its JWKS caches (also on diagnostics_channel 'tokengate'). */
  onEvent?: EventSink;
}

export const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA', 'Ed25519'] as const;
/** Default `maxCandidateKeys`. */
export const DEFAULT_MAX_CANDIDATE_KEYS = 3;
export const DEFAULT_KEY_MANAGEMENT = [
  'RSA-OAEP-256',
  'ECDH-ES',
  'ECDH-ES+A128KW',
  'ECDH-ES+A256KW',
];
export const DEFAULT_CONTENT_ENCRYPTION = ['A256GCM', 'A128GCM', 'A256CBC-HS512', 'A128CBC-HS256'];

/** JWE algorithms tokengate will ever allow (RSA1_5 and PBES2 are refused by policy). */
const KEY_MANAGEMENT = new Set([
  'RSA-OAEP',
  'RSA-OAEP-256',
  'RSA-OAEP-384',
  'RSA-OAEP-512',
  'ECDH-ES',
  'ECDH-ES+A128KW',
  'ECDH-ES+A192KW',
  'ECDH-ES+A256KW',
  'A128KW',
  'A192KW',
  'A256KW',
  'A128GCMKW',
  'A192GCMKW',
  'A256GCMKW',
  'dir',
]);
const CONTENT_ENCRYPTION = new Set([
  'A128GCM',
  'A192GCM',
  'A256GCM',
  'A128CBC-HS256',
  'A192CBC-HS384',
  'A256CBC-HS512',
]);

/** Options after validation: every field present and in internal units. */
export interface NormalizedOptions {
  issuers: readonly string[];
  audiences: readonly string[];
  algorithms: ReadonlySet<string>;
  decryption:
    | {
        keys: readonly JWK[];
        keyManagementAlgorithms: readonly string[];
        contentEncryptionAlgorithms: readonly string[];
        allowUnsignedClaims: boolean;
        maxDecompressedBytes: number;
      }
    | undefined;
  requireEncryption: boolean;
  clockTolerance: number;
  maxTokenAge: number | undefined;
  requiredClaims: readonly string[];
  typ: string | undefined;
  maxCandidateKeys: number;
  revoked: RevokedHook | undefined;
  tokenCache: { max: number; maxBytes: number } | false;
  maxTokenLength: number;
  now: Clock;
}

function nonEmptyStrings(value: unknown, name: string): string[] {
  const list: unknown = typeof value === 'string' ? [value] : value;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !(list as unknown[]).every((v) => typeof v === 'string' && v)
  ) {
    throw new TypeError(`"${name}" must be a non-empty string or a non-empty array of strings`);
  }
  return [...(list as string[])];
}

function allowList(value: unknown, name: string, known: ReadonlySet<string>): string[] {
  const list = nonEmptyStrings(value, name);
  for (const alg of list) {
    if (!known.has(alg)) throw new TypeError(`"${name}" contains unsupported algorithm "${alg}"`);
  }
  return list;
}

/** Options shared by every policy of a verifier. */
export type SharedOptions = Pick<NormalizedOptions, 'tokenCache' | 'maxTokenLength' | 'now'>;

/** Validates the verifier-wide options (cache, size limit, clock). */
export function normalizeShared(options: VerifierOptions): SharedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createVerifier needs an options object');
  }
  const cache = options.tokenCache ?? {};
  if (cache !== false && (typeof cache !== 'object' || cache === null)) {
    throw new TypeError('"tokenCache" must be an object or false');
  }
  const now = orDefault(options.now, systemClock, 'now');
  if (typeof now !== 'function') throw new TypeError('"now" must be a function');
  toLogger(options.logger); // validated here: a verifier with static keys never logs through it
  return {
    tokenCache:
      cache === false
        ? false
        : {
            max: positiveInteger(orDefault(cache.max, 100_000, 'tokenCache.max'), 'tokenCache.max'),
            maxBytes: positiveInteger(
              orDefault(cache.maxBytes, 256 * 1024 * 1024, 'tokenCache.maxBytes'),
              'tokenCache.maxBytes',
            ),
          },
    maxTokenLength: positiveInteger(
      orDefault(options.maxTokenLength, 16 * 1024, 'maxTokenLength'),
      'maxTokenLength',
    ),
    now,
  };
}

/** RFC 9068 §2.2: the claims an access token must carry. */
const AT_JWT_CLAIMS = ['exp', 'iss', 'aud', 'sub', 'client_id', 'iat', 'jti'];

/**
 * The key source: exactly one of `jwksUri`, `discovery`, `keys`, `keySource`, and the signature
 * allow-list that fits it (RFC 8725 §3.1: HMAC only with static keys).
 */
function normalizeKeySource(options: VerifierOptions, issuers: readonly string[]): string[] {
  const discovery = booleanOption(options.discovery, false, 'discovery');
  const sources = [options.jwksUri, discovery || undefined, options.keys, options.keySource];
  const sourceCount = sources.filter((s) => s !== undefined).length;
  if (sourceCount === 0) {
    throw new TypeError('one of "jwksUri", "discovery", "keys" or "keySource" is required');
  }
  if (sourceCount > 1) {
    throw new TypeError('give only one of "jwksUri", "discovery", "keys" or "keySource"');
  }
  if (discovery && issuers.length !== 1) {
    throw new TypeError('"discovery" needs exactly one "issuer"');
  }
  if (typeof options.keys === 'string' || options.keys instanceof Uint8Array) {
    throw new TypeError(
      '"keys" takes JWKs, not a secret: pass `keys: [{ kty: \'oct\', k: <the secret in base64url> }]` ' +
        "with `algorithms: ['HS256']`",
    );
  }
  if (options.algorithms === undefined && holdsSymmetricKey(options.keys)) {
    // The default allow-list is asymmetric only: say how to opt in rather than refuse the key.
    throw new TypeError(
      '"keys" holds a symmetric (oct) key but "algorithms" is not set: add `algorithms: [\'HS256\']` ' +
        '(or HS384 / HS512) to verify HMAC tokens with it',
    );
  }
  const algorithms = allowList(
    options.algorithms ?? DEFAULT_ALGORITHMS,
    'algorithms',
    new Set<string>(SIGNATURE_ALGORITHMS),
  );
  if (options.keys === undefined && algorithms.some(isSymmetricAlg)) {
    // RFC 8725 §3.1: an HMAC allow-list with a public key set invites key confusion.
    throw new TypeError('symmetric "algorithms" (HS*) need static "keys", never a JWKS');
  }
  return algorithms;
}

/** The receiver's own decryption keys and the JWE allow-lists. */
function normalizeDecryption(d: DecryptionOptions): NonNullable<NormalizedOptions['decryption']> {
  if (typeof d !== 'object' || d === null || !Array.isArray(d.keys) || d.keys.length === 0) {
    throw new TypeError('"decryption.keys" must be a non-empty array of private JWKs');
  }
  // Configuration is untrusted input: each entry is read as unknown until checked.
  for (const entry of d.keys as readonly unknown[]) {
    const key = entry as { kty?: unknown; d?: unknown; use?: unknown; kid?: unknown } | null;
    if (typeof key !== 'object' || key === null) {
      throw new TypeError('"decryption.keys" must hold JWK objects');
    }
    if (key.kty !== 'oct' && typeof key.d !== 'string') {
      throw new TypeError('"decryption.keys" must be private keys (a public key cannot decrypt)');
    }
    if (key.use !== undefined && key.use !== 'enc') {
      throw new TypeError('"decryption.keys" must not be signing keys ("use" must be "enc")');
    }
    if (d.keys.length > 1 && typeof key.kid !== 'string') {
      throw new TypeError('with several "decryption.keys", each needs a "kid"');
    }
  }
  return {
    keys: d.keys,
    keyManagementAlgorithms: allowList(
      d.keyManagementAlgorithms ?? DEFAULT_KEY_MANAGEMENT,
      'decryption.keyManagementAlgorithms',
      KEY_MANAGEMENT,
    ),
    contentEncryptionAlgorithms: allowList(
      d.contentEncryptionAlgorithms ?? DEFAULT_CONTENT_ENCRYPTION,
      'decryption.contentEncryptionAlgorithms',
      CONTENT_ENCRYPTION,
    ),
    allowUnsignedClaims: booleanOption(
      d.allowUnsignedClaims,
      false,
      'decryption.allowUnsignedClaims',
    ),
    maxDecompressedBytes:
      d.maxDecompressedBytes === undefined || d.maxDecompressedBytes === 0
        ? 0
        : positiveInteger(d.maxDecompressedBytes, 'decryption.maxDecompressedBytes'),
  };
}

/** Claim rules: `profile`, `typ`, required claims, `maxTokenAge`. */
function normalizeClaimRules(
  options: VerifierOptions,
): Pick<NormalizedOptions, 'requiredClaims' | 'maxTokenAge' | 'typ'> {
  if (options.profile !== undefined && options.profile !== 'at+jwt') {
    throw new TypeError('"profile" must be \'at+jwt\'');
  }
  const atJwt = options.profile === 'at+jwt';
  if (atJwt && options.typ !== undefined && normalizeTyp(options.typ) !== 'application/at+jwt') {
    throw new TypeError('"profile: at+jwt" requires typ at+jwt');
  }
  const requiredClaims = new Set([
    ...(options.requiredClaims ?? []),
    ...(atJwt ? AT_JWT_CLAIMS : []),
  ]);
  for (const c of requiredClaims) {
    if (typeof c !== 'string' || !c) throw new TypeError('"requiredClaims" must be claim names');
  }
  if (booleanOption(options.requireExp, true, 'requireExp')) requiredClaims.add('exp');
  const maxTokenAge =
    options.maxTokenAge === undefined ? undefined : toSeconds(options.maxTokenAge, 'maxTokenAge');
  if (maxTokenAge !== undefined) requiredClaims.add('iat');
  if (options.typ !== undefined && (typeof options.typ !== 'string' || !options.typ)) {
    throw new TypeError('"typ" must be a non-empty string');
  }
  const typ = atJwt ? 'at+jwt' : options.typ;
  return {
    maxTokenAge,
    requiredClaims: [...requiredClaims],
    typ: typ === undefined ? undefined : normalizeTyp(typ),
  };
}

/**
 * Validates and normalises one issuer policy (with the shared options); every configuration
 * mistake throws a TypeError here, at construction.
 */
export function normalizeOptions(options: VerifierOptions): NormalizedOptions {
  const shared = normalizeShared(options);
  const issuers = nonEmptyStrings(options.issuer, 'issuer');
  const audiences = nonEmptyStrings(options.audience, 'audience');
  const algorithms = normalizeKeySource(options, issuers);
  const decryption =
    options.decryption === undefined ? undefined : normalizeDecryption(options.decryption);
  const requireEncryption = booleanOption(options.requireEncryption, false, 'requireEncryption');
  if (requireEncryption && !decryption) {
    throw new TypeError('"requireEncryption" needs "decryption.keys"');
  }
  const claimRules = normalizeClaimRules(options);
  return {
    ...shared,
    issuers,
    audiences,
    algorithms: new Set(algorithms),
    decryption,
    requireEncryption,
    clockTolerance: toSeconds(
      orDefault(options.clockTolerance, 5, 'clockTolerance'),
      'clockTolerance',
    ),
    ...claimRules,
    maxCandidateKeys: positiveInteger(
      orDefault(options.maxCandidateKeys, DEFAULT_MAX_CANDIDATE_KEYS, 'maxCandidateKeys'),
      'maxCandidateKeys',
    ),
    revoked: normalizeRevoked(options.revoked),
  };
}

/** True when static `keys` (a JWKS object or a JWK list) include a shared secret. */
function holdsSymmetricKey(keys: unknown): boolean {
  const list = Array.isArray(keys) ? keys : (keys as { keys?: unknown } | undefined)?.keys;
  return Array.isArray(list) && list.some((k) => (k as { kty?: unknown } | null)?.kty === 'oct');
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`"${name}" must be a positive integer`);
  }
  return value;
}

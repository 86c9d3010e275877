import { createPublicKey, createSecretKey } from 'node:crypto';
import type { JWK } from 'jose';
import type { VerificationKey } from './types.js';
import { hasRocaFingerprint } from './roca.js';

/** Why a JWK was refused as a verification key (logged; never fatal for a whole set). */
export class KeyRejected extends Error {
  override readonly name = 'KeyRejected';
}

/** The JWS algorithms tokengate can verify, by key type. */
export const SIGNATURE_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'HS256',
  'HS384',
  'HS512',
] as const;

export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

const EC_CURVE: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/** True for the HMAC algorithms (never usable with keys from a JWKS). */
export function isSymmetricAlg(alg: string): boolean {
  return alg.startsWith('HS');
}

/** The smallest RSA modulus accepted (RFC 7518 §3.3 requires 2048 bits). */
export const MIN_RSA_BITS = 2048;

const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  RSA: ['kty', 'n', 'e'],
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
};

// RFC 7518 §6.2.2, §6.3.2, §6.4: the members that hold private (EC, RSA, OKP) or secret (`oct`)
// key material. A key set is public by definition: a key carrying one of them leaked.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/**
 * Why a JWK must not be taken from a public key set: it is an `oct` key (a shared secret) or
 * carries private key material. Undefined for a public key. jose refuses such sets outright;
 * tokengate skips the key (remote sets, discovery, DPoP proofs) or refuses to start (static keys).
 */
export function privateMaterialOf(jwk: object): string | undefined {
  if ((jwk as { kty?: unknown }).kty === 'oct') return 'symmetric key (a shared secret)';
  const member = PRIVATE_MEMBERS.find((name) => Object.hasOwn(jwk, name));
  return member === undefined ? undefined : `private key material ("${member}")`;
}

function base64urlBytes(value: unknown, name: string): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+$/.test(value)) {
    throw new KeyRejected(`"${name}" is not base64url`);
  }
  return Buffer.from(value, 'base64url');
}

type JwkMembers = JWK & Record<string, unknown>;

/** The members every key type shares: `kid`, `alg`, `use`, `key_ops` (RFC 7517 §4). */
function assertCommonMembers(jwk: JwkMembers): void {
  const { kid, alg, use } = jwk;
  const keyOps = jwk.key_ops;
  if (kid !== undefined && typeof kid !== 'string') throw new KeyRejected('"kid" is not a string');
  if (alg !== undefined && typeof alg !== 'string') throw new KeyRejected('"alg" is not a string');
  if (alg !== undefined && !(SIGNATURE_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new KeyRejected('"alg" is not a signature algorithm');
  }
  if (use !== undefined && use !== 'sig') throw new KeyRejected('"use" is not "sig"');
  if (keyOps !== undefined) {
    // RFC 7517 §4.3: an array of strings, no value twice.
    if (!Array.isArray(keyOps) || !keyOps.every((op) => typeof op === 'string')) {
      throw new KeyRejected('"key_ops" is not an array of strings');
    }
    if (new Set(keyOps).size !== keyOps.length) throw new KeyRejected('"key_ops" repeats a value');
    if (!keyOps.includes('verify')) throw new KeyRejected('"key_ops" does not allow "verify"');
  }
}

/** An `oct` (HMAC) key: at least 256 bits (RFC 7518 §3.2). */
function importSecretKey(jwk: JwkMembers, allowSymmetric: boolean): VerificationKey {
  const { kid, alg } = jwk;
  if (!allowSymmetric) throw new KeyRejected('symmetric keys are not accepted here');
  if (alg !== undefined && !isSymmetricAlg(alg)) throw new KeyRejected('"alg" does not fit "oct"');
  const secret = base64urlBytes(jwk.k, 'k');
  if (secret.length < 32) throw new KeyRejected('HMAC key shorter than 256 bits');
  return Object.freeze({
    kid,
    alg,
    kty: 'oct',
    crv: undefined,
    modulusLength: 0,
    jwk: Object.freeze({ ...jwk }),
    keyObject: createSecretKey(secret),
  });
}

/** RSA: at least 2048 bits, no ROCA fingerprint, an odd exponent above 1. Returns the bit length. */
function checkRsa(jwk: JwkMembers, alg: string | undefined): number {
  const n = base64urlBytes(jwk.n, 'n');
  const e = base64urlBytes(jwk.e, 'e');
  const leading = n.findIndex((b) => b !== 0);
  const bits = leading < 0 ? 0 : (n.length - leading - 1) * 8 + (32 - Math.clz32(n[leading]!));
  if (bits < MIN_RSA_BITS) throw new KeyRejected('RSA modulus shorter than 2048 bits');
  if (hasRocaFingerprint(n)) throw new KeyRejected('RSA modulus has the ROCA fingerprint');
  const lastByte = e[e.length - 1] ?? 0;
  const eIsOne = e.every((b, i) => (i === e.length - 1 ? b === 1 : b === 0));
  if ((lastByte & 1) === 0 || eIsOne || e.length > 8) throw new KeyRejected('weak RSA exponent');
  if (alg !== undefined && !/^(RS|PS)/.test(alg)) throw new KeyRejected('"alg" does not fit "RSA"');
  return bits;
}

function checkEc(jwk: JwkMembers, alg: string | undefined): number {
  if (!['P-256', 'P-384', 'P-521'].includes(jwk.crv as string)) {
    throw new KeyRejected('unsupported EC curve');
  }
  if (alg !== undefined && EC_CURVE[alg] !== jwk.crv) {
    throw new KeyRejected('"alg" does not fit the curve');
  }
  return 0;
}

function checkOkp(jwk: JwkMembers, alg: string | undefined): number {
  if (!['Ed25519', 'Ed448'].includes(jwk.crv as string)) {
    throw new KeyRejected('unsupported OKP curve');
  }
  if (alg !== undefined && !(alg === 'EdDSA' || (alg === 'Ed25519' && jwk.crv === 'Ed25519'))) {
    throw new KeyRejected('"alg" does not fit the curve');
  }
  return 0;
}

/** The checks of each public key type, keyed by `kty`: each returns the RSA modulus bits or 0. */
const PUBLIC_KEY_CHECKS: Record<string, (jwk: JwkMembers, alg: string | undefined) => number> = {
  RSA: checkRsa,
  EC: checkEc,
  OKP: checkOkp,
};

/** An RSA, EC or OKP public key: only its public members are kept (PUBLIC_MEMBERS). */
function importPublicKey(jwk: JwkMembers): VerificationKey {
  const { kty, kid, alg } = jwk;
  const members = typeof kty === 'string' ? PUBLIC_MEMBERS[kty] : undefined;
  if (!members) throw new KeyRejected('unsupported "kty"');
  const publicJwk: Record<string, unknown> = {};
  for (const m of members) {
    if (typeof jwk[m] !== 'string') throw new KeyRejected(`"${m}" is missing`);
    publicJwk[m] = jwk[m];
  }
  const modulusLength = PUBLIC_KEY_CHECKS[kty as string]!(jwk, alg);
  let keyObject;
  try {
    // node:crypto validates the point is on the curve and the RSA numbers parse.
    keyObject = createPublicKey({ key: publicJwk as never, format: 'jwk' });
  } catch (cause) {
    throw new KeyRejected('invalid key material', { cause });
  }
  return Object.freeze({
    kid,
    alg,
    kty: kty as string,
    crv: typeof jwk.crv === 'string' ? jwk.crv : undefined,
    modulusLength,
    jwk: Object.freeze({
      ...publicJwk,
      ...(kid === undefined ? {} : { kid }),
      ...(alg === undefined ? {} : { alg }),
    }),
    keyObject,
  });
}

/**
 * Imports one JWK as a signature verification key, checking what RFC 7517 and RFC 8725 ask:
 * `use` must be `sig` (when present), `key_ops` must allow `verify`, RSA at least 2048 bits with
 * an odd exponent above 1, a known curve, and no private key material (`d`, `p`, … see
 * `privateMaterialOf`). `oct` keys are accepted only when `allowSymmetric` is set (static keys,
 * never a JWKS).
 */
export function importVerificationKey(
  input: unknown,
  { allowSymmetric = false }: { allowSymmetric?: boolean } = {},
): VerificationKey {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new KeyRejected('not a JSON object');
  }
  const jwk = input as JwkMembers;
  // A verification key is public: one that carries its private half is never trusted (its
  // private members used to be dropped silently, so a leaked key still verified).
  const secret = jwk.kty === 'oct' ? undefined : privateMaterialOf(jwk);
  if (secret !== undefined) throw new KeyRejected(secret);
  assertCommonMembers(jwk);
  return jwk.kty === 'oct' ? importSecretKey(jwk, allowSymmetric) : importPublicKey(jwk);
}

/** True when `key` may verify a token signed with `alg` (RFC 8725 §3.1: one algorithm per key type). */
export function keyFitsAlg(key: VerificationKey, alg: string): boolean {
  if (key.alg !== undefined && key.alg !== alg) return false;
  switch (key.kty) {
    case 'RSA':
      return /^(RS|PS)(256|384|512)$/.test(alg);
    case 'EC':
      return EC_CURVE[alg] === key.crv;
    case 'OKP':
      return alg === 'EdDSA' || (alg === 'Ed25519' && key.crv === 'Ed25519');
    case 'oct':
      return /^HS(256|384|512)$/.test(alg);
    default:
      return false;
  }
}

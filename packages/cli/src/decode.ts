// Decoding a compact token WITHOUT verifying it: what `inspect` shows, and what `verify` uses
// to describe a token the verifier refused. Nothing here decides whether a token is valid.
import { compactDecrypt, importJWK } from 'jose';
import type { JWK } from 'jose';

/** One JOSE layer, outermost first. Sizes in bytes; no key material or signature is kept. */
export type Layer =
  | { kind: 'JWS'; header: Record<string, unknown>; signatureBytes: number }
  | {
      kind: 'JWE';
      header: Record<string, unknown>;
      encryptedKeyBytes: number;
      ciphertextBytes: number;
    };

/** A decoded token: its layers, and the claims when they could be reached. */
export interface Decoded {
  layers: Layer[];
  /** The claim set (of the inner JWS when nested); absent while a JWE stays closed. */
  claims?: Record<string, unknown>;
  /** Why the claims are absent, or why decoding stopped (one line, token-free). */
  problem?: string;
  /** The decryption key used to open a JWE (its public description only). */
  decryptedWith?: JWK;
}

const SEGMENT = /^[A-Za-z0-9_-]*$/;

function bytes(segment: string): number {
  return Buffer.from(segment, 'base64url').length;
}

function jsonObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new Error(`${what} is not base64url JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Decodes a compact JWS or JWE; with `keys`, opens a JWE (and decodes the JWS inside). Throws an
 * Error with a one-line, token-free message when the outer layer cannot be decoded at all.
 */
export async function decodeToken(token: string, keys: readonly JWK[] = []): Promise<Decoded> {
  const parts = token.split('.');
  if (parts.length !== 3 && parts.length !== 5) {
    throw new Error(`not a token: ${parts.length} part(s); a JWS has 3, a JWE 5`);
  }
  if (!parts.every((p) => SEGMENT.test(p))) throw new Error('not a token: a part is not base64url');
  const header = jsonObject(parts[0]!, 'the header');
  if (parts.length === 3) {
    const layer: Layer = { kind: 'JWS', header, signatureBytes: bytes(parts[2]!) };
    try {
      return { layers: [layer], claims: jsonObject(parts[1]!, 'the payload') };
    } catch (err) {
      return { layers: [layer], problem: (err as Error).message };
    }
  }
  const outer: Layer = {
    kind: 'JWE',
    header,
    encryptedKeyBytes: bytes(parts[1]!),
    ciphertextBytes: bytes(parts[3]!),
  };
  const key = decryptionKeyFor(header, keys);
  if (!key) {
    const problem =
      keys.length === 0
        ? 'encrypted: pass --decrypt-key FILE to see inside'
        : 'encrypted: no key in --decrypt-key fits its "kid" and "alg"';
    return { layers: [outer], problem };
  }
  let plaintext: string;
  try {
    const opened = await compactDecrypt(token, await importJWK(key, header.alg as string));
    plaintext = new TextDecoder().decode(opened.plaintext);
  } catch {
    return { layers: [outer], problem: 'the key in --decrypt-key does not open it' };
  }
  try {
    if (plaintext.split('.').length === 3) {
      const inner = await decodeToken(plaintext);
      return { ...inner, layers: [outer, ...inner.layers], decryptedWith: key };
    }
    const claims = jsonObject(Buffer.from(plaintext).toString('base64url'), 'the plaintext');
    return { layers: [outer], claims, decryptedWith: key };
  } catch (err) {
    return { layers: [outer], problem: `inside: ${(err as Error).message}`, decryptedWith: key };
  }
}

/**
 * The key that opens a JWE with this header: the one with its `kid`, else the only key of a
 * type that fits its `alg` (as core's decryptor chooses).
 */
export function decryptionKeyFor(
  header: Record<string, unknown>,
  keys: readonly JWK[],
): JWK | undefined {
  const alg = typeof header.alg === 'string' ? header.alg : '';
  const fitting = keys.filter(
    (k) => k.kty === keyTypeFor(alg) || (alg.startsWith('ECDH-ES') && k.kty === 'OKP'),
  );
  if (typeof header.kid === 'string') return fitting.find((k) => k.kid === header.kid);
  return fitting.length === 1 ? fitting[0] : undefined;
}

/** The JWK `kty` a JWE `alg` needs (RFC 7518 §4.1). */
export function keyTypeFor(alg: string): string {
  if (alg.startsWith('RSA')) return 'RSA';
  if (alg.startsWith('ECDH-ES')) return 'EC';
  return 'oct'; // A*KW, A*GCMKW, dir
}

/** The public description of a key (`kid`, type, curve or size): never its material. */
export function describeKey(jwk: JWK): string {
  const size =
    jwk.kty === 'RSA' && typeof jwk.n === 'string'
      ? ` ${Buffer.from(jwk.n, 'base64url').length * 8}`
      : jwk.kty === 'oct' && typeof jwk.k === 'string'
        ? ` ${Buffer.from(jwk.k, 'base64url').length * 8}-bit`
        : jwk.crv
          ? ` ${jwk.crv}`
          : '';
  const kid = jwk.kid === undefined ? 'without kid' : jwk.kid;
  return `${kid} (${jwk.kty}${size})`;
}

import {
  constants,
  createDecipheriv,
  createPublicKey,
  diffieHellman,
  privateDecrypt,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { TokenHeader } from '../types.js';
import { concatKdf } from './concat-kdf.js';
import { GCM_TAG_BYTES, gcmDecrypt } from './content.js';
import type { ContentEncryption } from './content.js';
import type { NodeReceiverKey } from './receiver-key.js';
import { strictBase64url } from './segments.js';

/**
 * The token is well formed for jose but not in the shape this module handles (an unusual `epk`,
 * a key of the wrong size, …): jose decides, as it did before this module existed.
 */
export const FOR_JOSE = Symbol('for jose');

/**
 * The CEK, `undefined` when the key step failed (the caller then goes on with a random CEK, RFC
 * 7516 §11.5, so every failure ends at the content tag), or FOR_JOSE.
 */
export type CekResult = Buffer | undefined | typeof FOR_JOSE;

const OAEP_HASH: Record<string, string> = {
  'RSA-OAEP': 'sha1',
  'RSA-OAEP-256': 'sha256',
  'RSA-OAEP-384': 'sha384',
  'RSA-OAEP-512': 'sha512',
};
/** Key sizes in bytes of the AES key wraps (RFC 7518 §4.4, §4.6, §4.7). */
const AES_KW: Record<string, number> = { A128KW: 16, A192KW: 24, A256KW: 32 };
const ECDH_KW: Record<string, number> = {
  'ECDH-ES+A128KW': 16,
  'ECDH-ES+A192KW': 24,
  'ECDH-ES+A256KW': 32,
};
const AES_GCM_KW: Record<string, number> = { A128GCMKW: 16, A192GCMKW: 24, A256GCMKW: 32 };

/** RFC 3394 §2.2.3.1: the default initial value, checked by the unwrap (integrity check). */
const AES_KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

function rsaOaepDecrypt(key: KeyObject, hash: string, encryptedKey: Buffer): Buffer | undefined {
  try {
    return privateDecrypt(
      { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
      encryptedKey,
    );
  } catch {
    return undefined; // same as any other failure: no padding oracle (RFC 8725 §3.2)
  }
}

/** AES key unwrap (RFC 3394); `undefined` when the integrity check fails or the size is wrong. */
function aesKeyUnwrap(
  kek: KeyObject | Buffer,
  kekBytes: number,
  wrapped: Buffer,
): Buffer | undefined {
  try {
    const decipher = createDecipheriv(`id-aes${kekBytes * 8}-wrap`, kek, AES_KW_IV);
    return Buffer.concat([decipher.update(wrapped), decipher.final()]);
  } catch {
    return undefined;
  }
}

const EC_MEMBERS = new Set(['kty', 'crv', 'x', 'y']);
const UNCOMPRESSED = Buffer.from([0x04]);
const OKP_MEMBERS = new Set(['kty', 'crv', 'x']);

/**
 * Z, the ECDH shared secret with the `epk` (RFC 7518 §4.6.2); `undefined` when the `epk` names
 * another curve than the receiver key's (RFC 7518 §4.6.1.1) or is not a point on the curve
 * (node:crypto checks the point, and the NIST curves have cofactor 1, so an invalid-curve attack
 * learns nothing); FOR_JOSE when it is shaped unlike the public JWK a sender writes (extra or
 * private members, coordinates of another length), so jose gives today's answer.
 */
function sharedSecret(
  epk: unknown,
  receiver: Extract<NodeReceiverKey, { kind: 'ecdh' }>,
): Buffer | undefined | typeof FOR_JOSE {
  if (typeof epk !== 'object' || epk === null || Array.isArray(epk)) return FOR_JOSE;
  const jwk = epk as Record<string, unknown>;
  const members = Object.keys(jwk);
  const expected = jwk.kty === 'EC' ? EC_MEMBERS : jwk.kty === 'OKP' ? OKP_MEMBERS : undefined;
  if (!expected || members.length !== expected.size || !members.every((m) => expected.has(m))) {
    return FOR_JOSE;
  }
  const known = jwk.kty === 'EC' ? ['P-256', 'P-384', 'P-521'] : ['X25519'];
  if (typeof jwk.crv !== 'string' || !known.includes(jwk.crv)) return FOR_JOSE;
  if (jwk.kty !== receiver.kty || jwk.crv !== receiver.crv) return undefined;
  const size = receiver.coordinateBytes;
  const x = strictBase64url(jwk.x);
  const y = jwk.kty === 'EC' ? strictBase64url(jwk.y) : undefined;
  if (x?.length !== size || (jwk.kty === 'EC' && y?.length !== size)) return FOR_JOSE;
  try {
    if (receiver.ecdh && y) {
      // The uncompressed point (SEC 1 §2.3.3), straight into the receiver's ECDH: no key import.
      return receiver.ecdh.computeSecret(Buffer.concat([UNCOMPRESSED, x, y]));
    }
    const publicKey = createPublicKey({ key: jwk as never, format: 'jwk' });
    return diffieHellman({ privateKey: receiver.key, publicKey });
  } catch {
    return undefined; // not a point on the curve
  }
}

/** `apu`/`apv` decoded; FOR_JOSE when not canonical base64url or when equal (jose refuses). */
function partyInfo(header: TokenHeader): [Buffer, Buffer] | typeof FOR_JOSE {
  const apu = header.apu === undefined ? Buffer.alloc(0) : strictBase64url(header.apu);
  const apv = header.apv === undefined ? Buffer.alloc(0) : strictBase64url(header.apv);
  if (!apu || !apv) return FOR_JOSE;
  if (header.apu !== undefined && header.apv !== undefined && apu.equals(apv)) return FOR_JOSE;
  return [apu, apv];
}

/** ECDH-ES key agreement (RFC 7518 §4.6): Z, then the Concat KDF, then the key wrap if any. */
function ecdhEs(
  alg: string,
  enc: string,
  content: ContentEncryption,
  header: TokenHeader,
  encryptedKey: Buffer,
  receiver: Extract<NodeReceiverKey, { kind: 'ecdh' }>,
): CekResult {
  const wrapBytes = ECDH_KW[alg];
  // Direct agreement has no encrypted key (RFC 7518 §4.6); jose calls one malformed.
  if (wrapBytes === undefined && encryptedKey.length !== 0) return FOR_JOSE;
  const party = partyInfo(header);
  if (party === FOR_JOSE) return FOR_JOSE;
  const z = sharedSecret(header.epk, receiver);
  if (z === FOR_JOSE || z === undefined) return z;
  if (wrapBytes === undefined) return concatKdf(z, enc, content.cekBytes * 8, ...party);
  const kek = concatKdf(z, alg, wrapBytes * 8, ...party);
  return aesKeyUnwrap(kek, wrapBytes, encryptedKey);
}

/**
 * A*GCMKW (RFC 7518 §4.7): the CEK is AES-GCM encrypted under the shared key, with `iv` and `tag`
 * in the header (jose calls them malformed unless 96 and 128 bits).
 */
function aesGcmKeyUnwrap(header: TokenHeader, key: Buffer, encryptedKey: Buffer): CekResult {
  const iv = strictBase64url(header.iv);
  const tag = strictBase64url(header.tag);
  if (iv?.length !== 12 || tag?.length !== GCM_TAG_BYTES) return FOR_JOSE;
  return gcmDecrypt(key, iv, encryptedKey, tag, Buffer.alloc(0));
}

/**
 * Recovers the CEK for one receiver key (RFC 7516 §5.2 steps 6–10). Header values were checked
 * against the allow-lists before; `enc` is one of CONTENT_ENCRYPTION.
 */
export function recoverCek(
  header: TokenHeader,
  content: ContentEncryption,
  encryptedKey: Buffer,
  receiver: NodeReceiverKey,
): CekResult {
  const { alg } = header;
  const enc = header.enc!;
  const oaepHash = OAEP_HASH[alg];
  if (oaepHash !== undefined) {
    return receiver.kind === 'rsa'
      ? rsaOaepDecrypt(receiver.key, oaepHash, encryptedKey)
      : FOR_JOSE;
  }
  if (alg.startsWith('ECDH-ES')) {
    return receiver.kind === 'ecdh'
      ? ecdhEs(alg, enc, content, header, encryptedKey, receiver)
      : FOR_JOSE;
  }
  if (receiver.kind !== 'secret') return FOR_JOSE;
  // A shared key of another size than the algorithm's: jose's error, not ours.
  const size = alg === 'dir' ? content.cekBytes : (AES_KW[alg] ?? AES_GCM_KW[alg]);
  if (size === undefined || receiver.bytes.length !== size) return FOR_JOSE;
  if (alg === 'dir') return encryptedKey.length === 0 ? receiver.bytes : FOR_JOSE;
  if (AES_KW[alg] !== undefined) return aesKeyUnwrap(receiver.key, size, encryptedKey);
  return aesGcmKeyUnwrap(header, receiver.bytes, encryptedKey);
}

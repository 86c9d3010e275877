import { constants, createHmac, timingSafeEqual, verify } from 'node:crypto';
import type { VerificationKey } from '../keys/types.js';
import { createScratch } from '../lib/scratch.js';
import type { ParsedJws } from './compact.js';

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };
// IEEE P1363 signature length (r || s) per curve: RFC 7518 §3.4.
const ECDSA_LENGTH: Record<string, number> = { ES256: 64, ES384: 96, ES512: 132 };

const PSS = {
  padding: constants.RSA_PKCS1_PSS_PADDING,
  // RFC 7518 §3.5: the salt is as long as the hash.
  saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
};

// The signing input and the decoded signature, side by side; 16 KiB holds any token of the
// default `maxTokenLength` (larger ones get buffers of their own).
const scratch = createScratch(16 * 1024);

/**
 * Checks the signature of a parsed JWS: the signing input and the signature segment (both
 * already strict base64url, `parseToken`) are decoded into one reused buffer and verified at
 * once, with no allocation per token. See `verifySignature`.
 */
export function verifyJwsSignature(
  alg: string,
  key: VerificationKey,
  jws: Pick<ParsedJws, 'signingInput' | 'signatureSegment'>,
): boolean {
  // Decoded here and verified before anything else can run (the buffer is shared).
  const data = scratch.ascii(jws.signingInput);
  return verifyBytes(alg, key, data, scratch.base64url(jws.signatureSegment, data.length));
}

/**
 * Checks a JWS signature with node:crypto directly: one synchronous call on a KeyObject built
 * once per JWK. jose stays the reference (every signature test runs through both). The caller has
 * already checked that the key fits the algorithm (`keyFitsAlg`). Never throws: a signature that
 * node:crypto cannot even parse is simply not valid.
 */
export function verifySignature(
  alg: string,
  key: VerificationKey,
  signingInput: string,
  signature: Uint8Array,
): boolean {
  return verifyBytes(alg, key, scratch.ascii(signingInput), signature);
}

function verifyBytes(
  alg: string,
  key: VerificationKey,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const hash = HASH[alg.slice(-3)];
  try {
    switch (alg.slice(0, 2)) {
      case 'RS':
        return hash !== undefined && verify(hash, data, key.keyObject, signature);
      case 'PS':
        return hash !== undefined && verify(hash, data, { key: key.keyObject, ...PSS }, signature);
      case 'ES':
        return (
          hash !== undefined &&
          signature.length === ECDSA_LENGTH[alg] &&
          verify(hash, data, { key: key.keyObject, dsaEncoding: 'ieee-p1363' }, signature)
        );
      case 'Ed':
        return verify(null, data, key.keyObject, signature);
      case 'HS': {
        // RFC 7518 §3.2: the key must be at least as long as the hash output.
        if (
          hash === undefined ||
          (key.keyObject.symmetricKeySize ?? 0) < Number(alg.slice(-3)) / 8
        ) {
          return false;
        }
        const mac = createHmac(hash, key.keyObject).update(data).digest();
        return mac.length === signature.length && timingSafeEqual(mac, signature);
      }
      default:
        return false;
    }
  } catch {
    return false;
  }
}

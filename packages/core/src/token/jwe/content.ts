import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import type { CipherGCMTypes } from 'node:crypto';

/** A JWE `enc` (RFC 7518 §5.1): its CEK and IV sizes in bytes and its construction. */
export interface ContentEncryption {
  readonly cekBytes: number;
  readonly ivBytes: number;
  readonly cbc: boolean;
}

/** The `enc` values this module decrypts; any other stays with jose. */
export const CONTENT_ENCRYPTION: Readonly<Record<string, ContentEncryption>> = {
  A128GCM: { cekBytes: 16, ivBytes: 12, cbc: false },
  A192GCM: { cekBytes: 24, ivBytes: 12, cbc: false },
  A256GCM: { cekBytes: 32, ivBytes: 12, cbc: false },
  'A128CBC-HS256': { cekBytes: 32, ivBytes: 16, cbc: true },
  'A192CBC-HS384': { cekBytes: 48, ivBytes: 16, cbc: true },
  'A256CBC-HS512': { cekBytes: 64, ivBytes: 16, cbc: true },
};

/** AES-GCM's tag is always the full 128 bits here (RFC 7518 §5.3); a shorter one is malformed. */
export const GCM_TAG_BYTES = 16;

/** AES-GCM decryption; `undefined` when the tag does not verify. */
export function gcmDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad: Uint8Array,
): Buffer | undefined {
  try {
    const decipher = createDecipheriv(`aes-${key.length * 8}-gcm` as CipherGCMTypes, key, iv, {
      authTagLength: GCM_TAG_BYTES,
    });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * AES_CBC_HMAC_SHA2 decryption (RFC 7518 §5.2.2.2): the CEK is MAC_KEY || ENC_KEY, the tag is the
 * first half of HMAC(MAC_KEY, AAD || IV || ciphertext || AL). The tag is checked, in constant
 * time, before any byte is decrypted, so a padding error can never be told from a bad tag.
 * `undefined` when the tag or the padding is wrong.
 */
function cbcHmacDecrypt(
  cek: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad: Uint8Array,
): Buffer | undefined {
  const half = cek.length >> 1;
  const al = Buffer.alloc(8);
  al.writeBigUInt64BE(BigInt(aad.length) * 8n); // AL: the AAD length in bits
  const expected = createHmac(`sha${half * 16}`, cek.subarray(0, half))
    .update(aad)
    .update(iv)
    .update(ciphertext)
    .update(al)
    .digest()
    .subarray(0, half);
  // The tag length is public (it is in the token), so comparing it first leaks nothing.
  if (tag.length !== half || !timingSafeEqual(tag, expected)) return undefined;
  try {
    const decipher = createDecipheriv(`aes-${half * 8}-cbc`, cek.subarray(half), iv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return undefined;
  }
}

/** Decrypts JWE content with the CEK; `undefined` on any authentication failure. */
export function decryptContent(
  enc: ContentEncryption,
  ...sealed: Parameters<typeof gcmDecrypt> // cek, iv, ciphertext, tag, aad
): Buffer | undefined {
  return (enc.cbc ? cbcHmacDecrypt : gcmDecrypt)(...sealed);
}

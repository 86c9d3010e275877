import { randomBytes } from 'node:crypto';
import { VerificationError } from '../../errors.js';
import { decodeSegment } from '../compact.js';
import type { TokenHeader } from '../types.js';
import { CONTENT_ENCRYPTION, GCM_TAG_BYTES, decryptContent } from './content.js';
import { FOR_JOSE, recoverCek } from './key-management.js';
import type { NodeReceiverKey } from './receiver-key.js';

export { FOR_JOSE } from './key-management.js';

/**
 * Opens a compact JWE with one receiver key using node:crypto only (RFC 7516 §5.2): no async hop
 * and no per-call key import, unlike jose's WebCrypto path on Node 20. Returns the plaintext, or
 * FOR_JOSE when the token or key is outside what this module handles (`zip`, an unusual `epk`,
 * an IV or tag of the wrong length, …) so that jose answers exactly as before.
 *
 * Every cryptographic failure (RSA-OAEP padding, key unwrap integrity, ECDH with a point off the
 * curve or on another curve, content tag, CBC padding) throws the same `decryption_failed`: a key
 * step that fails goes on with a random CEK (RFC 7516 §11.5), so the content tag is what fails.
 * The caller has checked the allow-lists and that the segments are strict base64url.
 */
export function openWithNodeCrypto(
  token: string,
  header: TokenHeader,
  receiver: NodeReceiverKey,
): Uint8Array | typeof FOR_JOSE {
  const content = CONTENT_ENCRYPTION[header.enc ?? ''];
  if (content === undefined || header.zip !== undefined) return FOR_JOSE;
  const parts = token.split('.');
  if (parts.length !== 5) return FOR_JOSE;
  const iv = decodeSegment(parts[2]!);
  const tag = decodeSegment(parts[4]!);
  // jose calls a missing or wrong-sized IV, or a short GCM tag, malformed (RFC 7518 §5.2.2, §5.3).
  if (iv.length !== content.ivBytes || tag.length === 0) return FOR_JOSE;
  if (!content.cbc && tag.length !== GCM_TAG_BYTES) return FOR_JOSE;
  const recovered = recoverCek(header, content, decodeSegment(parts[1]!), receiver);
  if (recovered === FOR_JOSE) return FOR_JOSE;
  const cek = recovered?.length === content.cekBytes ? recovered : randomBytes(content.cekBytes);
  const aad = Buffer.from(parts[0]!, 'ascii'); // RFC 7516 §5.2 step 14: ASCII(BASE64URL(header))
  const plaintext = decryptContent(content, cek, iv, decodeSegment(parts[3]!), tag, aad);
  if (plaintext === undefined) {
    throw new VerificationError('decryption_failed', {
      reason: 'the JWE does not decrypt with the receiver key',
    });
  }
  return plaintext;
}

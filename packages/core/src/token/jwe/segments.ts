import { decodeSegment } from '../compact.js';

/**
 * A header value decoded as strict base64url (RFC 7515 §2: canonical, unpadded), or `undefined`
 * when it is not a string or not strict: such a header is left to jose, whose answer stands.
 */
export function strictBase64url(value: unknown): Buffer | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return decodeSegment(value);
  } catch {
    return undefined;
  }
}

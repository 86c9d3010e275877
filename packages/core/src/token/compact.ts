import { VerificationError } from '../errors.js';
import type { TokenDetails } from '../errors.js';
import { MAX_JSON_DEPTH, jsonStructureProblem } from '../lib/json.js';
import type { TokenHeader, TokenPayload } from './types.js';

const B64URL = /^[A-Za-z0-9_-]*$/;

/** A compact JWS split into its parts; the header is decoded, nothing is verified yet. */
export interface ParsedJws {
  kind: 'jws';
  header: TokenHeader;
  /** `BASE64URL(header) || '.' || BASE64URL(payload)`, the bytes the signature covers. */
  signingInput: string;
  /** The decoded payload bytes (not yet parsed: that waits until they are needed). */
  payload: Buffer;
  signature: Buffer;
}

/** A compact JWE split into its parts; the protected header is decoded. */
export interface ParsedJwe {
  kind: 'jwe';
  header: TokenHeader;
}

/**
 * Decodes one base64url segment strictly: RFC 7515 §2 alphabet, no padding, no whitespace, and
 * canonical (unused trailing bits zero). Node's decoder and jose's on Node 20 are lenient, so the
 * check is done here, before anything else sees the bytes.
 */
export function decodeSegment(segment: string): Buffer {
  const rest = segment.length % 4;
  if (rest === 1 || !B64URL.test(segment)) {
    throw new VerificationError('token_malformed', { reason: 'a segment is not base64url' });
  }
  // The last character of a 2- or 3-character group carries 4 or 2 unused bits: they must be
  // zero, or two spellings would decode to the same bytes.
  if (
    rest !== 0 &&
    (sextet(segment.charCodeAt(segment.length - 1)) & (rest === 2 ? 15 : 3)) !== 0
  ) {
    throw new VerificationError('token_malformed', {
      reason: 'a segment is not canonical base64url',
    });
  }
  return Buffer.from(segment, 'base64url');
}

/** The 6-bit value of a base64url character (already known to be in the alphabet). */
function sextet(c: number): number {
  if (c >= 65 && c <= 90) return c - 65; // A-Z
  if (c >= 97 && c <= 122) return c - 71; // a-z
  if (c >= 48 && c <= 57) return c + 4; // 0-9
  return c === 45 ? 62 : 63; // - _
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a JSON object (a JOSE header or a claim set) from bytes; anything else is malformed,
 * and so is nesting deeper than MAX_JSON_DEPTH. Duplicate member names are refused (RFC 7515 §4, RFC 7519 §4 allow "reject or use the last"):
 * JSON.parse keeps the last, another parser on the path may keep the first, and a token must
 * not mean two things.
 */
export function parseJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  let text: string;
  try {
    text = utf8.decode(bytes);
    value = JSON.parse(text);
  } catch {
    throw new VerificationError('token_malformed', { reason: `${what} is not JSON` });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new VerificationError('token_malformed', { reason: `${what} is not a JSON object` });
  }
  const problem = jsonStructureProblem(text, { duplicates: true });
  if (problem === 'too deep') {
    throw new VerificationError('token_malformed', {
      reason: `${what} nests deeper than ${MAX_JSON_DEPTH} levels`,
    });
  }
  if (problem === 'duplicate member') {
    throw new VerificationError('token_malformed', { reason: `${what} repeats a member name` });
  }
  return value as Record<string, unknown>;
}

// Header parameters whose meaning we implement; anything listed in `crit` must be one of these,
// and tokengate implements none of the extensions (b64, etc.), so any `crit` is refused.
function parseHeader(segment: string): TokenHeader {
  const header = parseJsonObject(decodeSegment(segment), 'header');
  if (typeof header.alg !== 'string' || header.alg === '') {
    throw new VerificationError('token_malformed', { reason: 'header has no "alg"' });
  }
  if (header.kid !== undefined && typeof header.kid !== 'string') {
    throw new VerificationError('token_malformed', { reason: '"kid" is not a string' });
  }
  if (header.crit !== undefined) {
    // RFC 7515 §4.1.11: a recipient must reject critical extensions it does not understand.
    throw new VerificationError('token_malformed', {
      reason: 'header lists "crit" extensions, which are not supported',
    });
  }
  if (header.b64 !== undefined) {
    throw new VerificationError('token_malformed', { reason: '"b64" is not supported' });
  }
  for (const name of ['typ', 'cty', 'enc', 'zip'] as const) {
    if (header[name] !== undefined && typeof header[name] !== 'string') {
      throw new VerificationError('token_malformed', { reason: `"${name}" is not a string` });
    }
  }
  return header as TokenHeader;
}

/**
 * Classifies a compact token: 3 parts is a JWS, 5 parts a JWE, anything else is malformed.
 * Enforces the size limit first so no work is spent on a huge input.
 */
export function parseToken(
  token: string,
  maxLength: number,
  details: TokenDetails,
): ParsedJws | ParsedJwe {
  if (typeof token !== 'string' || token.length === 0) {
    throw new VerificationError('token_malformed', { reason: 'token is empty' });
  }
  if (token.length > maxLength) throw new VerificationError('token_too_large');
  const parts = token.split('.');
  if (parts.length !== 3 && parts.length !== 5) {
    const n = parts.length;
    throw new VerificationError('token_malformed', {
      reason: `token has ${n} part${n === 1 ? '' : 's'}; a JWS has 3, a JWE 5`,
    });
  }
  const header = parseHeader(parts[0]!);
  details.alg = header.alg;
  details.kid = header.kid;
  if (parts.length === 5) {
    if (header.enc === undefined) {
      throw new VerificationError('token_malformed', { reason: 'JWE header has no "enc"' });
    }
    // Segments are checked for canonical form here; jose decodes them again when decrypting.
    for (let i = 1; i < 5; i++) decodeSegment(parts[i]!);
    return { kind: 'jwe', header };
  }
  if (header.enc !== undefined) {
    throw new VerificationError('token_malformed', { reason: 'JWS header has "enc"' });
  }
  const signature = decodeSegment(parts[2]!);
  return {
    kind: 'jws',
    header,
    signingInput: token.slice(0, parts[0]!.length + 1 + parts[1]!.length),
    payload: decodeSegment(parts[1]!),
    signature,
  };
}

/** Decodes the claim set of a verified JWS. */
export function parsePayload(jws: ParsedJws): TokenPayload {
  return parseJsonObject(jws.payload, 'payload');
}

import { VerificationError } from '../errors.js';
import type { TokenDetails } from '../errors.js';
import { deepFreeze } from '../lib/freeze.js';
import { createScratch } from '../lib/scratch.js';
import { MAX_JSON_DEPTH, parsedJsonProblem } from '../lib/json.js';
import type { TokenHeader, TokenPayload } from './types.js';

/** A compact JWS split into its parts; the header is decoded, nothing is verified yet. */
export interface ParsedJws {
  kind: 'jws';
  header: TokenHeader;
  /** `BASE64URL(header) || '.' || BASE64URL(payload)`, the bytes the signature covers. */
  signingInput: string;
  /** The payload segment, strict base64url (decoded and parsed only when the claims are read). */
  payloadSegment: string;
  /** The signature segment, strict base64url (decoded where it is verified). */
  signatureSegment: string;
}

/** A compact JWE split into its parts; the protected header is decoded. */
export interface ParsedJwe {
  kind: 'jwe';
  header: TokenHeader;
}

// A run of RFC 7515 §2 base64url characters, matched from `lastIndex` (sticky): the segment is
// in the alphabet when the run ends where the segment does. No slice of the token is made, and
// V8's regular expressions scan a character class faster than a loop of charCodeAt.
const BASE64URL_RUN = /[A-Za-z0-9_-]*/y;

/**
 * Why `text[start, end)` is not a strict base64url segment, or undefined: RFC 7515 §2 alphabet,
 * no padding, no whitespace, and canonical (unused trailing bits zero). Node's decoder and
 * jose's on Node 20 are lenient, so the check is done here, before anything else sees the bytes.
 * Nothing is allocated.
 */
function segmentProblem(text: string, start: number, end: number): string | undefined {
  BASE64URL_RUN.lastIndex = start;
  BASE64URL_RUN.test(text);
  if (BASE64URL_RUN.lastIndex !== end) return 'a segment is not base64url';
  const rest = (end - start) % 4;
  if (rest === 1) return 'a segment is not base64url';
  // The last character of a 2- or 3-character group carries 4 or 2 unused bits: they must be
  // zero, or two spellings would decode to the same bytes.
  if (rest !== 0 && (sextet(text.charCodeAt(end - 1)) & (rest === 2 ? 15 : 3)) !== 0) {
    return 'a segment is not canonical base64url';
  }
  return undefined;
}

function assertSegment(text: string, start: number, end: number): void {
  const problem = segmentProblem(text, start, end);
  if (problem !== undefined) throw new VerificationError('token_malformed', { reason: problem });
}

/** Decodes one base64url segment strictly (see `segmentProblem`). */
export function decodeSegment(segment: string): Buffer {
  assertSegment(segment, 0, segment.length);
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
  const problem = parsedJsonProblem(text, value);
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

/** How many validated JWS headers the memo keeps; tokens from one key share one header. */
export const HEADER_MEMO_SIZE = 64;
/** Longer header segments (an `x5c` chain, say) are parsed every time rather than kept. */
export const HEADER_MEMO_MAX_LENGTH = 1024;

// Validated JWS headers (deep-frozen: every token that shares the segment shares the object) by
// their exact base64url segment. Only headers that passed every check of `parseHeader` enter;
// the segment is the whole input of those checks, so a hit is the same answer parsing would
// give. Bounded: the oldest entry leaves first, so a flood of distinct headers costs only the
// parsing it would have cost anyway.
const headerMemo = new Map<string, TokenHeader>();

function memoizedHeader(segment: string): TokenHeader {
  const known = headerMemo.get(segment);
  if (known !== undefined) return known;
  const header = parseHeader(segment);
  if (segment.length <= HEADER_MEMO_MAX_LENGTH) {
    if (headerMemo.size >= HEADER_MEMO_SIZE) {
      headerMemo.delete(headerMemo.keys().next().value as string);
    }
    // A copy of the segment: a slice would keep the whole token alive as long as the entry.
    headerMemo.set(Buffer.from(segment, 'latin1').toString('latin1'), deepFreeze(header));
  }
  return header;
}

/** Empties the header memo (tests only: each test starts from a known state). */
export function clearHeaderMemo(): void {
  headerMemo.clear();
}

/** The number of headers memoized now (tests only). */
export function headerMemoSize(): number {
  return headerMemo.size;
}

/**
 * Classifies a compact token: 3 parts is a JWS, 5 parts a JWE, anything else is malformed.
 * Enforces the size limit first so no work is spent on a huge input. A JWS is read in one pass
 * (the dots by `indexOf`, each segment's alphabet by one sticky regular expression) rather than `split` and a regular
 * expression per segment and its copies.
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
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  const third = second === -1 ? -1 : token.indexOf('.', second + 1);
  if (second === -1 || third !== -1) return parseOtherThanJws(token, details);
  const header = memoizedHeader(token.slice(0, first));
  details.alg = header.alg;
  details.kid = header.kid;
  if (header.enc !== undefined) {
    throw new VerificationError('token_malformed', { reason: 'JWS header has "enc"' });
  }
  assertSegment(token, second + 1, token.length);
  assertSegment(token, first + 1, second);
  return {
    kind: 'jws',
    header,
    signingInput: token.slice(0, second),
    payloadSegment: token.slice(first + 1, second),
    signatureSegment: token.slice(second + 1),
  };
}

/** A token that is not 3 parts: a JWE (5), or malformed. */
function parseOtherThanJws(token: string, details: TokenDetails): ParsedJwe {
  const parts = token.split('.');
  if (parts.length !== 5) {
    const n = parts.length;
    throw new VerificationError('token_malformed', {
      reason: `token has ${n} part${n === 1 ? '' : 's'}; a JWS has 3, a JWE 5`,
    });
  }
  // Not memoized: a JWE header usually carries a fresh `epk` per token.
  const header = parseHeader(parts[0]!);
  details.alg = header.alg;
  details.kid = header.kid;
  if (header.enc === undefined) {
    throw new VerificationError('token_malformed', { reason: 'JWE header has no "enc"' });
  }
  // Segments are checked for canonical form here; jose decodes them again when decrypting.
  for (let i = 1; i < 5; i++) assertSegment(parts[i]!, 0, parts[i]!.length);
  return { kind: 'jwe', header };
}

// The payload bytes, decoded into a reused buffer and parsed at once (nothing runs in between).
const scratch = createScratch(16 * 1024);

/** Decodes the claim set of a JWS (read to choose the issuer; trusted once verified). */
export function parsePayload(jws: ParsedJws): TokenPayload {
  return parseJsonObject(scratch.base64url(jws.payloadSegment), 'payload');
}

import type { IncomingHttpHeaders } from 'node:http';
import { VerificationError, challengeHeaders, describe, oauthErrorOf } from './errors.js';

/** The parts of a Node request that carry credentials (an IncomingMessage fits). */
export interface CredentialSource {
  headers: IncomingHttpHeaders;
  /** Raw header list: Node keeps only the first of two `Authorization` headers in `headers`. */
  rawHeaders?: readonly string[];
}

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token
const CREDENTIALS = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +([A-Za-z0-9\-._~+/]+=*) *$/;

function countAuthorizationHeaders(raw: readonly string[] | undefined): number {
  if (!raw) return 1;
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'authorization') n++;
  return n;
}

/**
 * Reads the bearer token from `Authorization: Bearer <token>` (scheme case-insensitive).
 * Returns `undefined` when the request carries no bearer credentials (no header, or another
 * scheme such as Basic). A malformed header, or two `Authorization` headers, is
 * `request_invalid` (400, RFC 6750 §3.1). The token itself is checked later by the verifier.
 */
export function extractBearer(req: CredentialSource): string | undefined {
  const value = req.headers.authorization;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || countAuthorizationHeaders(req.rawHeaders) > 1) {
    throw new VerificationError('request_invalid', { reason: 'several authorization headers' });
  }
  const match = CREDENTIALS.exec(value);
  if (!match) {
    // A lone scheme ("Bearer") or garbage: the client tried and got the syntax wrong.
    if (/^bearer\b/i.test(value) || !/^[A-Za-z][\w!#$%&'*+.^`|~-]*( |$)/.test(value)) {
      throw new VerificationError('request_invalid', { reason: 'malformed authorization header' });
    }
    return undefined; // another scheme with its own syntax (e.g. Digest): not ours to judge
  }
  if (match[1]!.toLowerCase() !== 'bearer') return undefined;
  return match[2]!;
}

/** An HTTP response for a failure: what every adapter writes. */
export interface HttpError {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

export interface HttpErrorOptions {
  /** RFC 6750 `realm` for the challenge. Omitted by default. */
  realm?: string | undefined;
}

/** Turns a VerificationError into status, headers (`WWW-Authenticate`) and a JSON body. */
export function toHttpError(err: VerificationError, options: HttpErrorOptions = {}): HttpError {
  const error =
    oauthErrorOf(err.code) ?? (err.status === 503 ? 'temporarily_unavailable' : 'unauthorized');
  return {
    status: err.status,
    headers: challengeHeaders(err, options.realm),
    body: { error, error_description: describe(err.code) },
  };
}

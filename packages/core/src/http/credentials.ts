import type { IncomingHttpHeaders } from 'node:http';
import { VerificationError, challengeHeaders, descriptionOf, oauthErrorOf } from '../errors.js';
import type { ChallengeContext } from '../errors.js';

/** The parts of a Node request that carry credentials (an IncomingMessage fits). */
export interface CredentialSource {
  headers: IncomingHttpHeaders;
  /** Raw header list: Node keeps only the first of two `Authorization` headers in `headers`. */
  rawHeaders?: readonly string[];
  /**
   * The connection (a node:net Socket or node:tls TLSSocket, read as a `PeerSocket`): `encrypted`
   * gives the scheme for DPoP's `htu`, and a TLS socket's peer certificate is the client
   * certificate of mTLS-bound tokens (RFC 8705).
   */
  socket?: object | null | undefined;
}

/** The parts of a (TLS) socket that sender-constrained tokens read. */
export interface PeerSocket {
  /** True on a TLS socket. */
  encrypted?: boolean;
  /** node:tls `TLSSocket.getPeerCertificate`: `raw` is the DER certificate; `{}` when none. */
  getPeerCertificate?(detailed?: boolean): { raw?: Uint8Array } | null | undefined;
}

/** The credentials of a request: the scheme it used and the token. */
export interface Credentials {
  scheme: 'bearer' | 'dpop';
  token: string;
}

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token
const CREDENTIALS = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +([A-Za-z0-9\-._~+/]+=*) *$/;

/** How many times a header appears (lower-case `name`); 1 when the raw list is unknown. */
export function countHeaders(raw: readonly string[] | undefined, name: string): number {
  if (!raw) return 1;
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    // The length first: lower-casing every header name of every request allocates.
    const field = raw[i]!;
    if (field.length === name.length && field.toLowerCase() === name) n++;
  }
  return n;
}

/** A WHATWG `Headers` (fetch, Next.js, Undici), or anything with the same `get`. */
export interface HeadersLike {
  get(name: string): string | null;
}

/** A plain headers object: Lambda events, Next.js `req.headers`, hand-written node:http code. */
export type PlainHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * What `extractBearer` reads: a Node request (or anything with `headers`), a WHATWG `Request`,
 * a WHATWG `Headers`, or a plain headers object (names in any case).
 */
export type BearerSource = CredentialSource | { headers: HeadersLike } | HeadersLike | PlainHeaders;

function isHeadersLike(value: unknown): value is HeadersLike {
  return typeof (value as { get?: unknown }).get === 'function';
}

/** Reads any BearerSource as the CredentialSource extractCredentials takes. */
function toCredentialSource(input: BearerSource): CredentialSource {
  if (isHeadersLike(input)) {
    // Headers joins repeated fields with ", ", which no valid credentials contain.
    return { headers: { authorization: input.get('authorization') ?? undefined } };
  }
  const headers: unknown = (input as { headers?: unknown }).headers;
  if (typeof headers === 'object' && headers !== null) {
    return isHeadersLike(headers) ? toCredentialSource(headers) : (input as CredentialSource);
  }
  // A plain headers object: the name may come in any case (API Gateway keeps the client's), and
  // the same header twice (two spellings, or a list of two) is two Authorization headers.
  const values = Object.entries(input as PlainHeaders)
    .filter(([name]) => name.toLowerCase() === 'authorization')
    .flatMap(([, value]) =>
      value === undefined ? [] : typeof value === 'string' ? [value] : value,
    );
  return {
    headers: { authorization: values[0] },
    rawHeaders: values.flatMap((value) => ['authorization', value]),
  };
}

/**
 * Reads the bearer token from `Authorization: Bearer <token>` (scheme case-insensitive) of a
 * Node request, a WHATWG `Request` or `Headers`, or a plain headers object; `null` or
 * `undefined` headers are no credentials. Returns `undefined` when the request carries no
 * bearer credentials (no header, or another scheme such as Basic). A malformed header, or two
 * `Authorization` headers, is `request_invalid` (400, RFC 6750 §3.1). The token itself is
 * checked later by the verifier.
 *
 * @example
 * extractBearer(req);                          // node:http, Express, Koa's ctx.req
 * extractBearer(request.headers);              // fetch / Next.js route handler (Headers)
 * extractBearer(event.headers);                // AWS Lambda (plain object, any case)
 */
export function extractBearer(input: BearerSource | null | undefined): string | undefined {
  if (input === null || input === undefined) return undefined;
  if (typeof input !== 'object' && typeof input !== 'function') {
    throw new TypeError(
      'extractBearer needs a request, a Headers object or a plain headers object',
    );
  }
  return extractCredentials(toCredentialSource(input), false)?.token;
}

/**
 * Reads `Authorization: Bearer <token>`, and also `Authorization: DPoP <token>` (RFC 9449 §7.1)
 * when `dpop` is true. Other schemes are no credentials (`undefined`); a malformed header or two
 * `Authorization` headers are `request_invalid`.
 */
export function extractCredentials(req: CredentialSource, dpop: boolean): Credentials | undefined {
  const value = req.headers.authorization;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || countHeaders(req.rawHeaders, 'authorization') > 1) {
    throw new VerificationError('request_invalid', {
      reason: 'request has several Authorization headers',
    });
  }
  const match = CREDENTIALS.exec(value);
  if (!match) {
    // A lone scheme ("Bearer") or garbage: the client tried and got the syntax wrong.
    if (
      /^bearer\b/i.test(value) ||
      (dpop && /^dpop\b/i.test(value)) ||
      !/^[A-Za-z][\w!#$%&'*+.^`|~-]*( |$)/.test(value)
    ) {
      throw new VerificationError('request_invalid', {
        reason: 'Authorization header is malformed',
      });
    }
    return undefined; // another scheme with its own syntax (e.g. Digest): not ours to judge
  }
  const scheme = match[1]!.toLowerCase();
  if (scheme === 'bearer') return { scheme: 'bearer', token: match[2]! };
  if (dpop && scheme === 'dpop') return { scheme: 'dpop', token: match[2]! };
  return undefined;
}

const BEARER = 'bearer';

/**
 * The token of `Authorization: Bearer <token>` (one header, scheme in any case, one space), read
 * without the credentials regex: for the token-cache lookup a reused token gets before the header
 * is parsed. It may be malformed: only a token the cache holds (one that passed every syntax check
 * when it was verified) may be trusted as extracted; anything else goes to `extractCredentials`.
 */
export function bearerCandidate(req: CredentialSource): string | undefined {
  const value = req.headers.authorization;
  const n = BEARER.length;
  if (typeof value !== 'string' || value.length <= n + 1 || value.charCodeAt(n) !== 0x20) {
    return undefined;
  }
  for (let i = 0; i < n; i++) {
    // `| 0x20` lower-cases an ASCII letter (and maps no other character onto one).
    if ((value.charCodeAt(i) | 0x20) !== BEARER.charCodeAt(i)) return undefined;
  }
  if (countHeaders(req.rawHeaders, 'authorization') > 1) return undefined;
  return value.slice(n + 1);
}

/** An HTTP response for a failure: what every adapter writes. */
export interface HttpError {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

/**
 * How to write the challenge: `realm` (RFC 6750, omitted by default) and, for DPoP, the schemes
 * accepted and the one the request used (see `ChallengeContext`).
 */
export type HttpErrorOptions = ChallengeContext;

/** Turns a VerificationError into status, headers (`WWW-Authenticate`) and a JSON body. */
export function toHttpError(err: VerificationError, options: HttpErrorOptions = {}): HttpError {
  const error =
    oauthErrorOf(err.code) ?? (err.status === 503 ? 'temporarily_unavailable' : 'unauthorized');
  return {
    status: err.status,
    headers: challengeHeaders(err, options),
    body: { error, error_description: descriptionOf(err.code) },
  };
}

/** The DER client certificate of a TLS socket, if the client presented one. */
export function peerCertificate(socket: object | null | undefined): Uint8Array | undefined {
  const peer = socket as PeerSocket | null | undefined;
  if (typeof peer?.getPeerCertificate !== 'function') return undefined;
  const raw = peer.getPeerCertificate(false)?.raw;
  return raw instanceof Uint8Array && raw.length > 0 ? raw : undefined;
}

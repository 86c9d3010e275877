interface CodeInfo {
  /** HTTP status the code maps to. */
  readonly status: 400 | 401 | 403 | 503;
  /**
   * RFC 6750 §3.1 (or RFC 9449 §7.1, §9) error code for the challenge; absent when the request
   * carried no credentials.
   */
  readonly error?:
    | 'invalid_request'
    | 'invalid_token'
    | 'insufficient_scope'
    | 'invalid_dpop_proof'
    | 'use_dpop_nonce';
  /** Fixed text: never built from token data (RFC 6750 forbids `"` and `\` in it). */
  readonly description: string;
}

/** The only table that knows a status. Every runtime failure is one of these codes. */
const CODES = {
  token_missing: { status: 401, description: 'bearer token required' },
  request_invalid: {
    status: 400,
    error: 'invalid_request',
    description: 'malformed authorization request',
  },
  token_malformed: { status: 401, error: 'invalid_token', description: 'token is malformed' },
  token_too_large: { status: 401, error: 'invalid_token', description: 'token is too large' },
  alg_not_allowed: {
    status: 401,
    error: 'invalid_token',
    description: 'token algorithm is not allowed',
  },
  enc_not_allowed: {
    status: 401,
    error: 'invalid_token',
    description: 'token encryption algorithm is not allowed',
  },
  decryption_failed: {
    status: 401,
    error: 'invalid_token',
    description: 'token could not be decrypted',
  },
  encryption_required: {
    status: 401,
    error: 'invalid_token',
    description: 'token must be encrypted',
  },
  kid_unknown: { status: 401, error: 'invalid_token', description: 'token signing key is unknown' },
  signature_invalid: {
    status: 401,
    error: 'invalid_token',
    description: 'token signature is invalid',
  },
  token_expired: { status: 401, error: 'invalid_token', description: 'token has expired' },
  token_not_yet_valid: {
    status: 401,
    error: 'invalid_token',
    description: 'token is not yet valid',
  },
  token_too_old: { status: 401, error: 'invalid_token', description: 'token is too old' },
  issuer_mismatch: {
    status: 401,
    error: 'invalid_token',
    description: 'token issuer is not trusted',
  },
  audience_mismatch: {
    status: 401,
    error: 'invalid_token',
    description: 'token audience does not match',
  },
  typ_mismatch: { status: 401, error: 'invalid_token', description: 'token type does not match' },
  claim_missing: {
    status: 401,
    error: 'invalid_token',
    description: 'token is missing a required claim',
  },
  claim_invalid: { status: 401, error: 'invalid_token', description: 'token has an invalid claim' },
  scope_insufficient: {
    status: 403,
    error: 'insufficient_scope',
    description: 'token lacks the required scope',
  },
  jwks_unavailable: { status: 503, description: 'signing keys are temporarily unavailable' },
  // The server's clock (the `now` option) read NaN or another non-finite value (config/clock.ts).
  clock_unavailable: { status: 503, description: 'server clock is temporarily unavailable' },
  // Sender-constrained tokens (binding/: dpop.ts, mtls.ts, sender-constraint.ts).
  dpop_proof_invalid: {
    status: 401,
    error: 'invalid_dpop_proof',
    description: 'DPoP proof is invalid',
  },
  dpop_nonce_required: {
    status: 401,
    error: 'use_dpop_nonce',
    description: 'DPoP proof must carry the server nonce',
  },
  token_binding_mismatch: {
    status: 401,
    error: 'invalid_token',
    description: 'token is not bound to the presented key or certificate',
  },
  replay_store_unavailable: {
    status: 503,
    description: 'replay protection is temporarily unavailable',
  },
  // The `revoked` hook (token/revocation.ts): the token is on the denylist, or the hook could not
  // answer (it threw, or a denylist is unsure its list is current and fails closed).
  token_revoked: { status: 401, error: 'invalid_token', description: 'token has been revoked' },
  revocation_unavailable: {
    status: 503,
    description: 'revocation check is temporarily unavailable',
  },
} as const satisfies Record<string, CodeInfo>;

/** A stable failure code: callers and logs switch on it. */
export type VerificationErrorCode = keyof typeof CODES;

/** Every code, in table order (for tests that check each code has a case). */
export const VERIFICATION_ERROR_CODES = Object.keys(CODES) as readonly VerificationErrorCode[];

/** The HTTP status a code maps to. */
export function statusOf(code: VerificationErrorCode): number {
  return CODES[code].status;
}

/** The fixed, token-free description of a code. */
export function descriptionOf(code: VerificationErrorCode): string {
  return CODES[code].description;
}

/** RFC 6750 error code of a code, if the challenge carries one. */
export function oauthErrorOf(code: VerificationErrorCode): string | undefined {
  return (CODES[code] as CodeInfo).error;
}

/** Unverified hints about the rejected token, for logs only (length-capped when logged). */
export interface TokenDetails {
  kid?: unknown;
  alg?: unknown;
  iss?: unknown;
  sub?: unknown;
}

export interface VerificationErrorOptions {
  /** The underlying error (a jose error, a network error), kept for logs only. */
  cause?: unknown;
  /** For `scope_insufficient`: the scopes that would have sufficed (RFC 6750 `scope=`). */
  scope?: readonly string[];
  /** A short, token-free detail for logs (e.g. which claim). Never sent to the client. */
  reason?: string;
  /** For `dpop_nonce_required`: the fresh nonce sent in the `DPoP-Nonce` header (RFC 9449 §9). */
  dpopNonce?: string;
}

/**
 * The one error type of every runtime failure. `status`, `headers` and `expose` are the fields
 * Express's finalhandler, Koa's onerror and Fastify's error handler already read, so an error
 * forwarded to the framework still produces a correct response.
 */
export class VerificationError extends Error {
  override readonly name = 'VerificationError';
  readonly code: VerificationErrorCode;
  readonly status: number;
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly expose = true;
  readonly scope: readonly string[] | undefined;
  /** Token-free detail for logs; never sent to the client. */
  readonly reason: string | undefined;
  /** The server nonce a `dpop_nonce_required` error hands the client (`DPoP-Nonce` header). */
  readonly dpopNonce: string | undefined;
  /** Unverified header/claim hints for the log record (`kid`, `alg`, `iss`, `sub`); set by core. */
  details: TokenDetails | undefined;

  constructor(code: VerificationErrorCode, options: VerificationErrorOptions = {}) {
    super(CODES[code].description, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.status = this.statusCode = CODES[code].status;
    this.scope = options.scope;
    this.reason = options.reason;
    this.dpopNonce = options.dpopNonce;
    this.details = undefined;
    this.headers = challengeHeaders(this);
  }
}

/** True for a VerificationError (also one from another copy of this package). */
export function isVerificationError(err: unknown): err is VerificationError {
  return (
    err instanceof VerificationError ||
    (err instanceof Error &&
      err.name === 'VerificationError' &&
      'code' in err &&
      (err.code as string) in CODES)
  );
}

// RFC 7235 quoted-string: no `"` or `\`; RFC 6750 also limits the characters. Anything outside
// %x20-21 / %x23-5B / %x5D-7E is dropped so a header never throws (which would turn 401 into 500).
function quoted(value: string): string {
  return `"${value.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '')}"`;
}

/** What a receiver accepts, so the challenge names every scheme a client may use. */
export interface ChallengeContext {
  /** RFC 6750 `realm`, on every challenge. */
  realm?: string | undefined;
  /** `Authorization: Bearer` is accepted. Default true. */
  bearer?: boolean;
  /** `Authorization: DPoP` is accepted with proofs signed by these algorithms (RFC 9449 §7.1). */
  dpopAlgs?: readonly string[] | undefined;
  /** The scheme the rejected request used: its challenge carries the error. */
  scheme?: 'bearer' | 'dpop' | undefined;
}

const DPOP_ERRORS = new Set<string>(['invalid_dpop_proof', 'use_dpop_nonce']);

/**
 * Builds the response headers for an error: one challenge per accepted scheme (`Bearer`, `DPoP`,
 * RFC 9449 §7.1), the error on the scheme it concerns, and `DPoP-Nonce` when a nonce is required.
 */
export function challengeHeaders(
  err: VerificationError,
  context: ChallengeContext = {},
): Record<string, string> {
  const info: CodeInfo = CODES[err.code];
  if (info.status === 503) return { 'Retry-After': '30' };
  const dpopError = info.error !== undefined && DPOP_ERRORS.has(info.error);
  const bearer = context.bearer ?? true;
  // Without a context (the error's own headers), a DPoP error still gets its DPoP challenge.
  const dpop = context.dpopAlgs !== undefined || dpopError;
  const errorOn = dpopError || !bearer ? 'dpop' : (context.scheme ?? 'bearer');
  const errorParams: string[] = [];
  if (info.error) {
    errorParams.push(
      `error=${quoted(info.error)}`,
      `error_description=${quoted(info.description)}`,
    );
    if (err.scope?.length) errorParams.push(`scope=${quoted(err.scope.join(' '))}`);
  }
  const realm = context.realm === undefined ? [] : [`realm=${quoted(context.realm)}`];
  const challenges: string[] = [];
  if (bearer) {
    const params = [...realm, ...(errorOn === 'bearer' ? errorParams : [])];
    challenges.push(params.length ? `Bearer ${params.join(', ')}` : 'Bearer');
  }
  if (dpop) {
    const params = [...realm, ...(errorOn === 'dpop' ? errorParams : [])];
    if (context.dpopAlgs?.length) params.push(`algs=${quoted(context.dpopAlgs.join(' '))}`);
    challenges.push(params.length ? `DPoP ${params.join(', ')}` : 'DPoP');
  }
  const headers: Record<string, string> = { 'WWW-Authenticate': challenges.join(', ') };
  if (err.dpopNonce !== undefined) headers['DPoP-Nonce'] = err.dpopNonce;
  return headers;
}

const JOSE_CODES: Record<string, VerificationErrorCode> = {
  ERR_JWE_DECRYPTION_FAILED: 'decryption_failed',
  ERR_JWE_INVALID: 'token_malformed',
  ERR_JWS_INVALID: 'token_malformed',
  ERR_JWT_INVALID: 'token_malformed',
  ERR_JOSE_ALG_NOT_ALLOWED: 'alg_not_allowed',
  ERR_JOSE_NOT_SUPPORTED: 'token_malformed',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'signature_invalid',
  ERR_JWT_EXPIRED: 'token_expired',
};

/**
 * Translates a jose error (by its documented `code`) into ours, keeping it as `cause` for logs.
 * The one place that knows jose's codes, so no `ERR_JWT_…` leaks out of core.
 */
export function fromJoseError(err: unknown, fallback: VerificationErrorCode): VerificationError {
  if (isVerificationError(err)) return err;
  const joseCode = (err as { code?: unknown } | null)?.code;
  const code = (typeof joseCode === 'string' && JOSE_CODES[joseCode]) || fallback;
  return new VerificationError(code, {
    cause: err,
    reason: typeof joseCode === 'string' ? `jose refused the token (${joseCode})` : undefined,
  });
}

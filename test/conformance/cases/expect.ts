// What the rows expect: the answers every adapter must give, built from RFC 6750 / RFC 9449.
import type { VerificationErrorCode } from '@tokengate/core';
import { signing } from '@tokengate/test-fixtures/keys';
import { ISSUER, SUBJECT } from '@tokengate/test-fixtures/tokens';
import type { RouteName } from '../drivers.js';
import { handlerBody } from './case.js';
import type { Expected, LogHints } from './case.js';

/** What the record names for a token signed with the default key: its kid, alg and (unverified) iss. */
export const es256Hints = (iss = ISSUER): LogHints => ({
  kid: signing.es256.kid,
  alg: 'ES256',
  iss,
});

/** The handler ran and answered for the fixtures' subject. */
export const ok = (route: RouteName = 'open', encrypted = false): Expected => ({
  status: 200,
  body: handlerBody(route, SUBJECT, encrypted),
  handled: true,
});

// --- Bearer (RFC 6750 §3) ----------------------------------------------------------------------

/** The challenge of an invalid or rejected token (RFC 6750 §3). */
const invalidToken = (description: string) =>
  `Bearer error="invalid_token", error_description="${description}"`;
export const invalidRequestParams =
  'error="invalid_request", error_description="malformed authorization request"';
export const invalidRequest = `Bearer ${invalidRequestParams}`;
const insufficientScope = (scope?: string) =>
  'Bearer error="insufficient_scope", error_description="token lacks the required scope"' +
  (scope ? `, scope="${scope}"` : '');

/** A token refused with `code`: 401 invalid_token. */
export function rejected(
  code: VerificationErrorCode,
  description: string,
  log: LogHints = {},
): Expected {
  return {
    status: 401,
    challenge: invalidToken(description),
    body: { error: 'invalid_token', error_description: description },
    handled: false,
    log: { code, ...log },
  };
}

export const missing: Expected = {
  status: 401,
  challenge: 'Bearer', // RFC 6750 §3.1: no error code when the request had no credentials
  body: { error: 'unauthorized', error_description: 'bearer token required' },
  handled: false,
  log: { code: 'token_missing' },
};

export const badRequest: Expected = {
  status: 400,
  challenge: invalidRequest,
  body: { error: 'invalid_request', error_description: 'malformed authorization request' },
  handled: false,
  log: { code: 'request_invalid' },
};

export const forbidden = (scope?: string): Expected => ({
  status: 403,
  challenge: insufficientScope(scope),
  body: { error: 'insufficient_scope', error_description: 'token lacks the required scope' },
  handled: false,
  log: { code: 'scope_insufficient', ...es256Hints() },
});

/** A 503 with `Retry-After: 30` and no challenge (a dependency of the receiver is down). */
export const unavailable = (
  code: VerificationErrorCode,
  description: string,
  log: LogHints = {},
): Expected => ({
  status: 503,
  headers: { 'retry-after': '30' },
  body: { error: 'temporarily_unavailable', error_description: description },
  handled: false,
  log: { code, ...log },
});

/** `expected` with its log record at `level`. */
export const loggedAt = (level: 'info' | 'warn' | 'error', expected: Expected): Expected => ({
  ...expected,
  log: { ...expected.log!, level },
});

/** `expected` with its log record naming `reason`. */
export const loggedWith = (reason: string, expected: Expected): Expected => ({
  ...expected,
  log: { ...expected.log!, reason },
});

// --- DPoP (RFC 9449 §7.1) and mTLS (RFC 8705) ---------------------------------------------------

export const ALGS = 'algs="ES256 ES384 PS256 RS256 EdDSA Ed25519"';
const BINDING = 'token is not bound to the presented key or certificate';
const PROOF_INVALID = 'DPoP proof is invalid';
const NONCE_REQUIRED = 'DPoP proof must carry the server nonce';

/** A rejected proof: `invalid_dpop_proof` on the DPoP challenge, both schemes offered. */
export function proofRejected(reason: string, log: LogHints = es256Hints()): Expected {
  return {
    status: 401,
    challenge: `Bearer, DPoP error="invalid_dpop_proof", error_description="${PROOF_INVALID}", ${ALGS}`,
    body: { error: 'invalid_dpop_proof', error_description: PROOF_INVALID },
    handled: false,
    log: { code: 'dpop_proof_invalid', ...log, reason },
  };
}

/** A binding refused; the error sits on the scheme the request used. */
export function bindingRefused(
  on: 'bearer only' | 'bearer' | 'dpop' | 'dpop only',
  reason: string,
  log: LogHints = es256Hints(),
): Expected {
  const error = `error="invalid_token", error_description="${BINDING}"`;
  const challenge = {
    'bearer only': `Bearer ${error}`,
    bearer: `Bearer ${error}, DPoP ${ALGS}`,
    dpop: `Bearer, DPoP ${error}, ${ALGS}`,
    'dpop only': `DPoP ${error}, ${ALGS}`,
  }[on];
  return {
    status: 401,
    challenge,
    body: { error: 'invalid_token', error_description: BINDING },
    handled: false,
    log: { code: 'token_binding_mismatch', ...log, reason },
  };
}

export const nonceRequired = (nonce: string, reason: string): Expected => ({
  status: 401,
  challenge: `Bearer, DPoP error="use_dpop_nonce", error_description="${NONCE_REQUIRED}", ${ALGS}`,
  headers: { 'dpop-nonce': nonce },
  body: { error: 'use_dpop_nonce', error_description: NONCE_REQUIRED },
  handled: false,
  log: { code: 'dpop_nonce_required', ...es256Hints(), reason },
});

/** A DPoP request whose Host or target cannot give a URL: 400, before the token is read. */
export const badUrl = (reason: string): Expected => ({
  status: 400,
  challenge: `Bearer, DPoP ${invalidRequestParams}, ${ALGS}`,
  body: { error: 'invalid_request', error_description: 'malformed authorization request' },
  handled: false,
  log: { code: 'request_invalid', reason },
});

// The gate's sender-constraint step (RFC 9449 DPoP, RFC 8705 mTLS): after the token verifies,
// check it against the key or certificate it is bound to (`cnf`) and the request it came with.
import { isPromiseLike } from '../lib/maybe-promise.js';
import type { Clock } from '../config/clock.js';
import { normalizeDpop, replayKey, replayTtl, verifyProof } from './dpop.js';
import type { DpopOptions, NormalizedDpop } from './dpop.js';
import { VerificationError, isVerificationError } from '../errors.js';
import type { ChallengeContext } from '../errors.js';
import { countHeaders } from '../http/credentials.js';
import type { CredentialSource, Credentials } from '../http/credentials.js';
import type { RequestFacts } from '../telemetry/log.js';
import { assertCertificateBinding, normalizeMtls } from './mtls.js';
import type { MtlsOptions } from './mtls.js';
import type { UrlSettings } from '../http/request-url.js';
import type { Logger } from '../telemetry/log.js';
import type { VerifiedToken } from '../token/types.js';

/**
 * What the step reads from a request, through the HTTP layer (the gate): headers, method and the
 * socket's client certificate. The request URL is computed by the gate too (request-url.ts).
 */
export interface BindingIo<Req> {
  raw(req: Req): CredentialSource;
  facts(req: Req): RequestFacts;
  /** The DER client certificate of the request's TLS socket, read by the HTTP layer. */
  peerCertificate(req: Req): Uint8Array | undefined;
}

/** Checks tokens against their binding (`cnf`); built once per gate. */
export interface SenderConstraint<Req> {
  /** Whether `Authorization: DPoP` is read at all. */
  readonly dpop: boolean;
  /** The schemes to name in challenges. */
  readonly challenge: Pick<ChallengeContext, 'bearer' | 'dpopAlgs'>;
  /**
   * Before verification: refuses a scheme this receiver does not accept, and a `DPoP` proof
   * sent with `Bearer` credentials.
   */
  assertScheme(scheme: Credentials['scheme'], raw: CredentialSource): void;
  /** Where the request URL of a DPoP request comes from besides the request (request-url.ts). */
  readonly urlSettings: UrlSettings<Req>;
  /**
   * After verification: the token when its binding holds for this request. `url` is the URL
   * the client called, computed and checked by the gate (request-url.ts); required for DPoP.
   * Synchronous unless the replay store answers asynchronously; throws (or rejects with) a
   * VerificationError.
   */
  check(
    auth: VerifiedToken,
    credentials: Credentials,
    req: Req,
    url: string | undefined,
  ): VerifiedToken | Promise<VerifiedToken>;
}

function mismatch(reason: string): VerificationError {
  return new VerificationError('token_binding_mismatch', { reason });
}

function unavailable(cause: unknown): VerificationError {
  if (isVerificationError(cause)) return cause;
  return new VerificationError('replay_store_unavailable', {
    cause,
    reason: 'the replay store failed',
  });
}

function withDetails(err: unknown, auth: VerifiedToken): unknown {
  // The record names the verified token's key and issuer, as for any other rejection.
  if (isVerificationError(err)) {
    err.details ??= { kid: auth.header.kid, alg: auth.header.alg, iss: auth.payload.iss };
  }
  return err;
}

function optionalString(cnf: Record<string, unknown>, name: string): string | undefined {
  const value = cnf[name];
  if (value !== undefined && (typeof value !== 'string' || value === '')) {
    throw new VerificationError('claim_invalid', { reason: `"cnf.${name}" is not a string` });
  }
  return value;
}

/** What the step's checks read: the settings and the HTTP layer's view of the request. */
interface StepContext<Req> {
  dpopSettings: NormalizedDpop<Req>;
  mtls: MtlsOptions<Req>;
  io: BindingIo<Req>;
}

/** RFC 9449 §4.3: the DPoP proof of this request, for a token bound to `jkt`. */
function checkProof<Req>(
  step: StepContext<Req>,
  auth: VerifiedToken,
  jkt: string,
  token: string,
  req: Req,
  url: string,
): VerifiedToken | Promise<VerifiedToken> {
  const { io, dpopSettings } = step;
  const raw = io.raw(req);
  const header = raw.headers.dpop;
  // RFC 9449 §4.3 step 1: exactly one DPoP header.
  if (header === undefined || header === '') {
    throw new VerificationError('dpop_proof_invalid', { reason: 'request has no DPoP header' });
  }
  if (typeof header !== 'string' || countHeaders(raw.rawHeaders, 'dpop') > 1) {
    throw new VerificationError('dpop_proof_invalid', {
      reason: 'request has several DPoP headers',
    });
  }
  const proof = verifyProof(
    { proof: header, method: io.facts(req).method, url, accessToken: token },
    dpopSettings as NormalizedDpop<unknown>,
  );
  if (proof.jkt !== jkt) throw mismatch('proof key does not match "cnf.jkt"');
  if (dpopSettings.nonce) {
    const nonce = proof.payload.nonce;
    if (typeof nonce !== 'string' || !dpopSettings.nonce.isValid(nonce)) {
      throw new VerificationError('dpop_nonce_required', {
        reason: nonce === undefined ? 'proof has no nonce' : 'proof nonce is invalid or stale',
        dpopNonce: dpopSettings.nonce.current(),
      });
    }
  }
  // Last: only a request that passed every other check may spend a replay-store entry.
  const fresh = (added: boolean): VerifiedToken => {
    if (added !== true) {
      throw new VerificationError('dpop_proof_invalid', {
        reason: 'proof "jti" was seen before (a replay)',
      });
    }
    return auth;
  };
  let added: boolean | Promise<boolean>;
  try {
    added = dpopSettings.replayStore.add(
      replayKey(proof),
      replayTtl(proof, dpopSettings as NormalizedDpop<unknown>),
    );
  } catch (err) {
    throw unavailable(err);
  }
  if (!isPromiseLike(added)) return fresh(added);
  return Promise.resolve(added).then(fresh, (err: unknown) => {
    throw unavailable(err);
  });
}

/** Checks `cnf` against the request: the certificate (`x5t#S256`), then the DPoP key (`jkt`). */
function bind<Req>(
  step: StepContext<Req>,
  auth: VerifiedToken,
  credentials: Credentials,
  req: Req,
  url: string | undefined,
): VerifiedToken | Promise<VerifiedToken> {
  const { io, mtls } = step;
  const cnf = auth.payload.cnf;
  if (cnf !== undefined && (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf))) {
    throw new VerificationError('claim_invalid', { reason: '"cnf" is not an object' });
  }
  const members = (cnf ?? {}) as Record<string, unknown>;
  const jkt = optionalString(members, 'jkt');
  const x5t = optionalString(members, 'x5t#S256');
  if (x5t !== undefined) {
    const certificate = mtls.certificate ? mtls.certificate(req) : io.peerCertificate(req);
    assertCertificateBinding(x5t, certificate);
  } else if (mtls.required) {
    throw mismatch('certificate-bound token required');
  }
  if (credentials.scheme === 'bearer') {
    // RFC 9449 §7.2: a DPoP-bound token is never accepted as a bearer token.
    if (jkt !== undefined) throw mismatch('DPoP-bound token was sent as Bearer');
    return auth;
  }
  if (jkt === undefined) throw mismatch('token without "cnf.jkt" was sent as DPoP');
  // The gate computes the URL for every DPoP request before the token is verified.
  if (url === undefined) throw new TypeError('a DPoP request needs its URL');
  return checkProof(step, auth, jkt, credentials.token, req, url);
}

/** Builds the step from the gate settings `dpop` and `mtls`. Throws TypeError on bad options. */
export function createSenderConstraint<Req>(
  settings: {
    dpop?: DpopOptions<Req> | undefined;
    mtls?: MtlsOptions<Req> | undefined;
    logger?: Logger | undefined;
  },
  io: BindingIo<Req>,
  defaultNow: Clock,
): SenderConstraint<Req> {
  const dpopSettings: NormalizedDpop<Req> = normalizeDpop(
    settings.dpop,
    defaultNow,
    settings.logger,
  );
  const mtls = normalizeMtls(settings.mtls);
  const dpop = dpopSettings.mode !== 'disabled';
  const mtlsRequired = mtls.required === true;
  const step: StepContext<Req> = { dpopSettings, mtls, io };

  return {
    dpop,
    challenge: {
      bearer: dpopSettings.mode !== 'required',
      dpopAlgs: dpop ? dpopSettings.algorithms : undefined,
    },
    assertScheme(scheme, raw) {
      if (scheme !== 'bearer' || !dpop) return;
      if (dpopSettings.mode === 'required')
        throw mismatch('DPoP is required and the request used Bearer');
      // RFC 9449 §7.1: a proof goes with `Authorization: DPoP`. A proof beside a Bearer token is
      // a client mixing schemes, and RFC 6750 §3.1 makes a request that sends credentials more
      // than one way `invalid_request`. Refused, not ignored: the client believes its token is
      // sender-constrained while it is used as a bearer token.
      if (raw.headers.dpop !== undefined) {
        throw new VerificationError('request_invalid', { reason: 'DPoP proof sent with Bearer' });
      }
    },
    urlSettings: { origin: dpopSettings.origin, url: dpopSettings.url },
    check(auth, credentials, req, url) {
      // The hot path: an unbound bearer token costs one property read.
      if (credentials.scheme === 'bearer' && auth.payload.cnf === undefined && !mtlsRequired) {
        return auth;
      }
      let result: VerifiedToken | Promise<VerifiedToken>;
      try {
        result = bind(step, auth, credentials, req, url);
      } catch (err) {
        throw withDetails(err, auth);
      }
      if (isPromiseLike(result)) {
        return Promise.resolve(result).catch((err: unknown) => {
          throw withDetails(err, auth);
        });
      }
      return result;
    },
  };
}

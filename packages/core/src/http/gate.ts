import { createSenderConstraint } from '../binding/sender-constraint.js';
import type { SenderConstraint } from '../binding/sender-constraint.js';
import { systemClock } from '../config/clock.js';
import type { Clock } from '../config/clock.js';
import type { DpopOptions } from '../binding/dpop.js';
import { VerificationError, isVerificationError } from '../errors.js';
import {
  bearerCandidate,
  extractCredentials,
  peerCertificate,
  toHttpError,
} from './credentials.js';
import type { CredentialSource, Credentials, HttpError } from './credentials.js';
import type { MtlsOptions } from '../binding/mtls.js';
import { logAt, stderrLogger, toLogLevels, toLogger, toRejectionRecord } from '../telemetry/log.js';
import type { LogLevels, LoggerOption, RequestFacts } from '../telemetry/log.js';
import { requestUrl } from './request-url.js';
import type { Guard } from '../guards/scopes.js';
import type { Logger } from '../telemetry/log.js';
import type { VerifiedToken } from '../token/types.js';
import type { Verifier } from '../verifier.js';
import { createVerifier } from '../verifier.js';
import { assertKnownOptions, verifierOptionsOf } from '../config/option-names.js';
import type { VerifierOptions } from '../config/options.js';
import { booleanOption } from '../config/option-default.js';
import { isPromiseLike } from '../lib/maybe-promise.js';

/** Options every adapter accepts on top of the verifier's. */
export interface GateSettings<Req> {
  /** Default true. When false a request without a token passes with no `auth`; a bad one is still rejected. */
  credentialsRequired?: boolean;
  /** Reads the token from elsewhere (a cookie, say). A token there *and* in the header is 400. */
  getToken?: (req: Req) => string | undefined;
  /**
   * pino-compatible logger for rejection records (and, with verifier options, JWKS failures).
   * Default: one JSON line on stderr; `false` logs nothing at all.
   */
  logger?: LoggerOption;
  /**
   * The level each code's rejection record is logged at (`'info'`, `'warn'`, `'error'` or
   * `'silent'`). Default: `token_missing` at `'info'` (health checks and scanners send no token),
   * every other code at `'warn'`. Example: `{ token_missing: 'silent', jwks_unavailable: 'error' }`.
   */
  logLevels?: LogLevels;
  /**
   * Hand rejections to the framework's error handling instead of answering them: Express
   * `next(err)`, Koa throws to upstream middleware, Fastify calls `setErrorHandler`'s handler.
   * The error is a `VerificationError` whose `status`, `headers` (`WWW-Authenticate`, with the
   * realm and DPoP challenge) and `code` are those of the answer tokengate would have sent. It is
   * logged once either way. Default false.
   */
  passErrors?: boolean;
  /** Called once per rejection, after logging. Errors it throws are ignored. */
  onRejected?: (err: VerificationError, req: Req) => void;
  /** RFC 6750 `realm` in the challenge. */
  realm?: string;
  /**
   * Claims the scope guards read. Default `['scope', 'scp']`; add `'permissions'` for an
   * Auth0-style permissions array.
   */
  scopeClaims?: readonly string[];
  /**
   * DPoP (RFC 9449): read `Authorization: DPoP` with its `DPoP` proof header. Off unless set; a
   * DPoP-bound token (`cnf.jkt`) sent as `Bearer` is refused in every case.
   */
  dpop?: DpopOptions<Req>;
  /**
   * Certificate-bound tokens (RFC 8705): where the client certificate comes from, and whether
   * only such tokens are accepted (`required`). A token with `cnf["x5t#S256"]` is always
   * checked; by default against the TLS socket's peer certificate.
   */
  mtls?: MtlsOptions<Req>;
}

/**
 * What an adapter takes: verifier options plus the gate settings, or a ready verifier (alone, or
 * as `{ verifier, ...settings }` to share one verifier and still set the gate settings).
 */
export type GateOptions<Req> =
  (VerifierOptions & GateSettings<Req>) | (GateSettings<Req> & { verifier: Verifier }) | Verifier;

/** How an adapter reads its framework's request. */
export interface RequestIo<Req> {
  /** The Node request (IncomingMessage) behind the framework's request. */
  raw(req: Req): CredentialSource;
  /**
   * Method, target and request id. `path` is the request target as received, before any router
   * or `rewriteUrl` changed it: origin-form (`/v1/orders?page=2`) or absolute-form
   * (`http://api.example/v1/orders`). Core checks it and derives DPoP's URL from it; the log
   * record keeps only its path.
   */
  facts(req: Req): RequestFacts;
}

/** The framework-neutral middleware: an adapter translates its calls and results. */
export interface Gate<Req> {
  readonly verifier: Verifier;
  /**
   * Authenticates a request: the verified token, `undefined` when credentials are optional and
   * absent, or a thrown/rejected VerificationError. Synchronous on a token-cache hit, so the hot
   * path awaits nothing.
   */
  authenticate(req: Req): VerifiedToken | undefined | Promise<VerifiedToken | undefined>;
  /** Logs one record for the rejection, calls `onRejected`, and returns the response to send. */
  reject(err: VerificationError, req: Req): HttpError;
  /** The logger in use (adapters with a request-scoped logger may pass another to `reject`). */
  readonly logger: Logger | undefined;
  /** The claims scope guards read behind this gate (`scopeClaims` setting). */
  readonly scopeClaims: readonly string[] | undefined;
  /** Rejections go to the framework's error handling (`passErrors` setting). */
  readonly passErrors: boolean;
}

const DPOP_SCHEME = /^dpop(?: |$)/i;

// The gate checks every `cnf` binding against the request (binding/sender-constraint.ts).
const BINDING_CHECKED = { bindingChecked: true } as const;

function isVerifier(value: unknown): value is Verifier {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Verifier).verify === 'function' &&
    typeof (value as Verifier).cached === 'function'
  );
}

interface ResolvedGateOptions<Req> {
  verifier: Verifier;
  settings: GateSettings<Req>;
  /** The clock of the verifier options, when the gate built the verifier. */
  now: Clock;
}

/** Reads the three forms of `GateOptions` once: a verifier, `{ verifier, ... }`, or options. */
function resolveGateOptions<Req>(options: GateOptions<Req>): ResolvedGateOptions<Req> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('tokengate needs verifier options or a verifier');
  }
  if (isVerifier(options)) return { verifier: options, settings: {}, now: systemClock };
  if ('verifier' in options) {
    assertKnownOptions(options, ['adapter']);
    if (!isVerifier(options.verifier)) throw new TypeError('"verifier" must be a Verifier');
    return { verifier: options.verifier, settings: options, now: systemClock };
  }
  assertKnownOptions(options, ['top', 'adapter']);
  const verifier = createVerifier(verifierOptionsOf(options));
  return { verifier, settings: options, now: options.now || systemClock };
}

/** Checks the gate settings that are not the binding's; throws TypeError on a mistake. */
function assertGateSettings<Req>(settings: GateSettings<Req>): void {
  if (settings.getToken !== undefined && typeof settings.getToken !== 'function') {
    throw new TypeError('"getToken" must be a function');
  }
  if (
    settings.scopeClaims !== undefined &&
    (!Array.isArray(settings.scopeClaims) ||
      !settings.scopeClaims.every((c) => typeof c === 'string'))
  ) {
    throw new TypeError('"scopeClaims" must be an array of claim names');
  }
  // `realm` is quoted into WWW-Authenticate and `onRejected` called on every rejection: a wrong
  // type would turn each rejection into a 500 (or an unhandled rejection) instead of a 401.
  if (settings.realm !== undefined && typeof settings.realm !== 'string') {
    throw new TypeError('"realm" must be a string');
  }
  if (settings.onRejected !== undefined && typeof settings.onRejected !== 'function') {
    throw new TypeError('"onRejected" must be a function');
  }
}

/** An `Authorization` header naming the DPoP scheme, even one too malformed to parse. */
function meantAsDpop(raw: CredentialSource): boolean {
  const value = raw.headers.authorization;
  return typeof value === 'string' && DPOP_SCHEME.test(value);
}

/** The request's credentials: from the `Authorization` header, or from `getToken`, never both. */
function credentialsOf<Req>(
  req: Req,
  io: RequestIo<Req>,
  dpop: boolean,
  getToken: GateSettings<Req>['getToken'],
): Credentials | undefined {
  const fromHeader = extractCredentials(io.raw(req), dpop);
  const elsewhere = getToken?.(req);
  if (elsewhere !== undefined && elsewhere !== null && elsewhere !== '') {
    if (fromHeader !== undefined) {
      // RFC 6750 §3.1: more than one method of sending the token is invalid_request.
      throw new VerificationError('request_invalid', {
        reason: 'token was sent twice (header and getToken)',
      });
    }
    if (typeof elsewhere !== 'string') {
      throw new VerificationError('request_invalid', {
        reason: 'getToken returned a non-string',
      });
    }
    return { scheme: 'bearer', token: elsewhere };
  }
  return fromHeader;
}

/** What the full read of a request's credentials needs from its gate. */
interface ParseContext<Req> {
  io: RequestIo<Req>;
  binding: SenderConstraint<Req>;
  getToken: GateSettings<Req>['getToken'];
  /** Requests whose rejection goes on the DPoP challenge. */
  dpopRequests: WeakSet<object>;
}

/**
 * The full read of a request's credentials: the header parsed, `getToken` consulted, the scheme
 * checked, and for DPoP the URL the proof must name. Malformed requests throw here (400).
 */
function parseCredentials<Req>(
  req: Req,
  { io, binding, getToken, dpopRequests }: ParseContext<Req>,
): { credentials: Credentials; url: string | undefined } | undefined {
  let credentials: Credentials | undefined;
  try {
    credentials = credentialsOf(req, io, binding.dpop, getToken);
  } catch (err) {
    // After a malformed request: was it meant as DPoP? Then the error goes on that challenge.
    const raw = io.raw(req);
    if (binding.dpop && meantAsDpop(raw)) dpopRequests.add(raw);
    throw err;
  }
  if (credentials === undefined) return undefined;
  let url: string | undefined;
  if (credentials.scheme === 'dpop') {
    const raw = io.raw(req);
    dpopRequests.add(raw);
    // Computed once, from a checked Host and target, before any token or proof work: a
    // forged Host must not move the URL the proof is compared with (RFC 9449 §4.3 step 9).
    url = requestUrl(req, raw, io.facts(req).path, binding.urlSettings);
  }
  binding.assertScheme(credentials.scheme, io.raw(req));
  return { credentials, url };
}

/**
 * Builds the gate an adapter wraps. Configuration mistakes throw here, at start-up.
 * `defaultLogger` lets an adapter (Fastify) log through a request-scoped logger by default.
 */
export function createGate<Req>(
  options: GateOptions<Req>,
  io: RequestIo<Req>,
  defaultLogger: ((req: Req) => Logger) | undefined = undefined,
): Gate<Req> {
  const { verifier, settings, now } = resolveGateOptions(options);
  const credentialsRequired = booleanOption(
    settings.credentialsRequired,
    true,
    'credentialsRequired',
  );
  const { getToken, onRejected, realm } = settings;
  assertGateSettings(settings);
  const logger = toLogger(settings.logger);
  const logLevels = toLogLevels(settings.logLevels);
  if (settings.passErrors !== undefined && typeof settings.passErrors !== 'boolean') {
    throw new TypeError('"passErrors" must be a boolean');
  }
  const loggerFor = (req: Req): Logger => logger ?? defaultLogger?.(req) ?? stderrLogger;

  // Sender-constrained tokens (binding/sender-constraint.ts): DPoP proofs, certificate-bound tokens.
  const binding = createSenderConstraint<Req>(
    { dpop: settings.dpop, mtls: settings.mtls, logger },
    { ...io, peerCertificate: (req) => peerCertificate(io.raw(req).socket) },
    now,
  );
  // The cache-first path (see authenticate) reads Bearer only: no DPoP, no other token source.
  const quickBearer = !binding.dpop && getToken === undefined;
  // Only DPoP requests are recorded: their challenge carries the error on the DPoP scheme.
  const dpopRequests = new WeakSet<object>();
  const parsing: ParseContext<Req> = { io, binding, getToken, dpopRequests };

  return {
    verifier,
    logger,
    scopeClaims: settings.scopeClaims,
    passErrors: settings.passErrors ?? false,
    authenticate(req) {
      // A reused token first: it passed every syntax check when it was verified, so
      // `Bearer <cached token>` needs no regex; only a miss parses the header in full (the
      // 400s for malformed headers come from there). Without DPoP and `getToken` the full
      // path would read exactly this token and check nothing more before the cache.
      const candidate = quickBearer ? bearerCandidate(io.raw(req)) : undefined;
      let hit = candidate === undefined ? undefined : verifier.cached(candidate, BINDING_CHECKED);
      let credentials: Credentials;
      let url: string | undefined;
      if (hit) {
        credentials = { scheme: 'bearer', token: candidate! };
      } else {
        const parsed = parseCredentials(req, parsing);
        if (parsed === undefined) {
          if (credentialsRequired) throw new VerificationError('token_missing');
          return undefined;
        }
        ({ credentials, url } = parsed);
        // The same token as the candidate already missed: one lookup per request.
        if (credentials.token !== candidate)
          hit = verifier.cached(credentials.token, BINDING_CHECKED);
      }
      if (hit && !isPromiseLike(hit)) return binding.check(hit, credentials, req, url);
      const { token } = credentials;
      // A hit is a promise only when an async `revoked` hook answers it (token/revocation.ts).
      return Promise.resolve(hit ?? verifier.verify(token, req, BINDING_CHECKED)).then((auth) =>
        binding.check(auth, credentials, req, url),
      );
    },
    reject(err, req) {
      const raw = io.raw(req);
      const http = toHttpError(err, {
        realm,
        ...binding.challenge,
        scheme: dpopRequests.has(raw) ? 'dpop' : undefined,
      });
      // err.headers is what a framework's own error handler sends (Express `passErrors`).
      Object.assign(err.headers, http.headers);
      const record = toRejectionRecord(err, io.facts(req));
      try {
        logAt(loggerFor(req), logLevels[err.code], record, 'token rejected');
      } catch {
        // A failing log transport must not turn a 401 into a 500 or a request never answered.
      }
      if (onRejected) {
        try {
          onRejected(err, req);
        } catch {
          // A faulty hook must not turn a 401 into a 500.
        }
      }
      return http;
    },
  };
}

/**
 * The verified token of a request that passed the gate, for strict TypeScript: adapters wrap it
 * as `getAuth(req)`. Throws `token_missing` (401) when there is none: the gate did not run on this
 * route, or `credentialsRequired: false` let a request without a token through.
 */
export function requireAuth(auth: VerifiedToken | null | undefined): VerifiedToken {
  if (auth) return auth;
  throw new VerificationError('token_missing', {
    reason: 'getAuth() found no verified token: tokengate() did not run or let the request through',
  });
}

/**
 * The refusal of a guard for this token: the VerificationError the guard raised, or `undefined`
 * when it passes. Rethrows anything else (a bug).
 * Synchronous for a synchronous guard (scopes, sync claims predicates): a promise only when the
 * guard is async, then resolving to the error (or rejecting with a bug).
 */
export function guardRefusal(
  guard: Guard,
  auth: VerifiedToken | null | undefined,
  gate?: Pick<Gate<unknown>, 'scopeClaims'>,
): VerificationError | undefined | Promise<VerificationError | undefined> {
  const refusal = (err: unknown): VerificationError => {
    if (!isVerificationError(err)) throw err;
    // A 403's record names the verified token's key and issuer, as a 401's does.
    if (auth) err.details ??= { kid: auth.header.kid, alg: auth.header.alg, iss: auth.payload.iss };
    return err;
  };
  let outcome: void | Promise<void>;
  try {
    outcome = guard(auth, gate?.scopeClaims);
  } catch (err) {
    return refusal(err);
  }
  return outcome === undefined ? undefined : outcome.then(() => undefined, refusal);
}

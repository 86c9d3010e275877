import { createHash } from 'node:crypto';
import { createCheckedClock } from '../config/clock.js';
import type { Clock } from '../config/clock.js';
import { createNonceSource } from './dpop-nonce.js';
import type { DpopNonceOptions, DpopNonceSource } from './dpop-nonce.js';
import { toSeconds } from '../config/duration.js';
import type { Duration } from '../config/duration.js';
import { VerificationError, isVerificationError } from '../errors.js';
import {
  SIGNATURE_ALGORITHMS,
  importVerificationKey,
  isSymmetricAlg,
  keyFitsAlg,
  privateMaterialOf,
} from '../keys/jwk.js';
import { orDefault } from '../config/option-default.js';
import { normalizeTyp } from '../token/claims.js';
import { createMemoryReplayStore } from './replay-store.js';
import type { ReplayStore } from './replay-store.js';
import { verifyJwsSignature } from '../token/signature.js';
import { parsePayload, parseToken } from '../token/compact.js';
import type { ParsedJws } from '../token/compact.js';
import type { Logger } from '../telemetry/log.js';
import type { TokenHeader, TokenPayload } from '../token/types.js';
import type { VerificationKey } from '../keys/types.js';
import { stderrLogger } from '../telemetry/log.js';

/** DPoP (RFC 9449): tokens bound to a key the client proves it holds on every request. */
export interface DpopOptions<Req = unknown> {
  /**
   * `'allowed'` (the default once `dpop` is set): `Authorization: Bearer` and `DPoP` both work.
   * `'required'`: only DPoP. `'disabled'`: `Authorization: DPoP` is not read. In every mode a
   * DPoP-bound token (`cnf.jkt`) sent as `Bearer` is refused.
   */
  mode?: 'allowed' | 'required' | 'disabled';
  /** Proof `alg` allow-list (asymmetric only). Default ES256, ES384, PS256, RS256, EdDSA, Ed25519. */
  algorithms?: readonly string[];
  /** How far a proof's `iat` may be from now, either way. Default 60 s. */
  iatWindow?: Duration;
  /**
   * Server nonces (RFC 9449 §9): `{ secret }` for stateless nonces from a shared secret, or your
   * own `{ current, isValid }`. A proof without a valid nonce gets 401 `use_dpop_nonce` and a
   * fresh nonce in `DPoP-Nonce`. Off by default.
   */
  nonce?: DpopNonceOptions | DpopNonceSource;
  /**
   * Where proof `jti`s are remembered for the `iat` window. Default: this process's memory
   * (bounded). With several receivers behind one URL, share a store (`@tokengate/redis`).
   */
  replayStore?: ReplayStore;
  /**
   * The origin clients call (`'https://api.example.com'`) when the server sits behind a proxy or
   * load balancer; the path and query still come from the request. Default: `http`/`https` from
   * the socket and the `Host` header, which must be one `host[:port]` (else 400
   * `request_invalid`); an absolute-form request target is its own URL.
   */
  origin?: string;
  /**
   * The full URL the client called, for set-ups `origin` cannot describe. Query is ignored.
   * Called once the request's `Host` and target passed the checks above.
   */
  url?: (req: Req) => string;
  /** Clock in epoch seconds. Default: the verifier's `now` (or the system clock). */
  now?: Clock;
}

export const DEFAULT_DPOP_ALGORITHMS = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519'];
/** Longest proof read, in characters: an RSA-4096 `jwk` fits several times over. */
export const MAX_PROOF_LENGTH = 8192;

/** DPoP options after validation. */
export interface NormalizedDpop<Req> {
  mode: 'allowed' | 'required' | 'disabled';
  algorithms: readonly string[];
  iatWindow: number;
  nonce: DpopNonceSource | undefined;
  replayStore: ReplayStore;
  origin: string | undefined;
  url: ((req: Req) => string) | undefined;
  now: Clock;
}

/** Validates the `dpop` option; every mistake is a TypeError at start-up. */
export function normalizeDpop<Req>(
  options: DpopOptions<Req> | undefined,
  defaultNow: Clock,
  logger: Logger = stderrLogger,
): NormalizedDpop<Req> {
  const given = options ?? { mode: 'disabled' };
  if (typeof given !== 'object' || given === null) throw new TypeError('"dpop" must be an object');
  const mode = given.mode ?? 'allowed';
  if (!['allowed', 'required', 'disabled'].includes(mode)) {
    throw new TypeError("\"dpop.mode\" must be 'allowed', 'required' or 'disabled'");
  }
  const algorithms: unknown = given.algorithms ?? DEFAULT_DPOP_ALGORITHMS;
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw new TypeError('"dpop.algorithms" must be a non-empty array');
  }
  for (const alg of algorithms as unknown[]) {
    const known = (SIGNATURE_ALGORITHMS as readonly unknown[]).includes(alg);
    if (!known || isSymmetricAlg(alg as string)) {
      throw new TypeError(
        `"dpop.algorithms" contains "${String(alg)}": asymmetric JWS algorithms only`,
      );
    }
  }
  const now = orDefault(given.now, defaultNow, 'dpop.now');
  if (typeof now !== 'function') throw new TypeError('"dpop.now" must be a function');
  if (given.url !== undefined && typeof given.url !== 'function') {
    throw new TypeError('"dpop.url" must be a function');
  }
  if (given.origin !== undefined && given.url !== undefined) {
    throw new TypeError('give only one of "dpop.origin" and "dpop.url"');
  }
  let origin: string | undefined;
  if (given.origin !== undefined) {
    const parsed = typeof given.origin === 'string' ? normalizeHtu(given.origin) : undefined;
    if (parsed === undefined || !/^https?:\/\/[^/]+\/$/.test(parsed)) {
      throw new TypeError(
        '"dpop.origin" must be an http(s) origin such as "https://api.example.com"',
      );
    }
    origin = parsed.slice(0, -1);
  }
  const store = given.replayStore ?? createMemoryReplayStore({ now });
  if (typeof store !== 'object' || store === null || typeof store.add !== 'function') {
    throw new TypeError('"dpop.replayStore" must have an add(key, ttlSeconds) method');
  }
  return {
    mode,
    algorithms: [...(algorithms as string[])],
    iatWindow: toSeconds(orDefault(given.iatWindow, 60, 'dpop.iatWindow'), 'dpop.iatWindow'),
    nonce: given.nonce === undefined ? undefined : createNonceSource(given.nonce, now),
    replayStore: store,
    origin,
    url: given.url,
    // The proof's `iat` check fails closed on a broken clock (clock.ts).
    now: createCheckedClock(now, logger),
  };
}

/**
 * Normalises an HTTP URI for the `htu` comparison (RFC 9449 §4.3, RFC 3986 §6.2.2–6.2.3): scheme
 * and host in lower case, no default port, dot segments resolved, percent-encoding in upper case
 * with unreserved characters decoded, and no userinfo, query or fragment. Undefined when it is
 * not an absolute http(s) URI.
 */
export function normalizeHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const path = url.pathname.replace(/%[0-9A-Fa-f]{2}/g, (escape) => {
    const char = String.fromCharCode(parseInt(escape.slice(1), 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : escape.toUpperCase();
  });
  return `${url.protocol}//${url.host}${path}`;
}

// RFC 7638 §3.2: the required members of each key type, in lexicographic order.
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

/** The RFC 7638 SHA-256 thumbprint of a public JWK (EC, OKP, RSA), base64url: what `cnf.jkt` names. */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty as string];
  if (!members) throw new TypeError('"kty" must be EC, OKP or RSA');
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** `ath` (RFC 9449 §4.2): base64url of the SHA-256 of the access token's ASCII bytes. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

/** What the request says the proof must match. */
export interface ProofRequest {
  /** The `DPoP` header value (exactly one header). */
  proof: string;
  method: string;
  /** The URL the client called (normalised here). */
  url: string;
  /** The access token from `Authorization: DPoP`. */
  accessToken: string;
}

/** A proof that passed every check of RFC 9449 §4.3 except the nonce, `jti` replay and `jkt`. */
export interface VerifiedProof {
  header: TokenHeader;
  payload: TokenPayload & { jti: string; htm: string; htu: string; iat: number };
  /** RFC 7638 thumbprint of the proof key: compared with the token's `cnf.jkt`. */
  jkt: string;
}

function invalid(reason: string): VerificationError {
  return new VerificationError('dpop_proof_invalid', { reason });
}

/**
 * Checks a DPoP proof (RFC 9449 §4.3, steps 2–9 and 11–12): one well-formed JWS, `typ`
 * `dpop+jwt`, an allowed asymmetric `alg`, a public `jwk` that verifies the signature, `htm`,
 * `htu`, `iat` within the window and `ath`. Synchronous; throws `dpop_proof_invalid`.
 */
export function verifyProof(input: ProofRequest, settings: NormalizedDpop<unknown>): VerifiedProof {
  if (input.proof.length > MAX_PROOF_LENGTH) throw invalid('proof is too large');
  let jws: ParsedJws;
  try {
    const parsed = parseToken(input.proof, MAX_PROOF_LENGTH, {});
    if (parsed.kind !== 'jws') throw invalid('proof is not a JWS');
    jws = parsed;
  } catch (err) {
    if (isVerificationError(err) && err.code === 'dpop_proof_invalid') throw err;
    throw invalid(`proof is malformed: ${isVerificationError(err) ? err.reason : 'unreadable'}`);
  }
  const { header } = jws;
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== 'application/dpop+jwt') {
    throw invalid('"typ" is not dpop+jwt');
  }
  if (!settings.algorithms.includes(header.alg)) throw invalid('proof "alg" is not allowed');
  const jwk: unknown = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw invalid('proof has no "jwk"');
  }
  // A proof carries the public key only (RFC 9449 §4.2).
  if (privateMaterialOf(jwk) !== undefined) throw invalid('"jwk" holds a private key');
  let key: VerificationKey;
  try {
    key = importVerificationKey(jwk);
  } catch {
    throw invalid('proof "jwk" is unusable');
  }
  if (!keyFitsAlg(key, header.alg)) throw invalid('"jwk" does not fit "alg"');
  if (!verifyJwsSignature(header.alg, key, jws)) {
    throw invalid('proof signature is invalid');
  }
  let payload: TokenPayload;
  try {
    payload = parsePayload(jws);
  } catch {
    throw invalid('proof payload is malformed');
  }
  const { jti, htm, htu, iat, ath } = payload;
  if (typeof jti !== 'string' || jti === '') throw invalid('proof has no "jti"');
  if (typeof htm !== 'string') throw invalid('proof has no "htm"');
  if (typeof htu !== 'string') throw invalid('proof has no "htu"');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('proof has no "iat"');
  if (htm !== input.method) throw invalid('"htm" does not match the request method');
  const expected = normalizeHtu(input.url);
  if (expected === undefined || normalizeHtu(htu) !== expected) {
    throw invalid('"htu" does not match the request URL');
  }
  if (Math.abs(settings.now() - iat) > settings.iatWindow)
    throw invalid('proof "iat" is outside the window');
  if (typeof ath !== 'string') throw invalid('proof has no "ath"');
  if (ath !== accessTokenHash(input.accessToken))
    throw invalid('"ath" does not match the access token');
  return {
    header,
    payload: payload as VerifiedProof['payload'],
    jkt: jwkThumbprint(key.jwk),
  };
}

/** The replay-store key of a proof: bounded in size, scoped to the client's key. */
export function replayKey(proof: VerifiedProof): string {
  return createHash('sha256').update(`${proof.jkt}.${proof.payload.jti}`).digest('base64url');
}

/** How long a proof's `jti` must be remembered: until its `iat` leaves the window. */
export function replayTtl(proof: VerifiedProof, settings: NormalizedDpop<unknown>): number {
  return Math.max(1, Math.ceil(proof.payload.iat + settings.iatWindow - settings.now()) + 1);
}

// `tokengate verify`: runs core's `createVerifier`, the one every adapter runs, and records what
// it did through what core exposes to any caller: the key source it asks (the `kid` and `alg`
// it looked up, the keys it got), the JWKS cache's `onFetch` / `onError` / `status()`, the
// `onEvent` telemetry, and the verified result or the VerificationError (code and reason).
import {
  createDiscoveredJwks,
  createRemoteJwks,
  createVerifier,
  isPromiseLike,
  isVerificationError,
  systemClock,
  toHttpError,
} from '@tokengate/core';
import type {
  DiscoveredJwks,
  JwksFetchInfo,
  KeySelector,
  KeySource,
  RemoteJwks,
  RemoteJwksStatus,
  TokengateEvent,
  VerificationError,
  VerificationKey,
  VerifiedToken,
} from '@tokengate/core';
import type { JWK } from 'jose';
import { decodeToken } from './decode.js';
import type { Decoded } from './decode.js';
import { CliError } from './input.js';

/** What `verify` was asked to check. */
export interface VerifyArgs {
  issuer: string;
  audience: string[];
  jwksUri: string | undefined;
  discovery: boolean;
  algorithms: string[] | undefined;
  decryptKeys: JWK[];
  /** `--at`, epoch seconds; undefined runs on the system clock. */
  at: number | undefined;
}

/** The key lookup the verifier made, as the key source saw it. */
export interface Lookup {
  kid: string | undefined;
  alg: string;
  keys?: readonly VerificationKey[];
}

/** Everything one run recorded: the raw material of the report. */
export interface Run {
  args: VerifyArgs;
  token: string;
  now: number;
  result?: VerifiedToken;
  failure?: VerificationError;
  lookup?: Lookup;
  fetches: JwksFetchInfo[];
  fetchErrors: string[];
  events: TokengateEvent[];
  jwks: RemoteJwksStatus | undefined;
  /** The token decoded without verification, to describe what the verifier refused. */
  decoded: Decoded | undefined;
  /** Milliseconds the verification took. */
  durationMs: number;
}

/** The verifier's key source, watched: it records the lookup and the keys it handed out. */
function watched(source: KeySource, record: (lookup: Lookup) => void): KeySource {
  return {
    getKeys(selector: KeySelector) {
      const lookup: Lookup = { kid: selector.kid, alg: selector.alg };
      record(lookup);
      const keys = source.getKeys(selector);
      const keep = (found: readonly VerificationKey[]) => ((lookup.keys = found), found);
      return isPromiseLike(keys) ? Promise.resolve(keys).then(keep) : keep(keys);
    },
    isPublished: (key) => source.isPublished(key),
    refresh: () => source.refresh(),
  };
}

/** Runs the verifier once; a configuration mistake becomes a CliError (exit status 2). */
export async function runVerify(token: string, args: VerifyArgs): Promise<Run> {
  const run: Run = {
    args,
    token,
    now: args.at ?? systemClock(),
    fetches: [],
    fetchErrors: [],
    events: [],
    jwks: undefined,
    decoded: undefined,
    durationMs: 0,
  };
  const onEvent = (event: TokengateEvent) => run.events.push(event);
  // The key server is asked now, whatever --at says: its cache runs on the system clock.
  // A one-shot run waits for the whole fetch: a slow key server is reported as what it is, not
  // cut short by the middleware's bounded wait (jwks.maxWait, meant for requests in flight).
  const remote = {
    timeout: 10,
    maxWait: 10,
    logger: false as const,
    onFetch: (info: JwksFetchInfo) => run.fetches.push(info),
    onError: (err: Error) => run.fetchErrors.push(err.message),
    onEvent,
  };
  let source: RemoteJwks | DiscoveredJwks;
  let verify: (token: string) => Promise<VerifiedToken>;
  try {
    source = args.discovery
      ? createDiscoveredJwks(args.issuer, remote)
      : createRemoteJwks(args.jwksUri ?? '', remote);
    const verifier = createVerifier({
      issuer: args.issuer,
      audience: args.audience,
      keySource: watched(source, (lookup) => (run.lookup = lookup)),
      ...(args.algorithms && { algorithms: args.algorithms }),
      ...(args.decryptKeys.length > 0 && { decryption: { keys: args.decryptKeys } }),
      ...(args.at !== undefined && { now: () => args.at! }),
      tokenCache: false,
      logger: false,
      onEvent,
    });
    // The CLI sees no request, so a DPoP or mTLS binding cannot be checked here; the report
    // says so rather than refusing a token the receiver may well accept.
    verify = (t) => verifier.verify(t, undefined, { bindingChecked: true });
  } catch (err) {
    if (err instanceof TypeError) throw new CliError(`invalid options: ${err.message}`);
    throw err;
  }
  const started = performance.now();
  try {
    run.result = await verify(token);
  } catch (err) {
    if (!isVerificationError(err)) throw err;
    run.failure = err;
  }
  run.durationMs = performance.now() - started;
  const status = source.status();
  run.jwks = 'jwks' in status ? status.jwks : status;
  run.decoded = await decodeToken(token, args.decryptKeys).catch(() => undefined);
  return run;
}

/** The HTTP answer a receiver gives for a failure: status and RFC 6750 error code. */
export function httpAnswer(err: VerificationError): { status: number; error: string } {
  const { status, body } = toHttpError(err);
  return { status, error: body.error };
}

// The report of one `verify` run: one object, printed as is by `--json` (transcript.ts prints
// its text form). The verifier stops at the first failure, so the steps after the one that
// failed are "not reached", never guessed (stages.ts).
import type { VerificationKey } from '@tokengate/core';
import { decryptionKeyFor, describeKey } from './decode.js';
import { isoDate, printable, showDate, showValue } from './format.js';
import { CLAIM_CHECKS, failedClaim, failedStage, verdictOf } from './stages.js';
import type { ClaimCheck, Stage, Verdict } from './stages.js';
import { httpAnswer } from './verify.js';
import type { Run } from './verify.js';

export type { Verdict } from './stages.js';

/** One line of the transcript. `detail` is printable text (token data escaped). */
export interface Check {
  check: string;
  verdict: Verdict;
  detail: string;
}

/** One request to the key server, as the JWKS cache reported it. */
export interface FetchReport {
  uri: string;
  status: number | 'error';
  etag?: string;
  /** Seconds the cache keeps the answer. */
  lifetime?: number;
  /** Where the lifetime came from (`max-age`, `expires`, `default`, …). */
  freshness?: string;
  error?: string;
}

/** What `tokengate verify --json` prints. */
export interface Report {
  valid: boolean;
  /** The VerificationError code, its HTTP answer, description and logged reason. */
  code?: string;
  status?: number;
  error?: string;
  description?: string;
  reason?: string;
  /** The time the token was checked at, and whether `--at` fixed it. */
  at: string;
  clock: 'at' | 'system';
  steps: Check[];
  fetches: FetchReport[];
  /** The verified claims (only when valid). */
  claims?: Record<string, unknown>;
  durationMs: number;
}

function describeVerificationKey(key: VerificationKey): string {
  const size = key.kty === 'RSA' ? ` ${key.modulusLength}` : key.crv ? ` ${key.crv}` : '';
  return `${printable(key.kid ?? 'a key without kid')} (${key.kty}${size})`;
}

function reasonOr(run: Run, fallback: string): string {
  return printable(run.failure?.reason ?? run.failure?.message ?? fallback);
}

/** What every step of the report reads, and where it adds its line. */
interface StepContext {
  run: Run;
  failed: Stage | undefined;
  claims: Record<string, unknown>;
  layers: NonNullable<Run['decoded']>['layers'];
  jwe: NonNullable<Run['decoded']>['layers'][number] | undefined;
  innerHeader: Record<string, unknown> | undefined;
  add: (check: string, verdict: Verdict, detail: string) => void;
}

/** The token line: its kind and size, or why it is malformed. */
function tokenStep({ run, failed, layers, jwe, add }: StepContext): void {
  // token
  const kind = jwe ? 'JWE' : layers.length ? 'JWS' : 'not a JWS or JWE';
  add(
    'token',
    verdictOf('token', failed),
    failed === 'token'
      ? `${kind}: ${reasonOr(run, 'malformed')}`
      : `${kind}, ${run.token.length} characters`,
  );
}

/** The decrypt line: which key and algorithms opened the JWE, or why not. */
function decryptStep({ run, failed, layers, jwe, add }: StepContext): void {
  // decrypt
  if (!jwe) {
    add(
      'decrypt',
      layers.length ? 'none' : 'not_reached',
      layers.length ? 'not encrypted (a JWS)' : 'not reached',
    );
  } else {
    const header = run.result?.encryption ?? jwe.header;
    const key = decryptionKeyFor(header, run.args.decryptKeys);
    const algs = `${showValue(header.alg)} + ${showValue(header.enc)}`;
    const verdict = verdictOf('decrypt', failed);
    const inner = layers.length > 1 || run.result?.encryption ? 'inner JWS' : 'claims';
    add(
      'decrypt',
      verdict,
      verdict === 'fail'
        ? `${algs}${key ? ` with ${printable(describeKey(key))}` : ''}: ${reasonOr(run, 'refused')}` +
            (run.args.decryptKeys.length === 0 ? ' (give the key with --decrypt-key FILE)' : '')
        : `${algs} with ${key ? printable(describeKey(key)) : 'a --decrypt-key key'}` +
            `${header.cty === undefined ? '' : `, cty ${showValue(header.cty)}`} → ${inner}`,
    );
  }
}

/** The kid line: what the verifier looked up (or, before that step, what the token names). */
function kidStep({ run, failed, jwe, innerHeader, add }: StepContext): void {
  // kid: what the verifier looked up (or, before that step, what the token names)
  const kidHeader = run.lookup ?? (innerHeader as { kid?: unknown; alg?: unknown } | undefined);
  const typ = innerHeader?.typ === undefined ? '' : `, typ ${showValue(innerHeader.typ)}`;
  const noKeys = run.failure?.code === 'jwks_unavailable';
  const kidVerdict = noKeys ? 'none' : verdictOf('key', failed);
  const kidText = kidHeader
    ? `${kidHeader.kid === undefined ? 'no kid' : showValue(kidHeader.kid)} (${showValue(kidHeader.alg)}${typ})`
    : jwe
      ? 'not visible (encrypted)'
      : 'not reached';
  add(
    'kid',
    kidVerdict,
    kidVerdict === 'fail'
      ? `${kidText}: ${reasonOr(run, 'unknown')}`
      : noKeys
        ? `${kidText}: no key set to look it up in`
        : kidText,
  );
}

/** The JWKS line: each fetch with its status, ETag and lifetime, and the keys held. */
function jwksStep({ run, add }: StepContext): void {
  // JWKS
  const fetches = fetchReports(run);
  const jwksLines = fetches.map((f) =>
    f.status === 'error'
      ? `GET ${printable(f.uri)} → failed: ${printable(f.error ?? 'error')}`
      : `GET ${printable(f.uri)} → ${f.status}${f.etag ? ` ETag ${printable(f.etag)}` : ''}; ` +
        `kept ${f.lifetime} s (${f.freshness})`,
  );
  if (run.jwks && run.jwks.keyCount > 0) {
    jwksLines.push(`${run.jwks.keyCount} key(s): ${run.jwks.keys.map(printable).join(', ')}`);
  }
  for (const event of run.events) {
    if (event.type === 'kid.miss') jwksLines.push('unknown kid: the set was fetched again');
    if (event.type === 'cooldown.hit') jwksLines.push('unknown kid: refresh cooling down');
  }
  const fetchFailed = fetches.some((f) => f.status === 'error');
  add(
    'JWKS',
    fetches.length === 0
      ? 'not_reached'
      : fetchFailed && run.failure?.code === 'jwks_unavailable'
        ? 'fail'
        : 'pass',
    jwksLines.length ? jwksLines.join('\n') : 'not fetched',
  );
}

/** The verify line: the signature and the key that checked it. */
function signatureStep({ run, failed, innerHeader, add }: StepContext): void {
  // signature
  const sigVerdict = verdictOf('signature', failed);
  const alg = showValue(innerHeader?.alg ?? run.lookup?.alg);
  const keys = run.lookup?.keys ?? [];
  const withKey =
    keys.length === 1
      ? describeVerificationKey(keys[0]!)
      : `one of ${keys.length} keys that fit ${alg}`;
  add(
    'verify',
    sigVerdict,
    sigVerdict === 'pass'
      ? `${alg} signature valid with ${withKey}`
      : sigVerdict === 'fail'
        ? run.failure?.code === 'alg_not_allowed'
          ? `${alg} is not an allowed algorithm (${run.args.algorithms?.join(', ') ?? 'the default list'})`
          : run.failure?.code === 'signature_invalid'
            ? `${alg} signature does not verify with ${withKey}`
            : `${alg}: ${reasonOr(run, 'refused')} (${withKey})`
        : 'not checked',
  );
}

/** The binding line: the request's DPoP proof or client certificate is not here to check. */
function bindingStep({ claims, add }: StepContext): void {
  // binding: the request's DPoP proof or client certificate is not here to check
  const cnf = claims.cnf as Record<string, unknown> | undefined;
  if (typeof cnf === 'object' && cnf !== null) {
    const bound = Object.hasOwn(cnf, 'jkt')
      ? 'DPoP key (cnf.jkt)'
      : Object.hasOwn(cnf, 'x5t#S256')
        ? 'client certificate (cnf.x5t#S256)'
        : undefined;
    if (bound) {
      add('binding', 'none', `bound to a ${bound}: checked by the receiver per request, not here`);
    }
  }
}

/** Builds the report of a run. */
export function toReport(run: Run): Report {
  const failed = failedStage(run);
  const claims = run.result?.payload ?? run.decoded?.claims ?? {};
  const layers = run.decoded?.layers ?? [];
  const jwe = layers[0]?.kind === 'JWE' ? layers[0] : undefined;
  const innerHeader = run.result?.header ?? layers.find((l) => l.kind === 'JWS')?.header;
  const steps: Check[] = [];
  const add = (check: string, verdict: Verdict, detail: string) =>
    steps.push({ check, verdict, detail });

  const context: StepContext = { run, failed, claims, layers, jwe, innerHeader, add };
  for (const step of [tokenStep, decryptStep, kidStep, jwksStep, signatureStep]) step(context);
  if (!run.result && !run.decoded?.claims) {
    add('claims', 'not_reached', jwe ? 'not visible (encrypted)' : 'not reached');
  } else addClaims(run, claims, failed, jwe?.header, add);

  bindingStep(context);

  const answer = run.failure && httpAnswer(run.failure);
  return {
    valid: run.failure === undefined,
    ...(run.failure && {
      code: run.failure.code,
      status: answer!.status,
      error: answer!.error,
      description: run.failure.message,
      ...(run.failure.reason !== undefined && { reason: run.failure.reason }),
    }),
    at: isoDate(run.now),
    clock: run.args.at === undefined ? 'system' : 'at',
    steps,
    fetches: fetchReports(run),
    ...(run.result && { claims: run.result.payload }),
    durationMs: Math.round(run.durationMs * 10) / 10,
  };
}

/** The claim checks: `iss` (checked before the key lookup), then claims.ts's, in its order. */
function addClaims(
  run: Run,
  claims: Record<string, unknown>,
  failed: Stage | undefined,
  jweHeader: Record<string, unknown> | undefined,
  add: (check: string, verdict: Verdict, detail: string) => void,
): void {
  const issVerdict = verdictOf('issuer', failed);
  add(
    'claims',
    issVerdict,
    issVerdict === 'fail'
      ? `iss ${showClaim(claims.iss)} is not ${printable(run.args.issuer)}`
      : `iss ${showClaim(claims.iss)}`,
  );
  const claimsVerdict = verdictOf('claims', failed);
  const failedCheck = claimsVerdict === 'fail' ? failedClaim(run) : undefined;
  for (const check of CLAIM_CHECKS) {
    const detail = claimDetail(check, claims, run, jweHeader);
    if (detail === undefined) continue;
    const verdict =
      claimsVerdict !== 'fail'
        ? claimsVerdict
        : CLAIM_CHECKS.indexOf(check) < CLAIM_CHECKS.indexOf(failedCheck!)
          ? 'pass'
          : check === failedCheck
            ? 'fail'
            : 'not_reached';
    add('claims', verdict, verdict === 'fail' ? `${detail}: ${reasonOr(run, 'refused')}` : detail);
  }
}

function fetchReports(run: Run): FetchReport[] {
  const reports: FetchReport[] = run.fetches.map((f) => ({
    uri: f.uri,
    status: f.status,
    ...(f.uri === run.jwks?.uri && run.jwks.etag !== undefined && { etag: run.jwks.etag }),
    lifetime: Math.round(f.freshUntil - f.fetchedAt),
    freshness: f.freshness,
  }));
  const uri = run.jwks?.uri ?? run.args.jwksUri ?? run.args.issuer;
  for (const message of run.fetchErrors) reports.push({ uri, status: 'error', error: message });
  return reports;
}

/** The text of one claim check, or undefined when the check does not apply to this token. */
function claimDetail(
  check: ClaimCheck,
  claims: Record<string, unknown>,
  run: Run,
  jweHeader: Record<string, unknown> | undefined,
): string | undefined {
  const time = (name: 'exp' | 'nbf' | 'iat') =>
    claims[name] === undefined ? `${name} absent` : `${name} ${showDate(claims[name], run.now)}`;
  switch (check) {
    case 'header': {
      const replicated = ['iss', 'sub', 'aud'].filter(
        (n) => jweHeader && Object.hasOwn(jweHeader, n),
      );
      return replicated.length
        ? `${replicated.join(', ')} in the JWE header equal the claims`
        : undefined;
    }
    case 'exp':
    case 'nbf':
    case 'iat':
      return time(check);
    case 'required':
      return 'required claims present';
    case 'aud':
      return `aud ${showClaim(claims.aud)} (expected ${run.args.audience.map(printable).join(' or ')})`;
    case 'types': {
      const present = ['sub', 'jti', 'client_id'].filter((n) => claims[n] !== undefined);
      return present.length ? `${present.join(', ')}: strings` : undefined;
    }
  }
}

function showClaim(value: unknown): string {
  return value === undefined ? 'absent' : showValue(value);
}

// The report of one `verify` run: one object (printed as is by `--json`), and its text form in
// the demo's transcript style. Step verdicts follow the verifier's documented order
// (DESIGN.md, "One path"): classify, decrypt, issuer, key lookup, signature, claims; it stops
// at the first failure, so the steps after it are "not reached", never guessed.
import type { VerificationKey } from '@tokengate/core';
import { decryptionKeyFor, describeKey } from './decode.js';
import { isoDate, printable, relative, showDate, showValue } from './format.js';
import { httpAnswer } from './verify.js';
import type { Run } from './verify.js';

/** `pass`, `fail`, `not_reached` (an earlier step failed) or `none` (does not apply). */
export type Verdict = 'pass' | 'fail' | 'not_reached' | 'none';

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

const STAGES = ['token', 'decrypt', 'issuer', 'key', 'signature', 'claims'] as const;
type Stage = (typeof STAGES)[number];

/** Which step of the verifier's path refused the token (from its code, reason and trace). */
function failedStage(run: Run): Stage | undefined {
  const err = run.failure;
  if (!err) return undefined;
  const jwe = run.decoded?.layers[0]?.kind === 'JWE';
  switch (err.code) {
    case 'token_malformed':
      // The outer layer decoded, so what was malformed is inside the JWE.
      return jwe ? 'decrypt' : 'token';
    case 'token_too_large':
    case 'clock_unavailable':
      return 'token';
    case 'decryption_failed':
    case 'enc_not_allowed':
    case 'encryption_required':
      return 'decrypt';
    case 'alg_not_allowed':
      return err.reason?.startsWith('JWE') ? 'decrypt' : 'signature';
    case 'issuer_mismatch':
      return 'issuer';
    case 'kid_unknown':
      // Keys were found but more fit than may be tried: the signature step gave up.
      return run.lookup?.keys?.length ? 'signature' : 'key';
    case 'jwks_unavailable':
      return 'key';
    case 'signature_invalid':
      return 'signature';
    default:
      return 'claims';
  }
}

function verdictOf(stage: Stage, failed: Stage | undefined): Verdict {
  if (failed === undefined) return 'pass';
  const [i, f] = [STAGES.indexOf(stage), STAGES.indexOf(failed)];
  return i < f ? 'pass' : i === f ? 'fail' : 'not_reached';
}

const CLAIM_CHECKS = ['header', 'exp', 'nbf', 'iat', 'required', 'aud', 'types'] as const;
type ClaimCheck = (typeof CLAIM_CHECKS)[number];

/** Which claim check refused the token, in claims.ts's order. */
function failedClaim(run: Run): ClaimCheck {
  const err = run.failure!;
  const named = /"(\w+)"/.exec(err.reason ?? '')?.[1];
  switch (err.code) {
    case 'token_expired':
      return 'exp';
    case 'token_not_yet_valid':
      return named === 'iat' ? 'iat' : 'nbf';
    case 'token_too_old':
      return 'iat';
    case 'claim_missing':
      return 'required';
    case 'audience_mismatch':
      return 'aud';
    default:
      if (err.reason?.includes('JWE header')) return 'header';
      return CLAIM_CHECKS.includes(named as ClaimCheck) ? (named as ClaimCheck) : 'types';
  }
}

function describeVerificationKey(key: VerificationKey): string {
  const size = key.kty === 'RSA' ? ` ${key.modulusLength}` : key.crv ? ` ${key.crv}` : '';
  return `${printable(key.kid ?? 'a key without kid')} (${key.kty}${size})`;
}

function reasonOr(run: Run, fallback: string): string {
  return printable(run.failure?.reason ?? run.failure?.message ?? fallback);
}

/** Builds the report of a run. */
export function toReport(run: Run): Report {
  const failed = failedStage(run);
  const claims = (run.result?.payload ?? run.decoded?.claims ?? {}) as Record<string, unknown>;
  const layers = run.decoded?.layers ?? [];
  const jwe = layers[0]?.kind === 'JWE' ? layers[0] : undefined;
  const innerHeader = run.result?.header ?? layers.find((l) => l.kind === 'JWS')?.header;
  const steps: Check[] = [];
  const add = (check: string, verdict: Verdict, detail: string) =>
    steps.push({ check, verdict, detail });

  // token
  const kind = jwe ? 'JWE' : layers.length ? 'JWS' : 'not a JWS or JWE';
  add(
    'token',
    verdictOf('token', failed),
    failed === 'token'
      ? `${kind}: ${reasonOr(run, 'malformed')}`
      : `${kind}, ${run.token.length} characters`,
  );

  // decrypt
  if (!jwe) {
    add(
      'decrypt',
      layers.length ? 'none' : 'not_reached',
      layers.length ? 'not encrypted (a JWS)' : 'not reached',
    );
  } else {
    const header = (run.result?.encryption ?? jwe.header) as Record<string, unknown>;
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

  if (!run.result && !run.decoded?.claims) {
    add('claims', 'not_reached', jwe ? 'not visible (encrypted)' : 'not reached');
  } else addClaims(run, claims, failed, jwe?.header, add);

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
    fetches,
    ...(run.result && { claims: run.result.payload as Record<string, unknown> }),
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

const MARK: Record<Verdict, string> = { pass: '✓', fail: '✗', not_reached: '·', none: '–' };

/** The transcript: one line per check, the verdict last. */
export function reportText(report: Report): string {
  const clock =
    report.clock === 'at'
      ? `${report.at} (fixed by --at; ${relative(Date.parse(report.at) / 1000, Date.now() / 1000)})`
      : `${report.at} (system clock)`;
  const lines = [
    'tokengate verify: the verifier the middleware runs (createVerifier, @tokengate/core)',
    `  clock    ${clock}`,
  ];
  let previous = '';
  for (const step of report.steps) {
    const label = step.check === previous ? '' : step.check;
    previous = step.check;
    const [first, ...more] = step.detail.split('\n');
    lines.push(`  ${label.padEnd(8)} ${MARK[step.verdict]} ${first}`);
    for (const line of more) lines.push(`  ${''.padEnd(8)}   ${line}`);
  }
  if (report.steps.some((s) => s.verdict === 'not_reached')) {
    lines.push('  (· not reached: the verifier stops at the first failure)');
  }
  if (report.valid) {
    const c = report.claims ?? {};
    const who = [
      c.sub === undefined ? '' : `sub ${showValue(c.sub)}`,
      c.scope === undefined ? '' : `scope ${JSON.stringify(showValue(c.scope))}`,
    ].filter(Boolean);
    lines.push(`✓ valid${who.length ? `: ${who.join(', ')}` : ''}`);
  } else {
    lines.push(
      `✗ refused: ${report.code} (HTTP ${report.status} ${report.error}): ${report.description}` +
        (report.reason ? `; ${printable(report.reason)}` : ''),
    );
  }
  return lines.join('\n');
}

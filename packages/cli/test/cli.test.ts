// The built `tokengate` CLI, spawned as a process (as a user runs it) against a loopback key
// server this file starts and closes. Run `pnpm build` first (`pnpm test` does).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERIFICATION_ERROR_CODES } from '@tokengate/core';
import type { VerificationErrorCode } from '@tokengate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJwksServer } from '@tokengate/test-fixtures/jwks-server';
import type { JwksServer } from '@tokengate/test-fixtures/jwks-server';
import { encryption, issuerJwks, rogueKey, signing } from '@tokengate/test-fixtures/keys';
import {
  AUDIENCE,
  ISSUER,
  NOW,
  claims,
  encrypt,
  nested,
  sign,
} from '@tokengate/test-fixtures/tokens';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/bin.js');
const CLI_TIMEOUT_MS = 20_000;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (killed after CLI_TIMEOUT_MS), optionally feeding stdin. */
function cli(args: string[], stdin?: string): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: CLI_TIMEOUT_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

/** The real time in epoch seconds: tokens for system-clock runs are minted around it. */
const realNow = () => Math.floor(Date.now() / 1000);

let server: JwksServer;
let dir: string;
let keyFile: string;
let publicKeyFile: string;
let singleKeyFile: string;
let unreachable: string;

beforeAll(async () => {
  server = await startJwksServer(issuerJwks);
  dir = mkdtempSync(join(tmpdir(), 'tokengate-cli-'));
  keyFile = join(dir, 'receiver.jwks.json');
  writeFileSync(
    keyFile,
    JSON.stringify({ keys: [encryption.rsaOaep.privateJwk, encryption.ecdhEs.privateJwk] }),
  );
  singleKeyFile = join(dir, 'receiver-ecdh.jwk.json');
  writeFileSync(singleKeyFile, JSON.stringify(encryption.ecdhEs.privateJwk));
  publicKeyFile = join(dir, 'public.jwk.json');
  writeFileSync(publicKeyFile, JSON.stringify(encryption.rsaOaep.publicJwk));
  // A port that was just free: nothing listens there, so connecting is refused.
  const probe = createServer();
  await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
  const { port } = probe.address() as { port: number };
  await new Promise((ok) => probe.close(ok));
  unreachable = `http://127.0.0.1:${port}/.well-known/jwks.json`;
});

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const policy = () => ['--issuer', ISSUER, '--audience', AUDIENCE, '--jwks-uri', server.url];

/** The transcript's line for a step (`kid`, `JWKS`, …): its first line. */
function stepLine(stdout: string, step: string): string {
  return stdout.split('\n').find((line) => line.startsWith(`  ${step.padEnd(8)} `)) ?? '';
}

describe('tokengate verify', () => {
  it('accepts a good token and prints each step: kid, JWKS fetch, signature, claims', async () => {
    server.resetRequests();
    const token = await sign(claims({}, realNow()));
    const { code, stdout, stderr } = await cli(['verify', token, ...policy()]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.split('\n');
    expect(lines[0]).toContain('createVerifier');
    expect(stepLine(stdout, 'token')).toMatch(/✓ JWS, \d+ characters/);
    expect(stepLine(stdout, 'decrypt')).toContain('– not encrypted');
    expect(stepLine(stdout, 'kid')).toContain('✓ es256-2026-01-01 (ES256, typ at+jwt)');
    expect(stepLine(stdout, 'JWKS')).toBe(
      `  JWKS     ✓ GET ${server.url} → 200 ETag ${server.etag}; kept 300 s (max-age)`,
    );
    expect(stdout).toContain('3 key(s): rs256-2026-01-01, es256-2026-01-01, eddsa-2026-01-01');
    expect(stepLine(stdout, 'verify')).toContain(
      '✓ ES256 signature valid with es256-2026-01-01 (EC P-256)',
    );
    for (const check of [
      `✓ iss ${ISSUER}`,
      '✓ exp ',
      '✓ nbf absent',
      '✓ iat ',
      '✓ required claims present',
      `✓ aud ${AUDIENCE}`,
      '✓ sub: strings',
    ]) {
      expect(stdout).toContain(check);
    }
    expect(stdout).toMatch(/✓ exp \d+ = \d{4}-\d\d-\d\dT[\d:]+Z \(in [45] min/);
    expect(lines.at(-2)).toBe('✓ valid: sub user-123, scope "orders:read"');
    expect(stdout).not.toContain(token.split('.')[2]); // never the signature
    expect(server.count()).toBe(1);
  });

  it('reads the token from stdin with -', async () => {
    const token = await sign(claims({}, realNow()));
    const { code, stdout } = await cli(['verify', '-', ...policy()], `${token}\n`);
    expect(code).toBe(0);
    expect(stdout).toContain('✓ valid');
  });

  it('finds the JWKS through discovery with --discovery', async () => {
    const token = await sign(claims({ iss: server.issuer }, realNow()));
    const { code, stdout } = await cli([
      'verify',
      token,
      '--issuer',
      server.issuer,
      '--audience',
      AUDIENCE,
      '--discovery',
    ]);
    expect(code).toBe(0);
    expect(stdout).toContain(`GET ${server.origin}/.well-known/openid-configuration → 200`);
    expect(stdout).toContain(`GET ${server.url} → 200 ETag ${server.etag}`);
  });

  it('opens a nested token with --decrypt-key and names the key and algorithms', async () => {
    const token = await nested(claims({}, realNow()));
    const { code, stdout } = await cli(['verify', token, ...policy(), '--decrypt-key', keyFile]);
    expect(code).toBe(0);
    expect(stepLine(stdout, 'token')).toMatch(/✓ JWE, \d+ characters/);
    expect(stepLine(stdout, 'decrypt')).toBe(
      '  decrypt  ✓ RSA-OAEP-256 + A256GCM with enc-rsa-oaep-256-2026-01-01 (RSA 2048), cty JWT → inner JWS',
    );
    expect(stepLine(stdout, 'verify')).toContain('✓ ES256 signature valid');
    // The key file's private members never reach the output.
    expect(stdout).not.toContain(encryption.rsaOaep.privateJwk.d);
  });

  it('takes a single JWK as the key file (ECDH-ES on P-256)', async () => {
    const token = await nested(claims({}, realNow()), { encrypt: { to: encryption.ecdhEs } });
    const { code, stdout } = await cli([
      'verify',
      token,
      ...policy(),
      '--decrypt-key',
      singleKeyFile,
    ]);
    expect(code).toBe(0);
    expect(stepLine(stdout, 'decrypt')).toContain(
      '✓ ECDH-ES + A256GCM with enc-ecdh-es-2026-01-01 (EC P-256)',
    );
  });

  it('checks the token as of --at: expired now, valid when the request came in', async () => {
    const token = await sign(claims()); // issued at the fixtures' NOW, 2026-01-01, exp +300 s
    const now = await cli(['verify', token, ...policy()]);
    expect(now.code).toBe(1);
    expect(now.stdout).toContain('✗ refused: token_expired');
    const then = await cli(['verify', token, ...policy(), '--at', '2026-01-01T00:01:00Z']);
    expect(then.code).toBe(0);
    expect(then.stdout).toContain('clock    2026-01-01T00:01:00Z (fixed by --at');
    expect(then.stdout).toContain(`✓ exp ${NOW + 300} = 2026-01-01T00:05:00Z (in 4 min)`);
    // An offset other than Z: the same instant, whatever TZ the shell runs in.
    const offset = await cli(['verify', token, ...policy(), '--at', '2026-01-01T01:01:00+01:00']);
    expect(offset.code).toBe(0);
    expect(offset.stdout).toContain('clock    2026-01-01T00:01:00Z (fixed by --at');
    const epoch = await cli(['verify', token, ...policy(), '--at', String(NOW + 306)]);
    expect(epoch.code).toBe(1);
    expect(epoch.stdout).toContain(`✗ exp ${NOW + 300} = 2026-01-01T00:05:00Z (6 s ago)`);
  });

  it('verifies a DPoP-bound token and says the binding is checked per request, not here', async () => {
    const token = await sign(claims({ cnf: { jkt: 'x'.repeat(43) } }, realNow()));
    const { code, stdout } = await cli(['verify', token, ...policy()]);
    expect(code).toBe(0);
    expect(stepLine(stdout, 'binding')).toBe(
      '  binding  – bound to a DPoP key (cnf.jkt): checked by the receiver per request, not here',
    );
  });

  it('--json prints one object: the verdict, each step and the fetch', async () => {
    const token = await sign(claims({}, realNow()));
    const good = await cli(['verify', token, ...policy(), '--json']);
    expect(good.code).toBe(0);
    const report = JSON.parse(good.stdout);
    expect(report).toMatchObject({
      valid: true,
      clock: 'system',
      claims: { sub: 'user-123', iss: ISSUER },
      fetches: [
        { uri: server.url, status: 200, etag: server.etag, lifetime: 300, freshness: 'max-age' },
      ],
    });
    expect(report.steps.map((s: { check: string }) => s.check)).toEqual(
      expect.arrayContaining(['token', 'decrypt', 'kid', 'JWKS', 'verify', 'claims']),
    );
    expect(
      report.steps.every((s: { verdict: string }) => ['pass', 'none'].includes(s.verdict)),
    ).toBe(true);

    const expired = await cli(['verify', await sign(claims()), ...policy(), '--json']);
    expect(expired.code).toBe(1);
    expect(JSON.parse(expired.stdout)).toMatchObject({
      valid: false,
      code: 'token_expired',
      status: 401,
      error: 'invalid_token',
      description: 'token has expired',
    });
  });
});

// Every code the CLI can meet. The others need what the CLI has no flag for (a request, a scope
// guard, `typ`, `maxTokenAge`, `requireEncryption`, a `revoked` hook) or cannot happen with its
// clock and options.
const UNREACHABLE: VerificationErrorCode[] = [
  'token_missing',
  'request_invalid',
  'encryption_required',
  'token_too_old',
  'typ_mismatch',
  'scope_insufficient',
  'clock_unavailable',
  'dpop_proof_invalid',
  'dpop_nonce_required',
  'token_binding_mismatch',
  'replay_store_unavailable',
  'token_revoked',
  'revocation_unavailable',
];

interface Refusal {
  code: VerificationErrorCode;
  name: string;
  token: () => Promise<string>;
  args?: () => string[];
  /** The step line that fails: `[step, text it contains]`. */
  failing: [string, string];
  /** Steps that must pass before it, and steps never reached after it. */
  passed?: string[];
  notReached?: string[];
}

const fresh = (overrides = {}) => claims(overrides, realNow());
const refusals: Refusal[] = [
  {
    code: 'token_malformed',
    name: 'not a token',
    token: async () => 'abc',
    failing: ['token', '✗ not a JWS or JWE: token has 1 part'],
    notReached: ['kid', 'verify', 'claims'],
  },
  {
    code: 'token_too_large',
    name: 'a 17 KiB token',
    token: async () => `${'a'.repeat(17 * 1024)}.b.c`,
    failing: ['token', '✗'],
  },
  {
    code: 'decryption_failed',
    name: 'a JWE without --decrypt-key',
    token: () => nested(fresh()),
    failing: [
      'decrypt',
      '✗ RSA-OAEP-256 + A256GCM: no decryption keys are configured (give the key with --decrypt-key FILE)',
    ],
    passed: ['token'],
    notReached: ['verify'],
  },
  {
    code: 'enc_not_allowed',
    name: 'a JWE with enc A192GCM',
    token: () => nested(fresh(), { encrypt: { enc: 'A192GCM' } }),
    args: () => ['--decrypt-key', keyFile],
    failing: ['decrypt', '✗ RSA-OAEP-256 + A192GCM with enc-rsa-oaep-256-2026-01-01 (RSA 2048)'],
  },
  {
    code: 'alg_not_allowed',
    name: 'RS256 with --algorithms ES256',
    token: () => sign(fresh(), { key: signing.rs256 }),
    args: () => ['--algorithms', 'ES256'],
    failing: ['verify', '✗ RS256 is not an allowed algorithm (ES256)'],
    passed: ['token'],
  },
  {
    code: 'issuer_mismatch',
    name: 'another issuer',
    token: () => sign(fresh({ iss: 'https://other.test/' })),
    failing: ['claims', '✗ iss https://other.test/ is not https://issuer.test/'],
    notReached: ['kid', 'verify'],
  },
  {
    code: 'kid_unknown',
    name: 'a kid the JWKS lacks',
    token: () => sign(fresh(), { key: rogueKey }),
    failing: ['kid', '✗ rogue-es256 (ES256, typ at+jwt): no key in the key set has this "kid"'],
    passed: ['JWKS'],
    notReached: ['verify'],
  },
  {
    code: 'signature_invalid',
    name: 'a published kid, signed by another key',
    token: () => sign(fresh(), { key: rogueKey, kid: signing.es256.kid }),
    failing: ['verify', '✗ ES256 signature does not verify with es256-2026-01-01 (EC P-256)'],
    passed: ['kid', 'JWKS'],
  },
  {
    code: 'jwks_unavailable',
    name: 'an unreachable key server',
    token: () => sign(fresh()),
    args: () => ['--jwks-uri', unreachable],
    failing: ['JWKS', `✗ GET ${''}`],
    notReached: ['verify'],
  },
  {
    code: 'token_expired',
    name: 'exp 10 min ago',
    token: () => sign(claims({}, realNow() - 900)),
    failing: ['claims', '✗ exp'],
    passed: ['verify'],
  },
  {
    code: 'token_not_yet_valid',
    name: 'nbf in 10 min',
    token: () => sign(fresh({ nbf: realNow() + 600 })),
    failing: ['claims', '✗ nbf'],
    passed: ['verify'],
  },
  {
    code: 'claim_missing',
    name: 'no exp',
    token: () => sign(fresh({ exp: undefined })),
    failing: ['claims', '✗ required claims present: "exp" is missing'],
    passed: ['verify'],
  },
  {
    code: 'audience_mismatch',
    name: 'another audience',
    token: () => sign(fresh({ aud: 'api://other' })),
    failing: ['claims', '✗ aud api://other (expected api://orders)'],
    passed: ['verify'],
  },
  {
    code: 'claim_invalid',
    name: 'a numeric sub',
    token: () => sign(fresh({ sub: 42 as unknown as string })),
    failing: ['claims', '✗ sub: strings: "sub" is not a string'],
    passed: ['verify'],
  },
];

describe('tokengate verify refusals: exit 1 with the code, the failing step marked', () => {
  it('covers every code the CLI can meet', () => {
    const covered = new Set([...refusals.map((r) => r.code), ...UNREACHABLE]);
    expect([...covered].sort()).toEqual([...VERIFICATION_ERROR_CODES].sort());
  });

  it.each(refusals)('$code: $name', async (r) => {
    const args = ['verify', await r.token(), ...policy(), ...(r.args?.() ?? [])];
    const { code, stdout, stderr } = await cli(args);
    expect({ code, stderr }).toEqual({ code: 1, stderr: '' });
    expect(stdout.split('\n').at(-2)).toMatch(new RegExp(`^✗ refused: ${r.code} \\(HTTP \\d{3} `));
    const [step, text] = r.failing;
    const failingLines = stdout.split('\n').filter((l) => l.includes('✗') && !l.startsWith('✗'));
    expect(failingLines.length).toBeGreaterThan(0);
    const stepBlock = blockOf(stdout, step);
    expect(stepBlock.some((line) => line.includes(text))).toBe(true);
    for (const p of r.passed ?? []) expect(blockOf(stdout, p)[0]).toMatch(/ ✓ /);
    for (const n of r.notReached ?? []) expect(blockOf(stdout, n)[0]).toMatch(/ · /);
    expect(stdout).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
  });
});

/** The lines of one step of the transcript (its first line and the unlabelled ones after). */
function blockOf(stdout: string, step: string): string[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`  ${step.padEnd(8)} `));
  if (start < 0) return [];
  const block = [lines[start]!];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith(' '.repeat(11))) break;
    block.push(line);
  }
  return block;
}

describe('tokengate inspect', () => {
  it('decodes without verifying, says so first, shows header, claims and dates', async () => {
    const token = await sign(claims());
    const { code, stdout } = await cli(['inspect', token, '--at', String(NOW + 60)]);
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^tokengate inspect: decoded WITHOUT verification/);
    expect(lines).toContain('JWS header');
    expect(lines).toContain('  kid  es256-2026-01-01');
    expect(stdout).toMatch(/\(signature: 64 bytes, not shown\)/);
    expect(stdout).toContain(`exp    ${NOW + 300} = 2026-01-01T00:05:00Z (in 4 min)`);
    expect(stdout).toContain(`iat    ${NOW} = 2026-01-01T00:00:00Z (1 min ago)`);
    expect(stdout).not.toContain(token.split('.')[2]);
  });

  it('for a JWE, names the key it needs; with --decrypt-key, shows the inner layer', async () => {
    const token = await nested(claims(), { encrypt: { to: encryption.ecdhEs } });
    const closed = await cli(['inspect', token]);
    expect(closed.code).toBe(0);
    expect(closed.stdout).toContain('JWE header');
    expect(closed.stdout).toContain(
      `needs    the receiver's private EC (or X25519) key with kid enc-ecdh-es-2026-01-01, for ECDH-ES + A256GCM`,
    );
    expect(closed.stdout).toContain('epk  EC P-256 public key (not shown)');
    expect(closed.stdout).toContain('claims   not shown: encrypted: pass --decrypt-key FILE');
    const open = await cli(['inspect', '-', '--decrypt-key', keyFile], token);
    expect(open.code).toBe(0);
    expect(open.stdout).toContain('JWE header (outer layer)');
    expect(open.stdout).toContain('JWS header (inner layer)');
    expect(open.stdout).toContain(
      'opened   with enc-ecdh-es-2026-01-01 (EC P-256) from --decrypt-key',
    );
    expect(open.stdout).toContain('sub    user-123');
    expect(open.stdout).not.toContain(encryption.ecdhEs.privateJwk.d);
    const epk = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).epk;
    expect(open.stdout).not.toContain(epk.x);
  });

  it('escapes terminal control sequences from the token', async () => {
    const token = await sign(claims({ sub: 'x\u001b]0;pwned\u0007\u202e' }));
    const { code, stdout } = await cli(['inspect', token]);
    expect(code).toBe(0);
    expect(stdout).toContain('x\\u001b]0;pwned\\u0007\\u202e');
    for (const raw of ['\u001b', '\u0007', '\u202e']) expect(stdout).not.toContain(raw);
  });

  it('--json prints one object without key material or signature', async () => {
    const token = await encrypt('{"iss":"x"}', { to: encryption.ecdhEs, cty: null });
    const { code, stdout } = await cli(['inspect', token, '--json']);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out).toMatchObject({
      verified: false,
      layers: [{ kind: 'JWE', header: { epk: 'EC P-256 public key (not shown)' } }],
    });
  });
});

describe('bad input: one line, non-zero exit, no stack trace', () => {
  const cases: { name: string; args: () => string[]; stdin?: string; message: RegExp }[] = [
    {
      name: 'inspect: not a token',
      args: () => ['inspect', 'not-a-token'],
      message: /^tokengate: not a token: 1 part\(s\); a JWS has 3, a JWE 5$/,
    },
    {
      name: 'a missing key file',
      args: () => ['verify', 'a.b.c', ...policy(), '--decrypt-key', join(dir, 'nope.json')],
      message: /^tokengate: cannot read --decrypt-key .*nope\.json: no such file$/,
    },
    {
      name: 'a key file that is not JSON',
      args: () => ['inspect', 'a.b.c', '--decrypt-key', BIN],
      message: /is not JSON \(a JWK or a JWKS is expected\)$/,
    },
    {
      name: 'a public key as --decrypt-key',
      args: () => ['verify', 'a.b.c', ...policy(), '--decrypt-key', publicKeyFile],
      message: /^tokengate: invalid options: "decryption.keys" must be private keys/,
    },
    {
      name: 'no token',
      args: () => ['verify', ...policy()],
      message: /^tokengate: no token: pass it as an argument, or `-`/,
    },
    {
      name: 'empty stdin',
      args: () => ['verify', '-', ...policy()],
      stdin: '',
      message: /^tokengate: stdin held no token$/,
    },
    {
      name: 'an unknown option',
      args: () => ['verify', 'a.b.c', ...policy(), '--insecure'],
      message: /^tokengate: Unknown option '--insecure'$/,
    },
    {
      name: 'no key source',
      args: () => ['verify', 'a.b.c', '--issuer', ISSUER, '--audience', AUDIENCE],
      message: /^tokengate: verify needs one of --jwks-uri URL or --discovery$/,
    },
    {
      name: 'no --issuer',
      args: () => ['verify', 'a.b.c', '--audience', AUDIENCE, '--jwks-uri', server.url],
      message: /^tokengate: verify needs --issuer ISS$/,
    },
    {
      name: 'a bad --at',
      args: () => ['verify', 'a.b.c', ...policy(), '--at', 'yesterday'],
      message: /^tokengate: --at "yesterday" is not a time/,
    },
    // An ISO date without an offset is local time: the answer would depend on TZ.
    ...['2026-01-01T00:05:00', '2026-01-01', '2026-01-01T00:05'].map((at) => ({
      name: `--at ${at} (no UTC offset)`,
      args: () => ['verify', 'a.b.c', ...policy(), '--at', at],
      message: /^tokengate: --at "[^"]+" has no UTC offset: add Z or ±hh:mm/,
    })),
    ...['2026-02-31T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:05:00+25:00'].map((at) => ({
      name: `--at ${at} (no such date)`,
      args: () => ['verify', 'a.b.c', ...policy(), '--at', at],
      message: /^tokengate: --at "[^"]+" is not a time/,
    })),
    // 20260101 is a date typed without dashes, 1767225600000 milliseconds: neither is meant as
    // seconds since 1970.
    ...['20260101', '1767225600000', '0'].map((at) => ({
      name: `--at ${at} (implausible epoch seconds)`,
      args: () => ['verify', 'a.b.c', ...policy(), '--at', at],
      message: /^tokengate: --at "\d+" is not plausible epoch seconds \(2000 to 2100 expected/,
    })),
    {
      name: 'a plain-http key server off loopback',
      args: () => [
        'verify',
        'a.b.c',
        '--issuer',
        ISSUER,
        '--audience',
        AUDIENCE,
        '--jwks-uri',
        'http://keys.example.com/jwks',
      ],
      message: /^tokengate: invalid options: "jwksUri"/,
    },
    {
      name: 'no command',
      args: () => [],
      message: /^tokengate: no command: use inspect or verify \(--help\)$/,
    },
    {
      name: 'an unknown command',
      args: () => ['check', 'a.b.c'],
      message: /^tokengate: unknown command "check": use inspect or verify$/,
    },
  ];

  it.each(cases)('$name', async ({ args, stdin, message }) => {
    const { code, stdout, stderr } = await cli(args(), stdin);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr.trimEnd()).toMatch(message);
  });

  it('--help prints the usage (exit 0), --version the package version', async () => {
    for (const args of [['--help'], ['verify', '--help'], ['inspect', '-h']]) {
      const { code, stdout } = await cli(args);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Usage:\n {2}tokengate inspect <token\|->/);
    }
    const version = await cli(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: '0.1.0\n' });
  });

  it('with --json, the error is one JSON object on stdout', async () => {
    const { code, stdout, stderr } = await cli(['inspect', 'abc', '--json']);
    expect({ code, stderr }).toEqual({ code: 2, stderr: '' });
    expect(JSON.parse(stdout)).toEqual({ error: 'not a token: 1 part(s); a JWS has 3, a JWE 5' });
  });

  it('an unreachable key server: the fetch failure is named, exit 1 jwks_unavailable', async () => {
    const token = await sign(fresh());
    const { code, stdout } = await cli([
      'verify',
      token,
      '--issuer',
      ISSUER,
      '--audience',
      AUDIENCE,
      '--jwks-uri',
      unreachable,
    ]);
    expect(code).toBe(1);
    expect(stepLine(stdout, 'JWKS')).toMatch(new RegExp(`✗ GET ${unreachable} → failed: .+`));
    expect(stdout.split('\n').at(-2)).toContain(
      '✗ refused: jwks_unavailable (HTTP 503 temporarily_unavailable)',
    );
  });
});

#!/usr/bin/env node
// `pnpm test:packages`: the packages as a user installs them. Packs every package (scripts/pack-
// all.js), installs the tarballs with npm into one fresh app in the OS temp folder (outside the
// workspace, so nothing resolves through pnpm's links), then:
//   1. starts one ESM app per adapter and one CommonJS app against a loopback JWKS server and
//      checks 200 / 401 / 403 over real HTTP, and the JSON log lines each app prints; runs the
//      installed `tokengate` bin against the same server (valid, and expired: exit 0 and 1);
//   2. runs `tsc --noEmit` under strict, with module nodenext and again with moduleResolution
//      bundler, over every ```ts block of README.md and packages/*/README.md (so the docs cannot
//      drift from the types) and a CommonJS .cts file;
//   3. runs publint and @arethetypeswrong/cli on every tarball, and checks what each ships
//      (LICENSE, a README without links outside the package, source maps with their sources).
// Every child process has a timeout; the temp folder is removed at the end.
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packAll } from '../../scripts/pack-all.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

const TIMEOUT_MS = { install: 300_000, tool: 180_000, appStart: 20_000, request: 10_000 };

const failures = [];
/** Records a failed check; the run goes on, so one report lists every problem. */
function check(ok, what) {
  if (ok) return;
  failures.push(what);
  console.error(`  ✗ ${what}`);
}

async function step(name, fn) {
  const started = Date.now();
  console.log(`▸ ${name}`);
  try {
    await fn();
  } catch (err) {
    check(false, `${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
  console.log(`  ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Runs a command to completion (bounded by `timeout`); returns its output, throws on failure. */
function run(command, args, { cwd, timeout = TIMEOUT_MS.tool, allowFailure = false } = {}) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0 && !allowFailure) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}\n${output}`);
  }
  return { status: result.status, output };
}

// --- the app the tarballs are installed into ----------------------------------------------------

const testDeps = JSON.parse(readFileSync(join(root, 'test', 'package.json'), 'utf8')).dependencies;
const rootDevDeps = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies;
// The same framework versions as the conformance suite, so the two cannot disagree.
const FRAMEWORKS = [
  'express',
  'koa',
  '@koa/router',
  'fastify',
  'redis',
  '@types/express',
  '@types/koa',
  '@types/koa__router',
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-express',
  'reflect-metadata',
  'rxjs',
];

function writeApp(dir, packs) {
  const dependencies = {};
  for (const { name, tarball } of packs) dependencies[name] = `file:${relative(dir, tarball)}`;
  for (const name of FRAMEWORKS) dependencies[name] = testDeps[name];
  dependencies['@types/node'] = rootDevDeps['@types/node'];
  const pkg = { name: 'tokengate-packages-app', private: true, type: 'module', dependencies };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  for (const file of readdirSync(join(here, 'apps'))) {
    copyFileSync(join(here, 'apps', file), join(dir, file));
  }
}

// --- 1. real HTTP through each installed adapter -------------------------------------------------

const ISSUER = 'https://issuer.packages.test';
const AUDIENCE = 'api://orders';
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KID = 'packages-1';
const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'ES256' }] };

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
function signToken(claims) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'ES256', kid: KID, typ: 'JWT' })}.${b64({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'alice',
    role: 'reader', // present, so claimEquals('role', 'admin') is a 403, not a 401 claim_missing
    iat: now,
    exp: now + 300,
    ...claims,
  })}`;
  const signature = cryptoSign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363', // JWS ES256 (RFC 7518 §3.4): r || s, not DER
  });
  return `${input}.${signature.toString('base64url')}`;
}

function startJwksServer() {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify(jwks));
  });
  return new Promise((resolveServer) => {
    server.listen(0, '127.0.0.1', () => {
      resolveServer({
        url: `http://127.0.0.1:${server.address().port}/jwks.json`,
        close: () => new Promise((done) => server.close(done)),
      });
    });
  });
}

/** Starts `node <file>` in the app folder; resolves once it prints `{"port": …}` on stdout. */
function startApp(dir, file, jwksUri) {
  const child = spawn(process.execPath, [file], {
    cwd: dir,
    env: { ...process.env, TG_ISSUER: ISSUER, TG_AUDIENCE: AUDIENCE, TG_JWKS_URI: jwksUri },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const stop = () =>
    new Promise((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  return new Promise((resolveApp, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${file} did not start in ${TIMEOUT_MS.appStart} ms\n${stderr}`));
    }, TIMEOUT_MS.appStart);
    child.stdout.on('data', () => {
      const match = /\{"port":(\d+)\}/.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      resolveApp({
        origin: `http://127.0.0.1:${match[1]}`,
        stop,
        output: () => `${stdout}\n${stderr}`,
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited ${code} before listening\n${stderr}`));
    });
  });
}

/**
 * The JSON records an app printed (other lines, such as warnings, are skipped). Nest's JSON
 * console logger wraps a record as `{ level, context: 'Tokengate', message: record }`, with
 * Nest's `log` for info: unwrapped here, so every app is held to the same records.
 */
function rejectionRecords(output) {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .map((line) =>
      line.context === 'Tokengate' && typeof line.message === 'object'
        ? { ...line.message, level: line.level === 'log' ? 'info' : line.level }
        : line,
    )
    .filter((record) => record.event === 'token_rejected');
}

const REQUESTS = [
  { name: 'no token', path: '/orders', status: 401, challenge: /^Bearer$/ },
  { name: 'token with the scope', path: '/orders', scope: 'orders:read', status: 200 },
  {
    name: 'token without the scope',
    path: '/orders',
    scope: 'orders:write',
    status: 403,
    challenge: /error="insufficient_scope".*scope="orders:read"/,
  },
  { name: 'token failing claimEquals', path: '/admin', scope: 'orders:read', status: 403 },
  {
    name: 'token of one part',
    path: '/orders',
    raw: 'abc',
    status: 401,
    challenge: /invalid_token/,
  },
];

// What the apps must log, in order: one record per rejection, at its level, with its reason.
const EXPECTED_RECORDS = [
  { level: 'info', code: 'token_missing' },
  { level: 'warn', code: 'scope_insufficient', reason: 'token lacks the scope orders:read' },
  { level: 'warn', code: 'scope_insufficient' },
  { level: 'warn', code: 'token_malformed', reason: 'token has 1 part; a JWS has 3, a JWE 5' },
];

async function exerciseApp(dir, file, jwksUri) {
  const app = await startApp(dir, file, jwksUri);
  const tokens = [];
  try {
    for (const r of REQUESTS) {
      const token = r.raw ?? (r.scope === undefined ? undefined : signToken({ scope: r.scope }));
      if (token) tokens.push(token);
      const res = await fetch(`${app.origin}${r.path}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(TIMEOUT_MS.request),
      });
      const body = await res.json().catch(() => undefined);
      check(res.status === r.status, `${file}: ${r.name} → ${res.status}, want ${r.status}`);
      if (r.status === 200) {
        check(body?.user === 'alice', `${file}: ${r.name} → body ${JSON.stringify(body)}`);
      }
      if (r.challenge) {
        const challenge = res.headers.get('www-authenticate') ?? '';
        check(r.challenge.test(challenge), `${file}: ${r.name} → WWW-Authenticate ${challenge}`);
      }
    }
  } finally {
    await app.stop();
  }
  const records = rejectionRecords(app.output());
  check(
    records.length === EXPECTED_RECORDS.length,
    `${file}: ${records.length} rejection records, want ${EXPECTED_RECORDS.length}\n${app.output()}`,
  );
  EXPECTED_RECORDS.forEach((want, i) => {
    const got = records[i] ?? {};
    for (const [field, value] of Object.entries(want)) {
      check(got[field] === value, `${file}: record ${i} ${field} ${got[field]}, want ${value}`);
    }
  });
  for (const token of tokens) {
    check(!app.output().includes(token), `${file}: a token reached the log`);
  }
}

/** Runs the installed `tokengate` bin (async: the key server lives in this process). */
function runInstalledCli(dir, args) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(join(dir, 'node_modules', '.bin', 'tokengate'), args, {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: TIMEOUT_MS.request,
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('close', (status) => resolveRun({ status, output }));
  });
}

async function exerciseCli(dir, jwksUri) {
  const policy = ['--issuer', ISSUER, '--audience', AUDIENCE, '--jwks-uri', jwksUri];
  const good = await runInstalledCli(dir, ['verify', signToken({}), ...policy]);
  check(
    good.status === 0 && /\n✓ valid: sub alice/.test(good.output),
    `tokengate verify:\n${good.output}`,
  );
  const old = Math.floor(Date.now() / 1000) - 900;
  const expired = await runInstalledCli(dir, [
    'verify',
    signToken({ iat: old, exp: old + 300 }),
    ...policy,
  ]);
  check(
    expired.status === 1 && /\n✗ refused: token_expired /.test(expired.output),
    `tokengate verify (expired):\n${expired.output}`,
  );
}

// --- 2. the README's TypeScript under strict ----------------------------------------------------

const READMES = [
  'README.md',
  ...readdirSync(join(root, 'packages')).map((p) => join('packages', p, 'README.md')),
];

/** Every ```ts block of the READMEs, one module file each (named after its README and line). */
function extractSnippets(dir) {
  const out = join(dir, 'snippets');
  mkdirSync(out, { recursive: true });
  const files = [];
  for (const readme of READMES) {
    const lines = readFileSync(join(root, readme), 'utf8').split('\n');
    let start = -1;
    lines.forEach((line, i) => {
      if (start < 0 && line.trim() === '```ts') start = i;
      else if (start >= 0 && line.trim() === '```') {
        const name = `${readme.replace(/\W+/g, '-')}-L${start + 1}.ts`;
        // `export {}` makes every snippet a module, as it is in an app.
        writeFileSync(join(out, name), `${lines.slice(start + 1, i).join('\n')}\nexport {};\n`);
        files.push(name);
        start = -1;
      }
    });
  }
  return files;
}

const STRICT = {
  strict: true,
  noEmit: true,
  target: 'ES2022',
  lib: ['ES2023'],
  types: ['node'],
  skipLibCheck: false,
  // The NestJS snippets use decorators as every Nest project compiles them (no other snippet
  // has decorators, so this changes nothing for them).
  experimentalDecorators: true,
  forceConsistentCasingInFileNames: true,
};

function typecheck(dir, name, compilerOptions, include) {
  const config = `tsconfig.${name}.json`;
  writeFileSync(join(dir, config), JSON.stringify({ compilerOptions, include }, null, 2));
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const { output } = run(process.execPath, [tsc, '-p', config], { cwd: dir, allowFailure: true });
  // Our declarations are checked too (skipLibCheck off); errors inside other packages' types
  // (e.g. @types/koa against a newer content-disposition) are theirs, reported but not failed.
  const errors = output.split('\n').filter((line) => /error TS\d+/.test(line));
  const theirs = errors.filter((line) => /^node_modules\/(?!@tokengate\/)/.test(line));
  const ours = errors.filter((line) => !theirs.includes(line));
  if (theirs.length) console.log(`  (${theirs.length} error(s) inside third-party types ignored)`);
  check(ours.length === 0, `tsc (${name}) reported errors:\n${output}`);
}

// --- 3. what each tarball ships -----------------------------------------------------------------

function lintTarball({ name, tarball }, dir) {
  const { status: publint, output: publintOut } = run(
    bin('publint'),
    ['run', tarball, '--strict'],
    {
      allowFailure: true,
    },
  );
  check(publint === 0, `publint ${name}:\n${publintOut}`);
  // attw's bundled TypeScript predates require(esm) (TS 5.8, Node 20.19), so it calls the
  // CommonJS resolution of an ESM-only package "dynamic import only"; the CommonJS app and the
  // .cts check above prove that path. Every other rule runs.
  const { status: attw, output: attwOut } = run(
    bin('attw'),
    [tarball, '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'ascii', '--no-emoji'],
    { allowFailure: true },
  );
  check(attw === 0, `attw ${name}:\n${attwOut}`);

  const unpacked = join(dir, basename(tarball, '.tgz'));
  mkdirSync(unpacked, { recursive: true });
  run('tar', ['xzf', tarball, '-C', unpacked]);
  const pkgDir = join(unpacked, 'package');
  const shipped = listFiles(pkgDir);
  check(shipped.includes('LICENSE'), `${name}: no LICENSE in the tarball`);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  check(!JSON.stringify(pkg).includes('workspace:'), `${name}: a workspace: range was shipped`);
  for (const field of ['repository', 'bugs', 'homepage', 'keywords', 'license']) {
    check(pkg[field] !== undefined, `${name}: package.json has no "${field}"`);
  }
  const readme = readFileSync(join(pkgDir, 'README.md'), 'utf8');
  check(!/\]\(\.\.\//.test(readme), `${name}: README links outside the package (../)`);
  for (const file of shipped.filter((f) => /\.(js|d\.ts)$/.test(f))) {
    const source = readFileSync(join(pkgDir, file), 'utf8');
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(source)?.[1];
    if (url === undefined) continue;
    const mapFile = join(dirname(file), url);
    check(shipped.includes(mapFile), `${name}: ${file} points to ${url}, not shipped`);
    if (!shipped.includes(mapFile)) continue;
    const map = JSON.parse(readFileSync(join(pkgDir, mapFile), 'utf8'));
    check(
      map.sourcesContent?.length === map.sources.length,
      `${name}: ${mapFile} names sources it does not embed`,
    );
  }
}

function listFiles(dir, prefix = '') {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(dir, join(prefix, entry.name)) : [join(prefix, entry.name)],
  );
}

// --- the run -------------------------------------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), 'tokengate-packages-'));
const started = Date.now();
try {
  let packs = [];
  await step('pack every package (pnpm pack:all)', () => {
    packs = packAll(join(work, 'packs'));
  });
  const app = join(work, 'app');
  mkdirSync(app);
  writeApp(app, packs);
  await step('npm install the tarballs into a fresh app', () => {
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
      cwd: app,
      timeout: TIMEOUT_MS.install,
    });
  });
  const jwksServer = await startJwksServer();
  try {
    for (const file of ['express.js', 'koa.js', 'fastify.js', 'nest.js', 'commonjs.cjs']) {
      await step(`serve 200/401/403 through ${file}`, () => exerciseApp(app, file, jwksServer.url));
    }
    await step('tokengate verify through the installed bin', () =>
      exerciseCli(app, jwksServer.url),
    );
  } finally {
    await jwksServer.close();
  }
  const snippets = extractSnippets(app);
  console.log(`  ${snippets.length} TypeScript snippets from ${READMES.length} READMEs`);
  check(snippets.length >= 10, `only ${snippets.length} README snippets found`);
  const include = ['snippets/*.ts', 'snippet-globals.d.ts'];
  await step('tsc strict, module nodenext (README snippets + .cts)', () =>
    typecheck(app, 'nodenext', { ...STRICT, module: 'nodenext', moduleResolution: 'nodenext' }, [
      ...include,
      'commonjs-check.cts',
    ]),
  );
  await step('tsc strict, moduleResolution bundler (README snippets)', () =>
    typecheck(
      app,
      'bundler',
      { ...STRICT, module: 'esnext', moduleResolution: 'bundler' },
      include,
    ),
  );
  for (const pack of packs) {
    await step(`publint, attw and contents of ${pack.name}`, () => lintTarball(pack, work));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (failures.length > 0) {
  console.error(`\ntest:packages: ${failures.length} failed (${seconds} s)`);
  process.exit(1);
}
console.log(`\ntest:packages: all checks passed (${seconds} s)`);

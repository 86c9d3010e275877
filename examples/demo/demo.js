// `pnpm demo`: the whole story of a nested token on loopback, as a transcript that checks itself.
//
// The issuer A with its key server K, and four receivers B (Express, Koa, Fastify, NestJS) run
// in this process on 127.0.0.1. Every fact printed comes from what actually happened: B's
// responses (the verified headers and claims), B's logs (rejection codes, key-server failures),
// B's JWKS cache (its `onFetch` hook: 200 or 304, for how long) and K's request log
// (If-None-Match, status).
// Each expectation is counted; the exit code is 0 only when all of them held, so CI runs this as
// a smoke test.
//
// Time: A, K and every B read one clock that the demo moves forward ("6 min later"), so token
// expiry and JWKS revalidation happen at once instead of after a real wait.
import { CompactEncrypt, SignJWT, base64url, generateKeyPair, importJWK } from 'jose';
import { startIssuer } from '@tokengate/issuer';
import { startReceiver as startExpress } from '@tokengate/express-receiver';
import { startReceiver as startKoa } from '@tokengate/koa-receiver';
import { startReceiver as startFastify } from '@tokengate/fastify-receiver';
import { startReceiver as startNest } from '@tokengate/nest-receiver';

const AUDIENCE = 'api://orders';
const MAX_AGE = 300; // K's Cache-Control max-age: how long B keeps the keys before revalidating
const WATCHDOG_MS = 25_000;

const started = performance.now();
let offset = 0;
/** The one clock, in epoch seconds. */
const now = () => Date.now() / 1000 + offset;

let passed = 0;
let failed = 0;
/** Counts one expectation and prints it. */
function check(ok, text) {
  if (ok) passed++;
  else failed++;
  console.log(`  ${ok ? '✓' : '✗'} ${text}`);
  return ok;
}
const say = (text) => console.log(`  ${text}`);
const section = (title) => console.log(`\n${title}`);
function later(seconds, title) {
  offset += seconds;
  const span = seconds >= 60 && seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
  section(title.replace('{later}', `${span} later`));
}
const short = (etag) =>
  etag && etag.length > 12 ? `${etag.slice(0, etag.startsWith('W/') ? 9 : 7)}…"` : etag;
const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

const watchdog = setTimeout(() => {
  console.error(`demo: still running after ${WATCHDOG_MS / 1000} s, giving up`);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

const cleanups = [];
try {
  await run();
} catch (err) {
  failed++;
  console.error(`\n✗ demo stopped: ${err?.stack ?? err}`);
} finally {
  await Promise.allSettled(cleanups.map((close) => close()));
  clearTimeout(watchdog);
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`\ndemo: ${passed} passed, ${failed} failed (${seconds} s)`);
process.exitCode = failed === 0 ? 0 : 1;

async function run() {
  const k = await startIssuer({ now, maxAge: MAX_AGE });
  cleanups.push(k.close);
  const jwksPath = new URL(k.jwksUri).pathname;

  const receivers = [];
  for (const [name, start] of [
    ['express', startExpress],
    ['koa', startKoa],
    ['fastify', startFastify],
    ['nest', startNest],
  ]) {
    // What B logs and what its JWKS cache reports, kept so the transcript can quote them.
    const records = [];
    const fetches = [];
    const events = [];
    const keep = (level) => (obj, msg) => records.push({ level, msg, ...obj });
    const b = await start({
      issuer: k.url,
      jwksUri: k.jwksUri,
      now,
      logger: { warn: keep('warn'), error: keep('error'), info: keep('info') },
      onEvent: (event) => events.push(event),
      // Each B here stands for its own process: in one process, verifiers naming the same
      // jwks_uri would share one key cache (and one fetch) unless told otherwise.
      jwks: { shared: false, onFetch: (info) => fetches.push(info) },
    });
    cleanups.push(b.close);
    receivers.push({ ...b, name, label: name.padEnd(8), records, fetches, events });
  }

  console.log(
    'tokengate demo: issuer A + key server K; receivers B on Express, Koa, Fastify and NestJS',
  );
  say('one clock for all of them: the demo moves it forward, so nothing here sleeps');
  say(`K sends Cache-Control: max-age=${MAX_AGE}; after that B revalidates with If-None-Match`);

  section('setup');
  say(`A+K       ${k.url}  signs with ${k.signingKid} (ES256)`);
  for (const b of receivers) {
    say(`B ${b.label}${b.url}  decrypts with ${b.publicJwk.kid} (${b.publicJwk.alg})`);
  }
  const discovery = await fetch(`${k.url}/.well-known/openid-configuration`).then((r) => r.json());
  check(
    discovery.issuer === k.url && discovery.jwks_uri === k.jwksUri,
    'K /.well-known/openid-configuration names the issuer and its jwks_uri',
  );
  const first = await fetch(k.jwksUri);
  const etag = first.headers.get('etag') ?? '';
  const cacheControl = first.headers.get('cache-control');
  check(
    first.status === 200 && /^W\/"[^"]+"$/.test(etag) && cacheControl?.includes('max-age='),
    `K /.well-known/jwks.json (Express res.json) → ${first.status}, weak ETag ${short(etag)}, ` +
      `Cache-Control: ${cacheControl}`,
  );
  // What curl sends: no Cache-Control. (fetch adds `no-cache` to conditional requests unless
  // told otherwise, and Express answers that with 200: tokengate sends `max-age=0`.)
  const again = await fetch(k.jwksUri, {
    headers: { 'if-none-match': etag, 'cache-control': 'max-age=0' },
  });
  check(again.status === 304, `K If-None-Match: ${short(etag)} → ${again.status}`);

  // ---- helpers bound to K -----------------------------------------------------------------------

  const mint = async (b, o = {}) =>
    (await k.mint({ aud: AUDIENCE, scope: 'orders:read', encryptTo: b.publicJwk, ...o })).token;
  const kLog = (mark) => k.requests.slice(mark).filter((r) => r.path === jwksPath);
  const kLine = (r) =>
    `${r.ifNoneMatch ? `If-None-Match ${short(r.ifNoneMatch)}` : 'GET'} → ${r.status}` +
    (r.status === 200 ? ` ETag ${short(r.etag)}` : '');
  const bLine = (f) =>
    `B keeps ${f.changed ? 'new' : 'same'} keys ${Math.round(f.freshUntil - f.fetchedAt)} s`;
  /** One line on what passed between B and K since `r` was sent: K's log, then B's view. */
  const traffic = (r) => {
    const asked = kLog(r.mark.k);
    if (asked.length === 0) return 'K not asked';
    const cached = r.b.fetches.slice(r.mark.b).map(bLine);
    const failure = r.b.records.slice(r.mark.log).find((x) => x.level === 'error');
    return (
      `K saw ${asked.map(kLine).join(', ')}` +
      (cached.length ? `; ${cached.join(', ')}` : '') +
      (failure ? `; B logs ${failure.event}, keeps its keys` : '')
    );
  };

  /** Sends one request to B and collects the facts: status, body, B's rejection record. */
  async function send(b, token, { method = 'GET', body } = {}) {
    const mark = {
      k: k.requests.length,
      b: b.fetches.length,
      log: b.records.length,
      events: b.events.length,
    };
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body) headers['content-type'] = 'application/json';
    const res = await fetch(`${b.url}/orders`, {
      method,
      headers,
      body: body && JSON.stringify(body),
    });
    const json = await res.json().catch(() => undefined);
    const rejection = b.records.slice(mark.log).find((r) => r.event === 'token_rejected');
    return {
      b,
      mark,
      status: res.status,
      body: json,
      challenge: res.headers.get('www-authenticate') ?? '',
      code: rejection?.code,
      events: b.events.slice(mark.events),
    };
  }

  /** Waits (bounded) until B's cache has finished a background fetch (or logged its failure). */
  async function settled(r) {
    for (let i = 0; i < 200; i++) {
      const done = r.b.fetches.length > r.mark.b;
      const errored = r.b.records.slice(r.mark.log).some((x) => x.level === 'error');
      if (done || errored) return;
      await pause();
    }
  }

  /** Checks a rejection: the status and the code B logged. */
  function rejected(r, status, code, extra = '', what = '') {
    const ok = r.status === status && r.code === code;
    return check(
      ok,
      `${r.b.label} ${what}→ ${r.status} ${r.code ?? ''}${extra}${ok ? '' : `   (expected ${status} ${code})`}`,
    );
  }

  /** Encrypts a compact JWS to B the way A does: a nested JWT (RFC 7519 §5.2, cty "JWT"). */
  async function encryptTo(b, jws) {
    const { kid, alg } = b.publicJwk;
    return new CompactEncrypt(new TextEncoder().encode(jws))
      .setProtectedHeader({ alg, enc: 'A256GCM', cty: 'JWT', kid })
      .encrypt(await importJWK(b.publicJwk, alg));
  }

  // ---- 1. the happy path ------------------------------------------------------------------------

  section(
    '1. A mints a nested token for each B (sign, then encrypt to B); B opens and verifies it',
  );
  const firstTokens = new Map();
  for (const b of receivers) {
    const minted = await fetch(`${k.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        aud: AUDIENCE,
        scope: 'orders:read orders:write',
        encryptTo: b.publicJwk,
      }),
    }).then((res) => res.json());
    firstTokens.set(b, minted.access_token);
    const r = await send(b, minted.access_token);
    const auth = r.body?.auth ?? {};
    const jwe = auth.encryption ?? {};
    const jws = auth.header ?? {};
    const asked = kLog(r.mark.k);
    const ok = check(
      r.status === 200 &&
        jwe.kid === b.publicJwk.kid &&
        jwe.cty === 'JWT' &&
        jws.kid === k.signingKid &&
        auth.sub === 'alice' &&
        asked.length === 1 &&
        asked[0].status === 200 &&
        b.fetches.length === 1,
      `${b.label} GET /orders → ${r.status}` +
        (b === receivers[0] ? '' : `  ${jwe.kid} → ${jws.kid}; K saw ${asked.map(kLine)}`),
    );
    if (!ok || b === receivers[0]) {
      say(`    decrypt  JWE ${jwe.alg} + ${jwe.enc}, kid ${jwe.kid}, cty ${jwe.cty} → inner JWS`);
      say(`    kid      ${jws.kid} (${jws.alg}, typ ${jws.typ}): B has no keys yet`);
      say(`    JWKS     ${traffic(r)}`);
      const verified = r.events.find((e) => e.type === 'token.verified');
      say(
        `    verify   ${jws.alg} signature valid with ${jws.kid}` +
          (verified ? ` (B's verifier: token.verified, nested ${verified.nested})` : ''),
      );
      say(
        `    claims   iss ${auth.iss}, aud ${auth.aud}, exp in ${Math.round(auth.exp - now())} s,`,
      );
      say(`             sub ${auth.sub}, scope "${auth.scope}"`);
    }
  }

  section('2. the same token again: answered from B’s token cache, K not asked');
  for (const b of receivers) {
    const r = await send(b, firstTokens.get(b));
    const hit = r.events.some((e) => e.type === 'cache.hit');
    check(
      r.status === 200 && hit && kLog(r.mark.k).length === 0,
      `${b.label} → ${r.status}, B's verifier: ${hit ? 'cache.hit' : 'no cache hit'}; ${traffic(r)}`,
    );
  }

  section('3. scopes: GET /orders needs orders:read, POST /orders needs orders:write');
  for (const b of receivers) {
    const w = await send(b, firstTokens.get(b), { method: 'POST', body: { item: 'tea' } });
    check(
      w.status === 201 && w.body?.by === 'alice' && w.body?.item === 'tea',
      `${b.label} POST with "orders:read orders:write" → ${w.status}, order #${w.body?.id}`,
    );
    const r = await send(b, await mint(b), { method: 'POST', body: { item: 'tea' } });
    const scope = r.challenge.match(/scope="[^"]*"/)?.[0] ?? 'no scope in challenge';
    rejected(r, 403, 'scope_insufficient', `, challenge … ${scope}`, 'POST with "orders:read" ');
  }

  // ---- 4. what B refuses --------------------------------------------------------------------------

  section('4. what B refuses (each is one B log record with a stable code)');
  const attacker = await generateKeyPair('ES256');
  const cases = [
    { name: 'no token', status: 401, code: 'token_missing', make: async () => undefined },
    {
      name: 'wrong audience (aud api://billing)',
      status: 401,
      code: 'audience_mismatch',
      make: (b) => mint(b, { aud: 'api://billing' }),
    },
    {
      name: 'tampered claims (scope edited, signature kept, encrypted again)',
      status: 401,
      code: 'signature_invalid',
      make: async (b) => {
        const [h, p, sig] = (await mint(b, { nested: false })).split('.');
        const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p)));
        claims.scope = 'orders:read orders:write admin';
        return encryptTo(b, `${h}.${base64url.encode(JSON.stringify(claims))}.${sig}`);
      },
    },
    {
      name: 'tampered ciphertext (one character changed)',
      status: 401,
      code: 'decryption_failed',
      make: async (b) => {
        const parts = (await mint(b)).split('.');
        parts[3] = `${parts[3][0] === 'A' ? 'B' : 'A'}${parts[3].slice(1)}`;
        return parts.join('.');
      },
    },
    {
      name: 'encrypted to another receiver’s key',
      status: 401,
      code: 'decryption_failed',
      make: (b) => mint(receivers.find((other) => other !== b)),
    },
    {
      name: 'signed but not encrypted (these receivers set requireEncryption)',
      status: 401,
      code: 'encryption_required',
      make: (b) => mint(b, { nested: false }),
    },
    {
      name: 'unsigned inner token (alg "none")',
      status: 401,
      code: 'alg_not_allowed',
      make: async (b) => {
        const t = Math.floor(now());
        const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }));
        const claims = { iss: k.url, aud: AUDIENCE, sub: 'mallory', iat: t, exp: t + 300 };
        return encryptTo(b, `${header}.${base64url.encode(JSON.stringify(claims))}.`);
      },
    },
    {
      name: `unknown kid: signed by a key K never published (kid ${k.signingKid.slice(0, -1)}z)`,
      status: 401,
      code: 'kid_unknown',
      make: async (b) => {
        const t = Math.floor(now());
        const jws = await new SignJWT({ scope: 'orders:read orders:write' })
          .setProtectedHeader({ alg: 'ES256', kid: `${k.signingKid.slice(0, -1)}z`, typ: 'at+jwt' })
          .setIssuer(k.url)
          .setAudience(AUDIENCE)
          .setSubject('mallory')
          .setIssuedAt(t)
          .setExpirationTime(t + 300)
          .sign(attacker.privateKey);
        return encryptTo(b, jws);
      },
    },
  ];
  for (const c of cases) {
    say(`${c.name}: expect ${c.status} ${c.code}`);
    for (const b of receivers) {
      const r = await send(b, await c.make(b));
      // An unknown kid may be a rotation: B asks K once, then not again within its cooldown.
      rejected(r, c.status, c.code, c.code === 'kid_unknown' ? `; ${traffic(r)}` : '');
    }
  }
  say('the same unknown kid again, at once: B does not ask K again (30 s cooldown)');
  for (const b of receivers) {
    const r = await send(b, await cases.at(-1).make(b));
    const quiet = kLog(r.mark.k).length === 0;
    check(
      r.status === 401 && r.code === 'kid_unknown' && quiet,
      `${b.label} → ${r.status} ${r.code}; ${traffic(r)}`,
    );
  }

  // ---- 5. time passes -----------------------------------------------------------------------------

  later(360, `5. {later}: step 1's tokens (exp in 300 s) and K's max-age=${MAX_AGE} have run out`);
  say('the token from step 1 is refused, even though B has it cached:');
  for (const b of receivers) rejected(await send(b, firstTokens.get(b)), 401, 'token_expired');
  say('a fresh token is served from the stale keys while B revalidates them in the background:');
  for (const b of receivers) {
    const r = await send(b, await mint(b));
    await settled(r);
    const asked = kLog(r.mark.k);
    check(
      r.status === 200 && asked.some((f) => f.ifNoneMatch === k.etag && f.status === 304),
      `${b.label} → ${r.status}; ${traffic(r)}`,
    );
  }

  // ---- 6. the key server goes down ----------------------------------------------------------------

  section('6. K goes down (answers 503 to the JWKS)');
  k.setAvailable(false);
  for (const b of receivers) {
    const r = await send(b, await mint(b));
    check(
      r.status === 200 && kLog(r.mark.k).length === 0,
      `${b.label} new token → ${r.status} from cached keys; ${traffic(r)}`,
    );
  }
  later(MAX_AGE + 1, '   {later}: K is still down and B’s keys are stale');
  for (const b of receivers) {
    const r = await send(b, await mint(b));
    await settled(r);
    const failure = b.records.slice(r.mark.log).find((x) => x.level === 'error');
    check(
      r.status === 200 && kLog(r.mark.k).some((f) => f.status === 503) && failure !== undefined,
      `${b.label} new token → ${r.status}; ${traffic(r)}`,
    );
  }
  k.setAvailable(true);
  later(5, '   {later}: K is back up (B waits 1 s after a first failure)');
  for (const b of receivers) {
    const r = await send(b, await mint(b));
    await settled(r);
    check(
      r.status === 200 && kLog(r.mark.k).some((f) => f.status === 304),
      `${b.label} new token → ${r.status}; ${traffic(r)}`,
    );
  }

  // ---- 7. key rotation ----------------------------------------------------------------------------

  section('7. rotation: A publishes a new key, signs with it, later retires the old one');
  const oldKid = k.signingKid;
  const oldTokens = new Map();
  for (const b of receivers) oldTokens.set(b, await mint(b, { expiresIn: 3600 }));
  const rotated = await fetch(`${k.url}/rotate`, { method: 'POST' }).then((res) => res.json());
  check(
    rotated.kid !== oldKid && rotated.published?.includes(oldKid),
    `POST /rotate → A signs with ${rotated.kid}; K publishes ${rotated.published?.join(', ')}`,
  );
  say(`the first token naming ${rotated.kid}: B's keys are fresh but lack it, so B asks K once`);
  for (const b of receivers) {
    const r = await send(b, await mint(b));
    const kid = r.body?.auth?.header?.kid;
    check(
      r.status === 200 && kid === rotated.kid && kLog(r.mark.k).some((f) => f.status === 200),
      `${b.label} → ${r.status} (${kid}); ${traffic(r)}`,
    );
  }
  say(`tokens signed with ${oldKid} before the rotation still pass (both keys are published):`);
  for (const b of receivers) {
    const r = await send(b, oldTokens.get(b));
    check(r.status === 200 && r.body?.auth?.header?.kid === oldKid, `${b.label} → ${r.status}`);
  }
  const refused = await fetch(`${k.url}/retire`, { method: 'POST' });
  const waiting = (await refused.json()).waiting ?? [];
  check(
    refused.status === 409 && waiting[0]?.kid === oldKid,
    `POST /retire → ${refused.status}: A keeps ${oldKid} while its tokens are valid ` +
      `(${waiting[0] ? Math.round(waiting[0].until - now()) : '?'} s more)`,
  );
  const forced = await fetch(`${k.url}/retire`, {
    method: 'POST',
    body: JSON.stringify({ force: true }),
  }).then((res) => res.json());
  check(
    forced.removed?.includes(oldKid) && !k.published.includes(oldKid),
    `POST /retire {"force":true}, say ${oldKid} leaked → K publishes ${forced.published?.join(', ')}`,
  );
  later(MAX_AGE + 1, '   {later}: B’s keys are stale, so the next request revalidates them');
  for (const b of receivers) {
    const r = await send(b, await mint(b));
    await settled(r);
    check(
      r.status === 200 && kLog(r.mark.k).some((f) => f.status === 200),
      `${b.label} new token → ${r.status}; ${traffic(r)}`,
    );
  }
  say(`the ${oldKid} tokens, unexpired and in B's token cache, are now refused:`);
  for (const b of receivers) rejected(await send(b, oldTokens.get(b)), 401, 'kid_unknown');
}

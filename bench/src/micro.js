import {
  constants,
  createDecipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  privateDecrypt,
  verify as cryptoVerify,
} from 'node:crypto';
import { createVerifier } from '@tokengate/core';
import { createRedisDenylist } from '@tokengate/redis';
import { createClient } from 'redis';
import { JwtVerifier } from 'aws-jwt-verify';
import { createVerifier as createFastVerifier } from 'fast-jwt';
import { compactDecrypt, importJWK, jwtVerify } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { randomIndices, spread, median, timeAsync, timeSync } from './lib/measure.js';
import { startRedis } from './lib/redis.js';
import {
  AUDIENCE,
  claims,
  encryptionKey,
  hmacTokens,
  mint,
  nest,
  signingKey,
  tamper,
} from './lib/tokens.js';

const ISSUER = 'https://issuer.bench.example/';
const HASH = { RS256: 'sha256', ES256: 'sha256', EdDSA: null };
const CACHE_SIZES = [1, 1_000, 100_000];

/**
 * A measured row. `call(token)` verifies one token (sync or returning a promise); `tokens`
 * (default: the one valid token) are drawn in the order of `order`. `check` proves the row does
 * real work: the valid token passes and, unless `bad` is null, the tampered one is refused.
 */
function row(id, label, { call, async = false, token, tokens, order, bad, ref = false, aa }) {
  const pool = tokens ?? [token];
  const mask = order ? order.length - 1 : 0;
  const fn = order ? (i) => call(pool[order[i & mask]]) : () => call(pool[0]);
  return { id, label, async, fn, call, pool, bad, ref, aa };
}

async function refused(call, token) {
  try {
    return !(await call(token));
  } catch {
    return true;
  }
}

async function check(r) {
  for (const token of r.pool.length > 1000 ? [r.pool[0], r.pool.at(-1)] : r.pool) {
    if (!(await r.call(token))) throw new Error('the valid token was not accepted');
  }
  if (r.bad !== null && !(await refused(r.call, r.bad ?? tamper(r.pool[0])))) {
    throw new Error('a token with a tampered signature was accepted');
  }
}

function floorRow(alg, key, token) {
  const dot = token.lastIndexOf('.');
  const data = Buffer.from(token.slice(0, dot));
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  const keyArg =
    alg === 'ES256' ? { key: key.publicKey, dsaEncoding: 'ieee-p1363' } : key.publicKey;
  const hash = HASH[alg];
  return row(`floor-${alg}`, `node:crypto.verify ${alg} (floor)`, {
    call: () => cryptoVerify(hash, data, keyArg, signature),
    token,
    bad: null,
    ref: true,
  });
}

export async function signatureGroup(alg) {
  const key = signingKey(alg);
  const token = mint(key, claims(1, ISSUER));
  const tokengate = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: { keys: [key.jwk] },
    tokenCache: false,
  });
  const joseKey = await importJWK(key.jwk, alg);
  const pem = key.publicKey.export({ type: 'spki', format: 'pem' });
  const fast = createFastVerifier({
    key: pem,
    algorithms: [alg],
    allowedIss: ISSUER,
    allowedAud: AUDIENCE,
  });
  const aws = JwtVerifier.create({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: `${ISSUER}jwks.json`,
  });
  // Hydrated offline: the benchmark measures verification, not aws-jwt-verify's fetch.
  aws.cacheJwks({ keys: [key.jwk] });
  const rows = [
    floorRow(alg, key, token),
    row(`tokengate-${alg}`, `tokengate ${alg}, uncached`, {
      call: (t) => tokengate.verify(t),
      async: true,
      token,
    }),
    row(`jose-${alg}`, `jose jwtVerify ${alg}`, {
      call: (t) => jwtVerify(t, joseKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg] }),
      async: true,
      token,
    }),
    row(`fast-jwt-${alg}`, `fast-jwt ${alg}, no cache`, { call: (t) => fast(t), token }),
  ];
  if (alg !== 'EdDSA') {
    const opts = { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE };
    rows.push(
      row(`jsonwebtoken-${alg}`, `jsonwebtoken ${alg}`, {
        call: (t) => jsonwebtoken.verify(t, key.publicKey, opts),
        token,
      }),
    );
  }
  rows.push(
    row(`aws-jwt-verify-${alg}`, `aws-jwt-verify ${alg} (JWKS pre-hydrated)`, {
      call: (t) => aws.verifySync(t),
      token,
    }),
  );
  return { id: `sig-${alg}`, title: `${alg} signature, one call at a time`, rows, key };
}

async function cachedGroup(quick) {
  const rs = signingKey('RS256');
  const rsToken = mint(rs, claims(1, ISSUER));
  const hs = signingKey('HS256');
  const tokens = hmacTokens(hs, ISSUER, CACHE_SIZES.at(-1), rsToken.length);
  const rows = [floorRow('RS256', rs, rsToken)];
  const options = { issuer: ISSUER, audience: AUDIENCE, keys: [hs.jwk], algorithms: ['HS256'] };
  for (const size of CACHE_SIZES) {
    const verifier = createVerifier(options);
    const pool = tokens.slice(0, size);
    for (const t of pool) await verifier.verify(t);
    rows.push(
      row(`tokengate-cached-${size}`, `tokengate cached(), ${size.toLocaleString('en')} live`, {
        call: (t) => verifier.cached(t),
        tokens: pool,
        order: randomIndices(size),
        // Never verified, so never cached: a hit on it would mean the cache lies.
        bad: mint(hs, claims(-1, ISSUER)),
      }),
    );
    if (size === 1) {
      rows.push(
        row('tokengate-verify-cached-1', 'tokengate await verify(), cached, 1 live', {
          call: (t) => verifier.verify(t),
          async: true,
          tokens: pool,
        }),
      );
    }
  }
  // Random access to 100,000 entries is slower for any map (cache misses): this is the yardstick.
  for (const size of [CACHE_SIZES[0], CACHE_SIZES.at(-1)]) {
    const map = new Map(tokens.slice(0, size).map((t) => [t, true]));
    rows.push(
      row(
        `map-${size}`,
        `plain Map.get, same keys, ${size.toLocaleString('en')} live (reference)`,
        {
          call: (t) => map.get(t),
          tokens: tokens.slice(0, size),
          order: randomIndices(size),
          bad: mint(hs, claims(-1, ISSUER)),
        },
      ),
    );
  }
  const fastOptions = { algorithms: ['HS256'], allowedIss: ISSUER, allowedAud: AUDIENCE };
  for (const size of CACHE_SIZES) {
    const fast = createFastVerifier({ key: hs.secret, cache: true, ...fastOptions });
    rows.push(
      row(`fast-jwt-cached-${size}`, `fast-jwt cache, ${size.toLocaleString('en')} live`, {
        call: (t) => fast(t),
        tokens: tokens.slice(0, size),
        order: randomIndices(size),
      }),
    );
  }
  // RS256, so its misses cost what they cost in production: fast-jwt's cache holds 1,000.
  const rsCount = quick ? 1_500 : 2_000;
  const rsTokens = Array.from({ length: rsCount }, (_, i) => mint(rs, claims(i, ISSUER)));
  const fastRs = createFastVerifier({
    key: rs.publicKey.export({ type: 'spki', format: 'pem' }),
    cache: true,
    algorithms: ['RS256'],
    allowedIss: ISSUER,
    allowedAud: AUDIENCE,
  });
  rows.push(
    row(`fast-jwt-cached-rs256`, `fast-jwt cache, RS256, ${rsCount.toLocaleString('en')} live`, {
      call: (t) => fastRs(t),
      tokens: rsTokens,
      order: randomIndices(rsCount),
    }),
  );
  return {
    id: 'cached',
    title: 'Cached token, random access (HS256 tokens padded to RS256 length)',
    rows,
  };
}

/**
 * The revocation check on the cache-hit path: the same 1,000 cached tokens through `cached()`
 * with and without `revoked: denylist.revoked`, the real Redis denylist holding 10,000 revoked
 * jtis (none of the pool's: a valid token's lookup misses, as in production).
 */
async function revocationGroup() {
  const hs = signingKey('HS256');
  const size = 1_000;
  const tokens = hmacTokens(hs, ISSUER, size + 1, 0);
  const pool = tokens.slice(0, size);
  const redis = await startRedis();
  const prefix = 'bench:revoked:';
  const admin = createClient({ url: redis.url });
  await admin.connect();
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const listed = Array.from({ length: 10_000 }, (_, i) => ({ score: exp, value: `revoked-${i}` }));
  await admin.zAdd(`${prefix}jtis`, listed);
  await admin.close();
  const denylist = createRedisDenylist({ url: redis.url, prefix, logger: false });
  await denylist.ready();
  const options = { issuer: ISSUER, audience: AUDIENCE, keys: [hs.jwk], algorithms: ['HS256'] };
  const plain = createVerifier(options);
  const checked = createVerifier({ ...options, revoked: denylist.revoked });
  for (const t of tokens) await Promise.all([plain.verify(t), checked.verify(t)]);
  // Cached, then revoked: the checked row must refuse it on the hit.
  const revoked = tokens[size];
  const { jti } = JSON.parse(Buffer.from(revoked.split('.')[1], 'base64url'));
  await denylist.revoke(jti, exp);
  const order = randomIndices(size);
  return {
    id: 'revocation',
    title: 'Revocation check on a cached token (Redis denylist, 10,000 revoked jtis)',
    rows: [
      row('cached-plain', 'tokengate cached(), 1,000 live, no revoked hook', {
        call: (t) => plain.cached(t),
        tokens: pool,
        order,
        bad: null,
        ref: true,
      }),
      row('cached-plain-aa', 'tokengate cached(), 1,000 live, no revoked hook (A/A)', {
        call: (t) => plain.cached(t),
        tokens: pool,
        order,
        bad: null,
        aa: true,
      }),
      row('cached-denylist', 'tokengate cached(), 1,000 live, revoked: denylist.revoked', {
        call: (t) => checked.cached(t),
        tokens: pool,
        order,
        bad: revoked,
      }),
    ],
    async close() {
      await denylist.close();
      await redis.close();
    },
  };
}

const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const withLength = (bytes) => Buffer.concat([u32(bytes.length), bytes]);
const AES_KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

/**
 * ECDH-ES+A256KW + A256GCM opened with node:crypto alone (RFC 7518 §4.6: ECDH, Concat KDF,
 * AES key unwrap; then AES-GCM): what the nested ECDH row could cost without WebCrypto's
 * thread-pool hops. Returns the plaintext (the inner JWS).
 */
function ecdhOpen(token, privateKey) {
  const [protectedB64, wrappedB64, ivB64, ciphertextB64, tagB64] = token.split('.');
  const header = JSON.parse(Buffer.from(protectedB64, 'base64url'));
  const epk = createPublicKey({ key: header.epk, format: 'jwk' });
  const z = diffieHellman({ privateKey, publicKey: epk });
  const otherInfo = Buffer.concat([
    withLength(Buffer.from(header.alg)),
    withLength(Buffer.from(header.apu ?? '', 'base64url')),
    withLength(Buffer.from(header.apv ?? '', 'base64url')),
    u32(256),
  ]);
  const kek = createHash('sha256').update(u32(1)).update(z).update(otherInfo).digest();
  const unwrap = createDecipheriv('id-aes256-wrap', kek, AES_KW_IV);
  const wrapped = Buffer.from(wrappedB64, 'base64url');
  const cek = Buffer.concat([unwrap.update(wrapped), unwrap.final()]);
  const gcm = createDecipheriv('aes-256-gcm', cek, Buffer.from(ivB64, 'base64url'));
  gcm.setAAD(Buffer.from(protectedB64));
  gcm.setAuthTag(Buffer.from(tagB64, 'base64url'));
  const ciphertext = Buffer.from(ciphertextB64, 'base64url');
  return Buffer.concat([gcm.update(ciphertext), gcm.final()]).toString();
}

async function nestedGroup(kind) {
  const sigAlg = kind === 'rsa' ? 'RS256' : 'ES256';
  const sig = signingKey(sigAlg);
  const enc = encryptionKey(kind);
  const inner = mint(sig, claims(1, ISSUER));
  const token = await nest(inner, enc);
  const keyAlg = kind === 'rsa' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW';
  const tokengate = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: [sig.jwk],
    decryption: { keys: [enc.privateJwk] },
    tokenCache: false,
  });
  const joseDecryptKey = await importJWK(enc.privateJwk, keyAlg);
  const joseVerifyKey = await importJWK(sig.jwk, sigAlg);
  const joseOptions = { issuer: ISSUER, audience: AUDIENCE, algorithms: [sigAlg] };
  const label = `${keyAlg} + ${sigAlg}`;
  const rows = [];
  if (kind === 'rsa') {
    const encryptedKey = Buffer.from(token.split('.')[1], 'base64url');
    const floor = floorRow('RS256', sig, inner);
    const oaep = {
      key: enc.privateKey,
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: 'sha256',
    };
    rows.push(
      row('floor-nested-rsa', `node:crypto RSA-OAEP-256 decrypt + RS256 verify (floor)`, {
        call: () => privateDecrypt(oaep, encryptedKey).length === 32 && floor.call(),
        token,
        bad: null,
        ref: true,
      }),
    );
  }
  if (kind === 'ec') {
    const floor = floorRow('ES256', sig, inner);
    rows.push(
      row('floor-nested-ec', `node:crypto ECDH-ES + Concat KDF + AES-KW + A256GCM + ES256 verify`, {
        call: (t) => ecdhOpen(t, enc.privateKey) === inner && floor.call(),
        token,
      }),
    );
  }
  rows.push(
    row(`jose-nested-${kind}`, `jose compactDecrypt + jwtVerify, ${label}`, {
      call: async (t) => {
        const { plaintext } = await compactDecrypt(t, joseDecryptKey, {
          keyManagementAlgorithms: [keyAlg],
        });
        return jwtVerify(Buffer.from(plaintext).toString(), joseVerifyKey, joseOptions);
      },
      async: true,
      token,
      ref: kind !== 'rsa',
    }),
    row(`tokengate-nested-${kind}`, `tokengate nested ${label}, uncached`, {
      call: (t) => tokengate.verify(t),
      async: true,
      token,
    }),
  );
  return { id: `nested-${kind}`, title: `Nested JWE: ${label}`, rows };
}

/**
 * The group's A/A row: its reference measured a second time as if it were another row. Its
 * per-round ratios to the reference would all be 1 on a quiet machine; their largest distance
 * from 1 is the group's noise, which the report prints beside every goal of the group.
 */
function withAaRow(group) {
  const reference = group.rows.find((r) => r.ref);
  if (!reference) return group.rows;
  const aa = {
    ...reference,
    id: `${reference.id}-aa`,
    label: `${reference.label.replace(/ \((floor|reference)\)$/, '')} (A/A: measured again)`,
    ref: false,
    aa: true,
  };
  return [...group.rows, aa];
}

async function measureGroup(group, { rounds, ms, warmMs, gcEach }) {
  group = { ...group, rows: withAaRow(group) };
  const failed = new Map();
  for (const r of group.rows) {
    try {
      await check(r);
      // Warm-up: let the JIT settle before the first timed round.
      if (r.async) await timeAsync(r.fn, warmMs);
      else timeSync(r.fn, warmMs);
    } catch (err) {
      failed.set(r, err.message);
    }
  }
  const samples = new Map(group.rows.map((r) => [r, []]));
  const live = group.rows.filter((r) => !failed.has(r));
  for (let round = 0; round < rounds; round++) {
    globalThis.gc?.();
    // Rotate the order, so no row always runs right after the same neighbour.
    for (let k = 0; k < live.length; k++) {
      const r = live[(k + round) % live.length];
      // A full GC of the cache rows' heap takes ~100 ms: a smoke run does one per round.
      if (gcEach) globalThis.gc?.();
      samples.get(r).push(r.async ? await timeAsync(r.fn, ms) : timeSync(r.fn, ms));
    }
  }
  const reference = group.rows.find((r) => r.ref);
  return group.rows.map((r) => {
    const s = samples.get(r);
    return {
      id: r.id,
      label: r.label,
      group: group.id,
      groupTitle: group.title,
      unit: 'ops/s',
      failed: failed.get(r),
      samples: s,
      median: s.length ? median(s) : undefined,
      spread: s.length ? spread(s) : undefined,
      ref: reference && reference !== r ? reference.id : undefined,
      // The reference measured twice: the group's noise (report.js `noiseOf`).
      aa: r.aa,
    };
  });
}

/**
 * The micro rows: floors, uncached signatures, cached tokens, nested JWE. `only` keeps the groups
 * whose id starts with it; `timing` overrides the rounds and durations (`sig-micro.js`).
 */
export async function run({ quick, only, timing: given }) {
  const timing =
    given ??
    (quick
      ? { rounds: 3, ms: 40, warmMs: 20, gcEach: false }
      : { rounds: 5, ms: 400, warmMs: 250, gcEach: true });
  const builders = [
    ['sig-RS256', () => signatureGroup('RS256')],
    ['sig-ES256', () => signatureGroup('ES256')],
    ['sig-EdDSA', () => signatureGroup('EdDSA')],
    ['cached', () => cachedGroup(quick)],
    ['nested-rsa', () => nestedGroup('rsa')],
    ['nested-ec', () => nestedGroup('ec')],
    ['revocation', () => revocationGroup()],
  ];
  const rows = [];
  for (const [id, build] of builders) {
    if (only && !id.startsWith(only)) continue;
    const t0 = performance.now();
    const group = await build();
    const t1 = performance.now();
    rows.push(...(await measureGroup(group, timing)));
    await group.close?.();
    if (process.env.BENCH_DEBUG) {
      console.error(
        `${id}: setup ${(t1 - t0).toFixed(0)} ms, measured ${(performance.now() - t1).toFixed(0)} ms`,
      );
    }
  }
  return { rows };
}

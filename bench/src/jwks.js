import { createVerifier } from '@tokengate/core';
import { JwtVerifier } from 'aws-jwt-verify';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import buildGetJwks from 'get-jwks';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import jwksRsa from 'jwks-rsa';
import { randomBytes } from 'node:crypto';
import { startJwksServer } from './lib/jwks-server.js';
import { AUDIENCE, claims, mint, signingKey } from './lib/tokens.js';

const silent = { warn() {}, error() {}, info() {} };
const COOLDOWN = 30; // tokengate's default, in seconds
const CONCURRENCY = 100;

const segment = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A well-formed ES256 token naming a kid nobody published (its signature is never reached). */
function unknownKid(i, issuer) {
  const header = segment({ alg: 'ES256', typ: 'JWT', kid: `unknown-${i}` });
  return `${header}.${segment(claims(i, issuer))}.${randomBytes(64).toString('base64url')}`;
}

/** Verifiers that fetch keys from the JWKS URL themselves, each built fresh (cold). */
const PEERS = {
  tokengate: ({ issuer, jwksUri }) => {
    const verifier = createVerifier({ issuer, audience: AUDIENCE, jwksUri, logger: silent });
    return (token) => verifier.verify(token);
  },
  'jose createRemoteJWKSet': ({ issuer, jwksUri }) => {
    const keys = createRemoteJWKSet(new URL(jwksUri));
    return (token) => jwtVerify(token, keys, { issuer, audience: AUDIENCE });
  },
  'jwks-rsa (+ jsonwebtoken)': ({ issuer, jwksUri }) => {
    const client = jwksRsa({ jwksUri, cache: true, rateLimit: true, jwksRequestsPerMinute: 10 });
    const options = { issuer, audience: AUDIENCE, algorithms: ['ES256'] };
    return async (token) => {
      const key = await client.getSigningKey(decodeProtectedHeader(token).kid);
      return jsonwebtoken.verify(token, key.getPublicKey(), options);
    };
  },
  'get-jwks (+ jsonwebtoken)': ({ issuer }) => {
    const getJwks = buildGetJwks({ issuersWhitelist: [issuer] });
    const options = { issuer, audience: AUDIENCE, algorithms: ['ES256'] };
    return async (token) => {
      const { kid, alg } = decodeProtectedHeader(token);
      const pem = await getJwks.getPublicKey({ kid, alg, domain: issuer });
      return jsonwebtoken.verify(token, pem, options);
    };
  },
  'aws-jwt-verify': ({ issuer, jwksUri }) => {
    // Its own fetcher speaks https: only; this one is the same over plain loopback http.
    const fetcher = { fetch: async (uri) => (await fetch(uri)).arrayBuffer() };
    const verifier = JwtVerifier.create(
      { issuer, audience: AUDIENCE, jwksUri },
      { jwksCache: new SimpleJwksCache({ fetcher }) },
    );
    return (token) => verifier.verify(token);
  },
};

const STALL_MS = 2_000;

/**
 * Verifies `tokens`, `concurrency` at a time; counts the outcomes. A verification still pending
 * after STALL_MS counts as stalled and ends the run (jwks-rsa queues requests over its rate
 * limit for up to a minute): the durations stay bounded.
 */
async function verifyAll(verify, tokens, concurrency = CONCURRENCY) {
  let ok = 0;
  let stalled = 0;
  let tried = 0;
  const stall = Symbol('stalled');
  for (let i = 0; i < tokens.length && stalled === 0; i += concurrency) {
    let timer;
    const deadline = new Promise((resolve) => {
      timer = setTimeout(() => resolve(stall), STALL_MS);
    });
    const batch = tokens
      .slice(i, i + concurrency)
      .map((t) => Promise.race([Promise.resolve().then(() => verify(t)), deadline]));
    for (const outcome of await Promise.allSettled(batch)) {
      if (outcome.status === 'rejected') continue;
      if (outcome.value === stall) stalled++;
      else ok++;
    }
    clearTimeout(timer);
    tried += batch.length;
  }
  return { ok, stalled, tried };
}

/**
 * Cold start and unknown-kid flood for tokengate and each peer, in real time. Some peers are
 * slow here (get-jwks converts the JWK to PEM with bn.js on every call), so `--quick` gives
 * them smaller counts; tokengate always gets the full ones.
 */
async function sideBySide(server, key, quick) {
  const full = { cold: 1_000, unknown: 10_000 };
  const small = quick ? { cold: 100, unknown: 1_000 } : full;
  const cold = Array.from({ length: full.cold }, (_, i) => mint(key, claims(i, server.issuer)));
  const unknown = Array.from({ length: full.unknown }, (_, i) => unknownKid(i, server.issuer));
  const rows = [];
  for (const [name, build] of Object.entries(PEERS)) {
    const counts = name === 'tokengate' ? full : small;
    const verify = build(server);
    server.resetCount();
    const coldRun = await verifyAll(verify, cold.slice(0, counts.cold), counts.cold);
    const coldRequests = server.requests;
    server.resetCount();
    const started = performance.now();
    const flood = await verifyAll(verify, unknown.slice(0, counts.unknown));
    rows.push({
      name,
      coldCount: counts.cold,
      coldAccepted: coldRun.ok,
      coldStalled: coldRun.stalled,
      coldRequests,
      unknownCount: counts.unknown,
      unknownTried: flood.tried,
      unknownAccepted: flood.ok,
      unknownStalled: flood.stalled,
      unknownRequests: server.requests,
      unknownSeconds: (performance.now() - started) / 1000,
    });
  }
  return { rows };
}

/**
 * tokengate on a simulated clock: `count` unknown kids spread over five cooldowns, a valid token
 * in every batch (none may be refused), then a key rotation: how long until its tokens pass.
 */
async function overCooldowns(server, key, count) {
  let now = Math.floor(Date.now() / 1000);
  const start = now;
  const verifier = createVerifier({
    issuer: server.issuer,
    audience: AUDIENCE,
    jwksUri: server.jwksUri,
    tokenCache: false,
    now: () => now,
    logger: silent,
  });
  await verifier.ready();
  server.resetCount();
  const span = 5 * COOLDOWN;
  const valid = mint(key, claims(0, server.issuer, { now }));
  let validRefused = 0;
  for (let i = 0; i < count; i += CONCURRENCY) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + CONCURRENCY); j++) {
      batch.push(verifier.verify(unknownKid(j, server.issuer)).catch(() => undefined));
    }
    batch.push(verifier.verify(valid).catch(() => (validRefused++, undefined)));
    await Promise.all(batch);
    now = start + Math.floor(((i + CONCURRENCY) * span) / count);
  }
  const stormRequests = server.requests;
  const stormDownloads = server.downloads;
  const allowed = Math.floor((now - start) / COOLDOWN) + 1;
  // Rotation right after a forced refresh (the worst moment): how long until the new key's
  // tokens pass. Bounded by the cooldown; issuers that pre-publish keys never hit this.
  now += COOLDOWN;
  await verifier.verify(unknownKid(-1, server.issuer)).catch(() => undefined);
  const forcedAt = now;
  const next = signingKey('ES256', 'es256-2');
  server.setKeys([key.jwk, next.jwk]);
  const rotated = mint(next, claims(1, server.issuer, { now }));
  let acceptedAfter;
  for (let waited = 1; waited <= 2 * COOLDOWN; waited++) {
    now = forcedAt + waited;
    try {
      await verifier.verify(rotated);
      acceptedAfter = waited;
      break;
    } catch {
      // refused while cooling down; try again a simulated second later
    }
  }
  server.setKeys([key.jwk]);
  return {
    count,
    cooldown: COOLDOWN,
    stormRequests,
    stormDownloads,
    allowed,
    validRefused,
    validTried: Math.ceil(count / CONCURRENCY),
    rotationAcceptedAfter: acceptedAfter,
    stormSpan: span,
  };
}

/** The JWKS-under-load rows. */
export async function run({ quick }) {
  const key = signingKey('ES256');
  const server = await startJwksServer([key.jwk], { maxAge: 3600 });
  try {
    const peers = await sideBySide(server, key, quick);
    const simulated = await overCooldowns(server, key, 10_000);
    return { peers, simulated };
  } finally {
    await server.close();
  }
}

import { createVerifier } from '@tokengate/core';
import { AUDIENCE, claims, hmacTokens, mint, signingKey } from './lib/tokens.js';

const ISSUER = 'https://issuer.bench.example/';
// tokengate's documented defaults (packages/core/src/config/options.ts): the bound this row checks.
export const DEFAULT_CACHE_MAX = 100_000;
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

function heapAfterGc() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Feeds `count` distinct valid tokens through one verifier with the default token cache, then
 * reads the heap after a full GC: what the cache holds is all that grew.
 */
export async function run({ quick }) {
  if (typeof globalThis.gc !== 'function') throw new Error('the memory row needs --expose-gc');
  const count = quick ? 50_000 : 1_000_000;
  const hs = signingKey('HS256');
  // As long as an RS256 access token, so the entry size is that of a real one.
  const rsLength = mint(signingKey('RS256'), claims(0, ISSUER)).length;
  const [probe] = hmacTokens(hs, ISSUER, 1, rsLength);
  const pad = JSON.parse(Buffer.from(probe.split('.')[1], 'base64url')).pad;
  const now = Math.floor(Date.now() / 1000);
  const before = heapAfterGc();
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: [hs.jwk],
    algorithms: ['HS256'],
  });
  const started = performance.now();
  let first;
  let last;
  for (let i = 0; i < count; i++) {
    last = mint(hs, claims(i, ISSUER, { now, pad }));
    first ??= last;
    await verifier.verify(last);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = heapAfterGc();
  const entries = Math.min(count, DEFAULT_CACHE_MAX);
  const growth = after - before;
  return {
    count,
    entries,
    tokenLength: last.length,
    seconds,
    heapGrowth: growth,
    bytesPerEntry: growth / entries,
    // The cache's own size estimate per entry (token/cache.ts): maxBytes is counted in these.
    estimatePerEntry: last.length * 3 + 512,
    bound: DEFAULT_CACHE_BYTES,
    firstStillCached: verifier.cached(first) !== undefined,
    lastCached: verifier.cached(last) !== undefined,
  };
}

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isVerificationError } from '../../src/errors.js';
import { createLocalKeySet } from '../../src/keys/local.js';
import { hasRocaFingerprint } from '../../src/keys/roca.js';
import { verifyJwsSignature } from '../../src/token/signature.js';
import { parseToken } from '../../src/token/compact.js';
import { VECTORS_DIR, createTally, loadWycheproof } from './load.js';
import type { VectorJwk } from './load.js';

// Wycheproof json_web_key_test.json through the key-set layer: the group's JWK Set becomes a
// static key set (createLocalKeySet), the token picks keys by kid / alg, and the fast path checks
// the signature.

const cases = loadWycheproof<{ keys: VectorJwk[] }>('json_web_key_test.json');
const byId = new Map(cases.map((c) => [c.tcId, c]));

/** Where the key-set layer stopped. `set_refused` is a TypeError at construction. */
type Outcome = 'accepted' | 'set_refused' | 'token_malformed' | 'kid_unknown' | 'signature_invalid';

async function viaKeySet(token: string, jwks: { keys: VectorJwk[] }): Promise<Outcome> {
  let set;
  try {
    // Symmetric keys are allowed only when the set holds some: as createVerifier does for
    // static keys with an HS* allow-list.
    set = createLocalKeySet(jwks, { allowSymmetric: jwks.keys.some((k) => k.kty === 'oct') });
  } catch (err) {
    if (err instanceof TypeError) return 'set_refused';
    throw err;
  }
  let parsed;
  try {
    parsed = parseToken(token, 16 * 1024, {});
  } catch (err) {
    if (isVerificationError(err)) return 'token_malformed';
    throw err;
  }
  if (parsed.kind !== 'jws') return 'token_malformed';
  let keys;
  try {
    keys = await set.getKeys({ kid: parsed.header.kid, alg: parsed.header.alg });
  } catch (err) {
    if (isVerificationError(err) && err.code === 'kid_unknown') return 'kid_unknown';
    throw err;
  }
  const ok = keys.some((k) => verifyJwsSignature(parsed.header.alg, k, parsed));
  return ok ? 'accepted' : 'signature_invalid';
}

/**
 * Deliberate departures from the file's `result`, each with its reason. None: tcIds 1, 4 and 7
 * (mixed set, duplicate kid, ROCA key) were accepted at first and are now refused by core.
 */
const DEPARTURES: Record<number, { outcome: Outcome; reason: string }> = {};

/**
 * The layer each invalid key set must be refused at, by what is wrong with it: a bad key in a
 * static set is a configuration mistake (TypeError at construction), not a per-token failure.
 */
const REFUSED_AT: { name: string; tcIds: number[]; outcome: Outcome }[] = [
  { name: 'secret and public keys in one set', tcIds: [1], outcome: 'set_refused' },
  { name: 'two keys with one kid', tcIds: [4], outcome: 'set_refused' },
  { name: 'RSA key for encryption (use enc, alg RSA1_5)', tcIds: [6], outcome: 'set_refused' },
  { name: 'ROCA-fingerprinted RSA modulus', tcIds: [7], outcome: 'set_refused' },
  { name: 'RSA 1024 bits, RSA e = 1', tcIds: [8, 9], outcome: 'set_refused' },
  { name: 'empty HMAC keys', tcIds: [16, 17, 18], outcome: 'set_refused' },
  {
    name: 'JWK alg / curve / kty / use / point that cannot verify ES256',
    tcIds: [19, 20, 21, 22, 23, 24],
    outcome: 'set_refused',
  },
  { name: 'AES keys (alg A256GCM, A256KW) used for HMAC', tcIds: [25, 26], outcome: 'set_refused' },
];

const tally = createTally('wycheproof JWK');
afterAll(() => console.log(tally.line()));

describe('wycheproof json_web_key_test.json', () => {
  it.each(cases)('tcId $tcId $comment ($result)', async (c) => {
    expect(typeof c.jws).toBe('string');
    const outcome = await viaKeySet(c.jws!, c.key);
    const departure = DEPARTURES[c.tcId];
    if (departure) {
      tally.record(c.tcId, outcome === departure.outcome ? 'departure' : 'unexplained', outcome);
      expect(outcome, departure.reason).toBe(departure.outcome);
    } else {
      const expected = c.result === 'valid' ? 'accepted' : 'rejected';
      const got = outcome === 'accepted' ? 'accepted' : 'rejected';
      tally.record(c.tcId, got === expected ? 'passed' : 'unexplained', outcome);
      expect(got, `outcome ${outcome}`).toBe(expected);
    }
  });

  it.each(REFUSED_AT)('refuses $name at the right layer', async ({ tcIds, outcome }) => {
    for (const id of tcIds) {
      const c = byId.get(id)!;
      expect(c.result, `tcId ${id}`).toBe('invalid');
      expect(await viaKeySet(c.jws!, c.key), `tcId ${id}`).toBe(outcome);
    }
  });

  it('flags the ROCA modulus of tcId 7 and no other RSA modulus in the vectors', () => {
    const moduli = new Set<string>();
    const collect = (value: unknown): void => {
      if (typeof value !== 'object' || value === null) return;
      const o = value as Record<string, unknown>;
      if (o.kty === 'RSA' && typeof o.n === 'string') moduli.add(o.n);
      Object.values(o).forEach(collect);
    };
    for (const file of readdirSync(VECTORS_DIR, { recursive: true, encoding: 'utf8' })) {
      if (file.endsWith('.json'))
        collect(JSON.parse(readFileSync(join(VECTORS_DIR, file), 'utf8')));
    }
    const roca = (byId.get(7)!.key.keys[0] as { n: string }).n;
    const flagged = [...moduli].filter((n) => hasRocaFingerprint(Buffer.from(n, 'base64url')));
    expect(moduli.size).toBeGreaterThan(10);
    expect(flagged).toEqual([roca]);
  });

  it('has no unexplained case', () => {
    expect(tally.size).toBe(cases.length);
    expect(tally.unexplained()).toEqual([]);
  });
});

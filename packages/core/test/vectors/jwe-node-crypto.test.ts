import { afterAll, describe, expect, it } from 'vitest';
import { viaDecryptionLayer } from './layers.js';
import { loadWycheproof, readVector } from './load.js';
import type { VectorJwk } from './load.js';

// Every Wycheproof JWE case and RFC 7520 compact JWE example through the decryption layer twice:
// node:crypto first (jose for what it does not cover), and jose alone, the reference. They must
// agree case by case, on the plaintext or on the error code. Each case also records which engine
// decided it, so the node:crypto path is proven to open what it claims (a differential where jose
// does everything would prove nothing).

type Route = 'before key use' | 'node:crypto' | 'jose';

const routes = new Map<Route, number>();
afterAll(() =>
  console.log(`JWE node:crypto vs jose: ${JSON.stringify(Object.fromEntries(routes))}`),
);

/** Both engines on one token; they must agree. Returns which engine decided it in the default one. */
async function differential(token: string, jwk: VectorJwk): Promise<Route> {
  const engines: string[] = [];
  const ours = await viaDecryptionLayer(token, jwk, { onAttempt: (e) => engines.push(e) });
  const reference = await viaDecryptionLayer(token, jwk, { nodeCrypto: false });
  expect(ours).toEqual(reference);
  expect(engines.length).toBeLessThanOrEqual(1); // one key: one attempt at most
  const route: Route = (engines[0] as Route | undefined) ?? 'before key use';
  routes.set(route, (routes.get(route) ?? 0) + 1);
  return route;
}
/**
 * Wycheproof cases that reach the key step but stay with jose, and why: jose calls them
 * malformed (`token_malformed`), and the node:crypto path leaves every malformed verdict to jose.
 */
const LEFT_TO_JOSE: Record<number, string> = {
  8: 'no authentication tag',
  37: 'no authentication tag',
  14: 'no IV',
  43: 'no IV',
  25: 'GCM tag shorter than 128 bits',
  26: 'GCM tag shorter than 128 bits',
  27: 'GCM tag shorter than 128 bits',
  63: 'GCM tag shorter than 128 bits',
  64: 'GCM tag shorter than 128 bits',
  65: 'GCM tag shorter than 128 bits',
};

describe('Wycheproof JWE: node:crypto and jose agree case by case', () => {
  const cases = loadWycheproof('json_web_encryption_test.json', { key: 'decrypt' });
  const routeById = new Map<number, Route>();
  it.each(cases)('tcId $tcId $comment ($result)', async (c) => {
    const route = await differential(c.jwe!, c.key);
    routeById.set(c.tcId, route);
    if (route !== 'before key use') {
      expect(route).toBe(LEFT_TO_JOSE[c.tcId] === undefined ? 'node:crypto' : 'jose');
    }
  });

  it('left to jose exactly the cases listed', () => {
    const leftToJose = [...routeById].filter(([, r]) => r === 'jose').map(([id]) => id);
    expect(leftToJose.sort((a, b) => a - b)).toEqual(Object.keys(LEFT_TO_JOSE).map(Number));
  });

  it('refuses the invalid-curve point in node:crypto', async () => {
    const c = cases.find((t) => t.comment === 'rejectsInvalidCurvePoint')!;
    expect(await differential(c.jwe!, c.key)).toBe('node:crypto');
    expect(await viaDecryptionLayer(c.jwe!, c.key)).toEqual({ code: 'decryption_failed' });
  });
});

interface JweExample {
  input: { plaintext: string; key?: VectorJwk; alg: string };
  output: { compact: string };
}

describe('RFC 7520 compact JWE: node:crypto and jose agree', () => {
  const files = [
    'jwe/5_2.key_encryption_using_rsa-oaep_with_aes-gcm.json',
    'jwe/5_4.key_agreement_with_key_wrapping_using_ecdh-es_and_aes-keywrap_with_aes-gcm.json',
    'jwe/5_5.key_agreement_using_ecdh-es_with_aes-cbc-hmac-sha2.json',
    'jwe/5_6.direct_encryption_using_aes-gcm.json',
    'jwe/5_7.key_wrap_using_aes-gcm_keywrap_with_aes-cbc-hmac-sha2.json',
    'jwe/5_8.key_wrap_using_aes-keywrap_with_aes-gcm.json',
    'curve25519/ecdh-es.json',
  ];
  it.each(files)('%s is opened by node:crypto, as by jose', async (file) => {
    const example = readVector<JweExample>(`rfc7520/${file}`);
    const token = example.output.compact;
    expect(await differential(token, example.input.key!)).toBe('node:crypto');
    expect(await viaDecryptionLayer(token, example.input.key!)).toEqual({
      plaintext: Buffer.from(example.input.plaintext).toString('hex'),
    });
  });

  it.each(files)('%s with each segment altered is refused alike', async (file) => {
    const example = readVector<JweExample>(`rfc7520/${file}`);
    const parts = example.output.compact.split('.');
    for (let i = 0; i < 5; i++) {
      if (parts[i] === '') continue;
      const bytes = Buffer.from(parts[i]!, 'base64url');
      bytes[bytes.length >> 1]! ^= 0x40;
      const altered = parts.map((p, j) => (j === i ? bytes.toString('base64url') : p)).join('.');
      const outcome = await viaDecryptionLayer(altered, example.input.key!);
      expect(outcome, `segment ${i}`).toHaveProperty('code');
      await differential(altered, example.input.key!);
    }
  });
});

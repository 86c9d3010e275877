// Keys published with their private part are never trusted (issue 13, item 4), and `key_ops`
// must be an array of distinct strings (RFC 7517 §4.3): remote sets, discovery, static keys.
import { generateKeyPairSync } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { importJWK } from 'jose';
import type { CryptoKey } from 'jose';
import { describe, expect, it } from 'vitest';
import { KeyRejected, importVerificationKey } from '../../src/keys/jwk.js';
import { createVerifier } from '../../src/verifier.js';
import type { VerifierOptions } from '../../src/config/options.js';
import { createClock } from '@tokengate/test-fixtures/clock';
import { signing } from '@tokengate/test-fixtures/keys';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import { AUDIENCE, claims, signWith } from '@tokengate/test-fixtures/tokens';
import { harness, serve } from './harness.js';

const { es256 } = signing;
const es = { kid: es256.kid, alg: 'ES256' };

/** A key pair's private JWK, as an issuer that leaks it would publish it. */
function leaked(kind: 'rsa' | 'ec' | 'ed25519', kid: string, alg: string): JsonWebKey {
  const { privateKey } =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : kind === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

const leakedRsa = leaked('rsa', 'leaked-rsa', 'RS256');
const leakedEc = leaked('ec', 'leaked-ec', 'ES256');
const leakedEd = leaked('ed25519', 'leaked-ed', 'EdDSA');
/** An RSA-OAEP private key published as an encryption key: a leak all the same. */
const leakedEnc = { ...leaked('rsa', 'leaked-enc', 'RSA-OAEP-256'), use: 'enc' };
/** A public EC key with one stray private member. */
const strayQi = { ...es256.publicJwk, kid: 'stray-qi', qi: 'AAAA' };
const hmac = { kty: 'oct', kid: 'hmac', k: 'a'.repeat(43), alg: 'HS256' };

const PRIVATE_D = 'private key material ("d")';
const published = {
  keys: [leakedRsa, leakedEc, leakedEd, leakedEnc, strayQi, hmac, es256.publicJwk],
};
const expectedSkips = [
  { kid: 'leaked-rsa', reason: PRIVATE_D },
  { kid: 'leaked-ec', reason: PRIVATE_D },
  { kid: 'leaked-ed', reason: PRIVATE_D },
  { kid: 'leaked-enc', reason: PRIVATE_D },
  { kid: 'stray-qi', reason: 'private key material ("qi")' },
  { kid: 'hmac', reason: 'symmetric key (a shared secret)' },
];

/** A token signed with a leaked key's private half, naming its kid. */
async function tokenSignedWith(jwk: JsonWebKey, issuer: string): Promise<string> {
  const key = await importJWK(jwk as Parameters<typeof importJWK>[0], jwk.alg as string);
  return signWith(claims({ iss: issuer }), key as CryptoKey, {
    alg: jwk.alg as string,
    kid: jwk.kid as string,
  });
}

describe('a key set that publishes private or secret keys', () => {
  it('skips each one, logs it once per set version (jwks_key_skipped), keeps the public keys', async () => {
    const h = await harness(published, { server: { etag: false } });
    expect((await h.jwks.getKey(es)).kid).toBe(es256.kid);
    for (const { kid } of expectedSkips) {
      const alg = kid === 'leaked-ed' ? 'EdDSA' : kid === 'leaked-rsa' ? 'RS256' : 'ES256';
      await expect(h.jwks.getKeys({ kid, alg })).rejects.toMatchObject({ code: 'kid_unknown' });
    }
    expect(h.jwks.status().keys).toEqual([es256.kid]);
    const records = () => h.logger.at('error').map((e) => e.obj);
    expect(records()).toEqual(
      expectedSkips.map((skip) => ({ event: 'jwks_key_skipped', uri: h.server.url, ...skip })),
    );
    expect(h.logger.at('warn')).toEqual([]);

    // Same bytes again (no ETag, so a 200): not imported, not logged again.
    h.clock.advance(300);
    await h.jwks.getKey(es);
    await h.events.settle(3);
    expect(records()).toHaveLength(expectedSkips.length);

    // A new version of the set is read, and reported, again.
    h.server.setJwks({ keys: [leakedEc, es256.publicJwk] });
    h.clock.advance(300);
    await h.jwks.getKey(es);
    await h.events.settle(4);
    expect(records().slice(expectedSkips.length)).toEqual([
      { event: 'jwks_key_skipped', uri: h.server.url, kid: 'leaked-ec', reason: PRIVATE_D },
    ]);
  });

  it('a set holding only private keys has no usable key (jwks_unavailable)', async () => {
    const h = await harness({ keys: [leakedEc] });
    await expect(h.jwks.getKeys({ kid: 'leaked-ec', alg: 'ES256' })).rejects.toMatchObject({
      code: 'jwks_unavailable',
    });
  });

  const sources: { name: string; options: (issuer: string, url: string) => VerifierOptions }[] = [
    {
      name: 'jwksUri',
      options: (issuer, url) => ({ issuer, jwksUri: url, jwks: { shared: false } }),
    },
    {
      name: 'discovery',
      options: (issuer) => ({ issuer, discovery: true, jwks: { shared: false } }),
    },
  ];
  describe.each(sources)('through $name', ({ options }) => {
    it.each([
      ['RSA', leakedRsa],
      ['EC', leakedEc],
      ['Ed25519', leakedEd],
    ])('a token signed with the leaked %s key is kid_unknown', async (_name, jwk) => {
      const server = await serve(published);
      const logger = createCapturingLogger();
      const verifier = createVerifier({
        ...options(server.issuer, server.url),
        audience: AUDIENCE,
        algorithms: ['RS256', 'ES256', 'EdDSA'],
        now: createClock().now,
        logger,
      });
      const token = await tokenSignedWith(jwk, server.issuer);
      await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'kid_unknown' });
      const skipped = logger.at('error').filter((e) => e.obj.event === 'jwks_key_skipped');
      expect(skipped.map((e) => e.obj.kid)).toEqual(expectedSkips.map((s) => s.kid));
    });
  });
});

describe('static keys with private parts are a start-up TypeError', () => {
  const base = { issuer: 'https://issuer.test/', audience: AUDIENCE };
  it.each([
    ['an RSA private key', leakedRsa, /"keys\[0\]" holds private key material \("d"\)/],
    ['an EC private key', leakedEc, /"keys\[0\]" holds private key material \("d"\)/],
    ['an Ed25519 private key', leakedEd, /"keys\[0\]" holds private key material \("d"\)/],
    ['a public key with a stray "qi"', strayQi, /holds private key material \("qi"\)/],
  ])('%s', (_name, jwk, message) => {
    expect(() => createVerifier({ ...base, keys: [jwk] })).toThrow(TypeError);
    expect(() => createVerifier({ ...base, keys: [jwk] })).toThrow(message);
  });

  it('an HMAC secret is still accepted where HS* is allowed (its "k" is the point)', () => {
    expect(() => createVerifier({ ...base, keys: [hmac], algorithms: ['HS256'] })).not.toThrow();
  });

  it('importVerificationKey refuses a private key rather than keep its public half', () => {
    expect(() => importVerificationKey(leakedEc)).toThrow(KeyRejected);
    expect(() => importVerificationKey(leakedEc)).toThrow(PRIVATE_D);
  });
});

describe('key_ops (RFC 7517 §4.3): an array of distinct strings', () => {
  const cases: { name: string; keyOps: unknown; reason: string | undefined }[] = [
    { name: '["verify"]', keyOps: ['verify'], reason: undefined },
    { name: '["sign", "verify"]', keyOps: ['sign', 'verify'], reason: undefined },
    { name: '["verify", "verify"]', keyOps: ['verify', 'verify'], reason: 'repeats a value' },
    {
      name: '["verify", "sign", "verify"]',
      keyOps: ['verify', 'sign', 'verify'],
      reason: 'repeats a value',
    },
    { name: '["verify", 1]', keyOps: ['verify', 1], reason: 'is not an array of strings' },
    { name: '["verify", null]', keyOps: ['verify', null], reason: 'is not an array of strings' },
    {
      name: '["verify", ["verify"]]',
      keyOps: ['verify', ['verify']],
      reason: 'is not an array of strings',
    },
    { name: '"verify" (a string)', keyOps: 'verify', reason: 'is not an array of strings' },
  ];

  it.each(cases)('$name', ({ keyOps, reason }) => {
    const jwk = { ...es256.publicJwk, key_ops: keyOps };
    if (reason === undefined) {
      expect(importVerificationKey(jwk).kid).toBe(es256.kid);
    } else {
      expect(() => importVerificationKey(jwk)).toThrow(`"key_ops" ${reason}`);
    }
  });

  it('a remote key with a repeated operation is skipped and logged', async () => {
    const h = await harness({
      keys: [{ ...es256.publicJwk, kid: 'twice', key_ops: ['verify', 'verify'] }, es256.publicJwk],
    });
    await expect(h.jwks.getKeys({ kid: 'twice', alg: 'ES256' })).rejects.toMatchObject({
      code: 'kid_unknown',
    });
    expect(h.logger.at('warn').map((e) => e.obj.keys)).toEqual([
      [{ kid: 'twice', reason: '"key_ops" repeats a value' }],
    ]);
  });

  it('a static key with a repeated operation is a start-up TypeError', () => {
    const keys = [{ ...es256.publicJwk, key_ops: ['verify', 'verify'] }];
    expect(() => createVerifier({ issuer: 'https://i.test/', audience: AUDIENCE, keys })).toThrow(
      new TypeError('"keys[0]" cannot verify signatures: "key_ops" repeats a value'),
    );
  });
});

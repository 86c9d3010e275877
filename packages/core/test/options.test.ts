import { describe, expect, it } from 'vitest';
import { createVerifier } from '../src/index.js';
import type { VerifierOptions } from '../src/index.js';
import { AUDIENCE, ISSUER, generateTestKeys } from './helpers/keys.js';

const keys = await generateTestKeys();
const valid: VerifierOptions = {
  issuer: ISSUER,
  audience: AUDIENCE,
  keys: [keys.rs256.publicJwk],
};

describe('createVerifier refuses configuration mistakes at construction', () => {
  const cases: { name: string; options: Record<string, unknown>; message: RegExp }[] = [
    { name: 'no issuer', options: { issuer: undefined }, message: /"issuer"/ },
    { name: 'empty issuer list', options: { issuer: [] }, message: /"issuer"/ },
    { name: 'no audience', options: { audience: undefined }, message: /"audience"/ },
    { name: 'audience of the wrong type', options: { audience: 7 }, message: /"audience"/ },
    { name: 'no key source', options: { keys: undefined }, message: /one of "jwksUri"/ },
    {
      name: 'two key sources',
      options: { jwksUri: 'https://issuer.example.com/jwks' },
      message: /only one of/,
    },
    {
      name: 'symmetric alg with remote keys',
      options: { keys: undefined, jwksUri: 'https://i.example/jwks', algorithms: ['HS256'] },
      message: /symmetric/,
    },
    {
      name: 'unknown JWS alg',
      options: { algorithms: ['none'] },
      message: /unsupported algorithm "none"/,
    },
    {
      name: 'RSA1_5 for JWE',
      options: {
        decryption: { keys: [keys.rsaOaep.privateJwk], keyManagementAlgorithms: ['RSA1_5'] },
      },
      message: /RSA1_5/,
    },
    {
      name: 'PBES2 for JWE',
      options: {
        decryption: {
          keys: [keys.rsaOaep.privateJwk],
          keyManagementAlgorithms: ['PBES2-HS256+A128KW'],
        },
      },
      message: /PBES2/,
    },
    {
      name: 'a public key given for decryption',
      options: { decryption: { keys: [keys.rsaOaep.publicJwk] } },
      message: /private keys/,
    },
    {
      name: 'a signing key given for decryption',
      options: { decryption: { keys: [keys.rs256.privateJwk] } },
      message: /signing keys/,
    },
    {
      name: 'several decryption keys without kid',
      options: {
        decryption: {
          keys: [
            { ...keys.rsaOaep.privateJwk, kid: undefined },
            { ...keys.ecdh.privateJwk, kid: undefined },
          ],
        },
      },
      message: /"kid"/,
    },
    {
      name: 'requireEncryption without keys',
      options: { requireEncryption: true },
      message: /requireEncryption/,
    },
    { name: 'a bad duration', options: { clockTolerance: 'soon' }, message: /"clockTolerance"/ },
    { name: 'a negative duration', options: { maxTokenAge: -1 }, message: /"maxTokenAge"/ },
    { name: 'a zero cache size', options: { tokenCache: { max: 0 } }, message: /tokenCache.max/ },
    // null is a mistake, never "use the default" (a config loader's missing value).
    { name: 'now: null', options: { now: null }, message: /"now" must not be null/ },
    {
      name: 'clockTolerance: null',
      options: { clockTolerance: null },
      message: /"clockTolerance" must not be null/,
    },
    {
      name: 'maxTokenLength: null',
      options: { maxTokenLength: null },
      message: /"maxTokenLength" must not be null/,
    },
    { name: 'maxTokenAge: null', options: { maxTokenAge: null }, message: /"maxTokenAge"/ },
    {
      name: 'tokenCache.max: null',
      options: { tokenCache: { max: null } },
      message: /"tokenCache.max" must not be null/,
    },
    {
      name: 'tokenCache.maxBytes: null',
      options: { tokenCache: { maxBytes: null } },
      message: /"tokenCache.maxBytes" must not be null/,
    },
    {
      name: 'issuerCache.max: null',
      options: { issuer: undefined, issuers: () => undefined, issuerCache: { max: null } },
      message: /"issuerCache.max" must not be null/,
    },
    {
      name: 'issuerCache.ttl: null',
      options: { issuer: undefined, issuers: () => undefined, issuerCache: { ttl: null } },
      message: /"issuerCache.ttl" must not be null/,
    },
    {
      name: 'jwks.timeout: null',
      options: { keys: undefined, jwksUri: 'https://i.example/jwks', jwks: { timeout: null } },
      message: /"timeout"/,
    },
    {
      name: 'jwks.store with acquire but no release (a fleet lock needs both)',
      options: {
        keys: undefined,
        jwksUri: 'https://i.example/jwks',
        jwks: { shared: false, store: { get() {}, set() {}, acquire: async () => 'token' } },
      },
      message: /"store" coordinates a fleet only with both acquire\(key, ttlMs\) and release/,
    },
    {
      name: 'decryption.maxDecompressedBytes: null',
      options: { decryption: { keys: [keys.rsaOaep.privateJwk], maxDecompressedBytes: null } },
      message: /maxDecompressedBytes/,
    },
    {
      name: 'a static key that may not verify (use enc)',
      options: { keys: [keys.rsaOaep.publicJwk] },
      message: /keys\[0\]/,
    },
    {
      name: 'discovery with two issuers',
      options: { keys: undefined, discovery: true, issuer: ['a', 'b'] },
      message: /discovery/,
    },
  ];
  it.each(cases)('$name', ({ options, message }) => {
    expect(() => createVerifier({ ...valid, ...options } as VerifierOptions)).toThrow(TypeError);
    expect(() => createVerifier({ ...valid, ...options } as VerifierOptions)).toThrow(message);
  });

  it('accepts the valid baseline', () => {
    expect(() => createVerifier(valid)).not.toThrow();
  });
});

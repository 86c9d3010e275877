// Issue 12: a mistyped option name must fail construction, never silently switch a check off.
import { describe, expect, it } from 'vitest';
import { createGate, createVerifier } from '../src/index.js';
import type { IssuerPolicy, VerifierOptions } from '../src/index.js';
import { OPTION_NAMES, closestName, editDistance } from '../src/config/option-names.js';
import { AUDIENCE, ISSUER, NOW, generateTestKeys, sign, validClaims } from './helpers/keys.js';

const keys = await generateTestKeys();
const base = { issuer: ISSUER, audience: AUDIENCE, keys: [keys.es256.publicJwk] };
const remote = { issuer: ISSUER, audience: AUDIENCE, jwksUri: 'https://issuer.example.com/jwks' };
const io = { raw: () => ({ headers: {} }), facts: () => ({ method: 'GET', path: '/' }) };

/** Verifier options (each case's options are checked by createVerifier and by createGate). */
const VERIFIER_CASES: { name: string; options: object; message: RegExp }[] = [
  {
    name: 'a misspelt top-level name (requireEncrytion)',
    options: { ...base, requireEncrytion: true },
    message:
      /unknown option `requireEncrytion` at the top level: did you mean `requireEncryption`\?/,
  },
  {
    name: 'clockTolerence',
    options: { ...base, clockTolerence: 60 },
    message: /`clockTolerence` at the top level: did you mean `clockTolerance`\?/,
  },
  {
    name: 'jwks.maxStaleness',
    options: { ...remote, jwks: { maxStaleness: '1h' } },
    message: /unknown option `maxStaleness` in `jwks`: did you mean `maxStale`\?/,
  },
  {
    name: 'a top-level store (it belongs in jwks)',
    options: { ...remote, store: { get() {}, set() {} } },
    message: /unknown option `store` at the top level: it belongs in `jwks`: `jwks: \{ store \}`/,
  },
  {
    name: 'decryption.allowUnsigned (a prefix of the real name)',
    options: { ...base, decryption: { keys: [keys.rsaOaep.privateJwk], allowUnsigned: true } },
    message: /`allowUnsigned` in `decryption`: did you mean `allowUnsignedClaims`\?/,
  },
  {
    name: 'tokenCache.maxEntries',
    options: { ...base, tokenCache: { maxEntries: 10 } },
    message: /`maxEntries` in `tokenCache`: did you mean `max`\?/,
  },
  {
    name: 'issuerCache.tll (swapped letters)',
    options: {
      ...base,
      issuer: undefined,
      issuers: async () => undefined,
      issuerCache: { tll: 5 },
    },
    message: /`tll` in `issuerCache`: did you mean `ttl`\?/,
  },
  {
    name: 'a misspelt name in an issuers[] entry',
    options: {
      audience: AUDIENCE,
      issuers: [
        { issuer: ISSUER, keys: [keys.es256.publicJwk] },
        { issuer: 'https://b.example/', keys: [keys.rs256.publicJwk], audiance: 'x' },
      ],
    },
    message: /`audiance` in `issuers\[1\]`: did you mean `audience`\?/,
  },
  {
    name: 'a misspelt jwks name inside an issuers[] entry',
    options: {
      audience: AUDIENCE,
      issuers: [{ issuer: ISSUER, jwksUri: remote.jwksUri, jwks: { timout: '2s' } }],
    },
    message: /`timout` in `issuers\[0\]\.jwks`: did you mean `timeout`\?/,
  },
  {
    name: 'a name far from any (no guess, the list instead)',
    options: { ...base, frobnicate: 1 },
    message: /`frobnicate` at the top level: known options here: `audience`, .*`requireEncryption`/,
  },
  // Names other JWT libraries use.
  {
    name: 'secret (express-jwt, koa-jwt, @fastify/jwt)',
    options: { issuer: ISSUER, audience: AUDIENCE, secret: 'shhh' },
    message: /`secret`.*shared secret as a static key.*kty: 'oct'.*algorithms: \['HS256'\]/,
  },
  {
    name: 'requestProperty (express-jwt)',
    options: { ...base, requestProperty: 'user' },
    message: /`requestProperty`.*`req\.auth` \(Express\), `ctx\.state\.auth` \(Koa\)/,
  },
  {
    name: 'issuerBaseURL (express-oauth2-jwt-bearer)',
    options: { audience: AUDIENCE, issuerBaseURL: ISSUER },
    message: /`issuerBaseURL`.*use `issuer` \(the exact `iss`\) with `discovery: true`/,
  },
  {
    name: 'tokenSigningAlg (express-oauth2-jwt-bearer)',
    options: { ...base, tokenSigningAlg: 'RS256' },
    message: /`tokenSigningAlg`.*`algorithms: \['RS256'\]`/,
  },
  {
    name: 'jwks_uri (the metadata spelling)',
    options: { issuer: ISSUER, audience: AUDIENCE, jwks_uri: remote.jwksUri },
    message: /`jwks_uri`.*use `jwksUri`/,
  },
  {
    name: 'a symmetric key without algorithms',
    options: { ...base, keys: [{ kty: 'oct', k: Buffer.alloc(32, 7).toString('base64url') }] },
    message: /symmetric \(oct\) key but "algorithms" is not set: add `algorithms: \['HS256'\]`/,
  },
  {
    name: 'a secret string as keys',
    options: { ...base, keys: 'shhh' },
    message: /"keys" takes JWKs, not a secret.*algorithms: \['HS256'\]/,
  },
];

describe('unknown option names throw a TypeError at construction', () => {
  it.each(VERIFIER_CASES)('createVerifier: $name', ({ options, message }) => {
    expect(() => createVerifier(options as VerifierOptions)).toThrow(TypeError);
    expect(() => createVerifier(options as VerifierOptions)).toThrow(message);
  });

  it.each(VERIFIER_CASES)('createGate: $name', ({ options, message }) => {
    expect(() => createGate(options as VerifierOptions, io)).toThrow(TypeError);
    expect(() => createGate(options as VerifierOptions, io)).toThrow(message);
  });

  it.each([
    {
      name: 'a misspelt adapter setting',
      options: { ...base, credentialRequired: false },
      message: /`credentialRequired` at the top level: did you mean `credentialsRequired`\?/,
    },
    {
      name: 'dpop.mdoe',
      options: { ...base, dpop: { mdoe: 'required' } },
      message: /`mdoe` in `dpop`: did you mean `mode`\?/,
    },
    {
      name: 'mtls.certificates',
      options: { ...base, mtls: { certificates: () => undefined } },
      message: /`certificates` in `mtls`: did you mean `certificate`\?/,
    },
    {
      name: 'a misspelt setting beside a ready verifier',
      options: { verifier: createVerifier(base), realms: 'api' },
      message: /`realms` at the top level: did you mean `realm`\?/,
    },
    {
      name: 'verifier options beside a ready verifier (they would be ignored)',
      options: { verifier: createVerifier(base), audience: 'other' },
      message: /unknown option `audience` at the top level/,
    },
  ])('createGate: $name', ({ options, message }) => {
    expect(() => createGate(options as VerifierOptions, io)).toThrow(message);
  });

  it('createVerifier refuses adapter settings: they do nothing there', () => {
    expect(() =>
      createVerifier({ ...base, credentialsRequired: false } as VerifierOptions),
    ).toThrow(/unknown option `credentialsRequired` at the top level/);
  });

  it('an issuer resolver result with an unknown name is refused (503, the TypeError as cause)', async () => {
    const verifier = createVerifier({
      audience: AUDIENCE,
      now: () => NOW,
      issuers: async (iss) =>
        ({ issuer: iss, keys: [keys.es256.publicJwk], requireEncrytion: true }) as IssuerPolicy,
    });
    const token = await sign(keys.es256, validClaims());
    const err = await verifier.verify(token).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'jwks_unavailable', reason: 'the issuer resolver failed' });
    const cause = (err as { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(TypeError);
    expect((cause as TypeError).message).toMatch(
      /`requireEncrytion` in `issuers\(\) result`: did you mean `requireEncryption`\?/,
    );
  });
});

describe('known option names pass', () => {
  it('every adapter setting, including ones other branches add (passErrors, logLevels)', () => {
    const gate = createGate(
      {
        ...base,
        credentialsRequired: false,
        getToken: () => undefined,
        logger: false,
        onRejected: () => {},
        realm: 'api',
        scopeClaims: ['scope'],
        passErrors: true,
        logLevels: {},
        maxCandidateKeys: 3,
        mtls: { required: false },
        dpop: { mode: 'allowed' },
      } as VerifierOptions,
      io,
    );
    expect(gate.verifier).toBeDefined();
  });

  it('every policy name is known in an issuers[] entry, and jwks.maxWait in jwks', () => {
    expect(OPTION_NAMES['issuers[]']).toEqual(expect.arrayContaining(['maxCandidateKeys']));
    expect(() =>
      createVerifier({
        audience: AUDIENCE,
        issuers: [
          { issuer: ISSUER, jwksUri: remote.jwksUri, jwks: { maxWait: '1s', shared: false } },
        ],
      } as never),
    ).not.toThrow();
  });
});

describe('the closest-name guess', () => {
  it.each([
    ['requireEncrytion', 'requireEncryption', 1],
    ['clockTolerence', 'clockTolerance', 1],
    ['mdoe', 'mode', 1],
    ['AUDIENCE', 'audience', 0],
    ['maxStaleness', 'maxStale', 4],
  ])('%s is %i edits from %s', (typo, name, distance) => {
    expect(editDistance(typo, name)).toBe(distance);
  });

  it.each([
    ['requireEncrytion', OPTION_NAMES.top, 'requireEncryption'],
    ['maxStaleness', OPTION_NAMES.jwks, 'maxStale'],
    ['foo', OPTION_NAMES.top, undefined],
    ['x', OPTION_NAMES.tokenCache, undefined],
    ['completelyDifferent', OPTION_NAMES.top, undefined],
  ])('%s → %s', (typo, known, expected) => {
    expect(closestName(typo, known)).toBe(expected);
  });
});

// Options of the wrong type are TypeErrors at construction: a truthy string must never switch a
// check off (review findings 1, 2, 11, 12, 13).
import { describe, expect, it } from 'vitest';
import { createGate, createRemoteJwks, createVerifier } from '../src/index.js';
import { AUDIENCE, ISSUER, generateTestKeys } from './helpers/keys.js';

const keys = await generateTestKeys();
const base = { issuer: ISSUER, audience: AUDIENCE, keys: [keys.rs256.publicJwk] };
const decryption = { keys: [keys.rsaOaep.privateJwk] };
const io = {
  raw: (req: object) => req as never,
  facts: () => ({ method: 'GET', path: '/' }),
};

describe('boolean options refuse anything but a boolean', () => {
  const cases: { name: string; options: Record<string, unknown>; message: RegExp }[] = [
    {
      name: 'requireEncryption: "true"',
      options: { decryption, requireEncryption: 'true' },
      message: /"requireEncryption" must be a boolean/,
    },
    {
      name: 'requireEncryption: 1',
      options: { decryption, requireEncryption: 1 },
      message: /"requireEncryption" must be a boolean/,
    },
    {
      name: 'requireExp: "false"',
      options: { requireExp: 'false' },
      message: /"requireExp" must be a boolean/,
    },
    {
      name: 'requireExp: 0',
      options: { requireExp: 0 },
      message: /"requireExp" must be a boolean/,
    },
    {
      name: 'decryption.allowUnsignedClaims: "yes"',
      options: { decryption: { ...decryption, allowUnsignedClaims: 'yes' } },
      message: /"decryption.allowUnsignedClaims" must be a boolean/,
    },
    {
      name: 'discovery: "true"',
      options: { keys: undefined, discovery: 'true' },
      message: /"discovery" must be a boolean/,
    },
    ...[
      ['allowInsecureHttp', 'true', /"allowInsecureHttp" must be a boolean/],
      ['shared', 'false', /"jwks.shared" must be a boolean/],
    ].map(([option, value, message]) => ({
      name: `jwks.${option as string}: "${value as string}"`,
      options: {
        keys: undefined,
        jwksUri: 'https://issuer.example/jwks',
        jwks: { [option as string]: value },
      },
      message: message as RegExp,
    })),
    {
      name: 'requireEncryption: null',
      options: { decryption, requireEncryption: null },
      message: /"requireEncryption" must not be null/,
    },
  ];
  it.each(cases)('$name is a TypeError', ({ options, message }) => {
    expect(() => createVerifier({ ...base, ...options } as never)).toThrow(TypeError);
    expect(() => createVerifier({ ...base, ...options } as never)).toThrow(message);
  });

  it('createRemoteJwks refuses allowInsecureHttp: "true"', () => {
    expect(() =>
      createRemoteJwks('http://127.0.0.1:1/jwks', { allowInsecureHttp: 'true' as never }),
    ).toThrow(/"allowInsecureHttp" must be a boolean/);
  });

  it.each([true, false])('requireEncryption: %s is accepted', (value) => {
    expect(() => createVerifier({ ...base, decryption, requireEncryption: value })).not.toThrow();
  });
});

describe('gate settings are checked by type', () => {
  const cases: { name: string; settings: Record<string, unknown>; message: RegExp }[] = [
    {
      name: 'credentialsRequired: ""',
      settings: { credentialsRequired: '' },
      message: /"credentialsRequired" must be a boolean/,
    },
    {
      name: 'credentialsRequired: 0',
      settings: { credentialsRequired: 0 },
      message: /"credentialsRequired" must be a boolean/,
    },
    {
      name: 'credentialsRequired: "false"',
      settings: { credentialsRequired: 'false' },
      message: /"credentialsRequired" must be a boolean/,
    },
    {
      name: 'credentialsRequired: null',
      settings: { credentialsRequired: null },
      message: /"credentialsRequired" must not be null/,
    },
    { name: 'realm: 42', settings: { realm: 42 }, message: /"realm" must be a string/ },
    { name: 'realm: { }', settings: { realm: {} }, message: /"realm" must be a string/ },
    { name: 'realm: null', settings: { realm: null }, message: /"realm" must be a string/ },
    {
      name: 'onRejected: "log"',
      settings: { onRejected: 'log' },
      message: /"onRejected" must be a function/,
    },
    {
      name: 'onRejected: null',
      settings: { onRejected: null },
      message: /"onRejected" must be a function/,
    },
  ];
  it.each(cases)('$name is a TypeError', ({ settings, message }) => {
    expect(() => createGate({ ...base, ...settings } as never, io)).toThrow(TypeError);
    expect(() => createGate({ ...base, ...settings } as never, io)).toThrow(message);
    // The same with a ready verifier.
    const verifier = createVerifier(base);
    expect(() => createGate({ verifier, ...settings } as never, io)).toThrow(message);
  });

  it('a missing token is still token_missing with a string realm and credentialsRequired true', () => {
    const gate = createGate(
      { ...base, realm: 'api', credentialsRequired: true, logger: false },
      io,
    );
    expect(() => gate.authenticate({ headers: {} } as never)).toThrow(
      expect.objectContaining({ code: 'token_missing' }),
    );
  });
});

describe('numeric options', () => {
  it.each([
    ['cooldown: 0', { cooldown: 0 }],
    ['cooldown: 0.5', { cooldown: 0.5 }],
    ['cooldown: "500ms"', { cooldown: '500ms' }],
    ['cooldown: "0s"', { cooldown: '0s' }],
  ])('jwks %s is a TypeError (at least 1 s)', (_, jwks) => {
    expect(() => createRemoteJwks('https://issuer.example/jwks', jwks as never)).toThrow(
      /"cooldown" must be at least 1 s/,
    );
    expect(() =>
      createVerifier({
        ...base,
        keys: undefined,
        jwksUri: 'https://issuer.example/jwks',
        jwks: { ...(jwks as object), shared: false },
      }),
    ).toThrow(/"cooldown" must be at least 1 s/);
  });

  it.each([1, '1s', '30s'])('jwks cooldown %s is accepted', (cooldown) => {
    expect(() => createRemoteJwks('https://issuer.example/jwks', { cooldown })).not.toThrow();
  });

  it('maxCandidateKeys: null is a TypeError, not the default', () => {
    expect(() => createVerifier({ ...base, maxCandidateKeys: null as never })).toThrow(
      /"maxCandidateKeys" must not be null/,
    );
  });
});

describe('dpop.nonce options are checked by name', () => {
  const secret = 'x'.repeat(32);
  it.each([
    [
      { secret, lifetme: '1m' },
      /unknown option `lifetme` in `dpop.nonce`: did you mean `lifetime`\?/,
    ],
    [{ secret, ttl: '1m' }, /unknown option `ttl` in `dpop.nonce`/],
  ])('%j is refused', (nonce, message) => {
    expect(() => createGate({ ...base, dpop: { nonce } } as never, io)).toThrow(message);
  });

  it.each([
    ['{ secret, lifetime }', { secret, lifetime: '1m' }],
    [
      '{ current, isValid } with other members',
      { current: () => 'n', isValid: () => true, extra: 1 },
    ],
  ])('%s is accepted', (_, nonce) => {
    expect(() => createGate({ ...base, dpop: { nonce } } as never, io)).not.toThrow();
  });
});

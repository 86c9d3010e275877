// Attack class: the encryption layer (RFC 7516, RFC 8725 §3.5-3.9). Compression bombs, PBES2
// work factors, invalid-curve ephemeral keys, encrypted-but-unsigned claims, inner tokens that
// are not JWSs, typ/cty confusion, and the work a JWE without kid may cause. Through real HTTP
// in every adapter.
import { ECDH } from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CompactEncrypt, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import {
  createEncryptionKey,
  decryptionKeys,
  encryption,
  signing,
} from '@tokengate/test-fixtures/keys';
import type { EncryptionKeyPair } from '@tokengate/test-fixtures/keys';
import { ISSUER, claims, nested, sign } from '@tokengate/test-fixtures/tokens';
import { startJwksServer } from '@tokengate/test-fixtures/jwks-server';
import { issuerJwks } from '@tokengate/test-fixtures/keys';
import { b64u, craftJwe, craftJws, esHeader, fakeJwe } from './craft.js';
import {
  describeAttacks,
  drivers,
  expectAccepted,
  expectRefused,
  startGatedApp,
} from './harness.js';
import type { AttackCase } from './harness.js';

const rsaOaep = encryption.rsaOaep;
const ecdhEs = encryption.ecdhEs;
const jweHeader = (extra: Record<string, unknown> = {}) => ({
  alg: 'RSA-OAEP-256',
  enc: 'A256GCM',
  kid: rsaOaep.kid,
  cty: 'JWT',
  ...extra,
});
const honestJws = () => sign(claims());

// 8 MiB of zeros deflates to about 8 KB: the token fits in an HTTP header, the plaintext does not
// fit in any sane budget.
const BOMB = Buffer.alloc(8 << 20);
const bomb = () => craftJwe({ header: jweHeader({ zip: 'DEF' }), plaintext: BOMB, deflate: true });
const zipAllowed = (maxDecompressedBytes: number) => () => ({
  decryption: { keys: decryptionKeys, maxDecompressedBytes },
});

const compressionCases: AttackCase[] = [
  {
    name: 'zip bomb (8 MiB of zeros), zip not enabled (the default)',
    token: bomb,
    expect: 'token_malformed',
  },
  {
    name: 'zip bomb with maxDecompressedBytes 64 KiB: refused past the bound',
    options: zipAllowed(64 * 1024),
    token: bomb,
    expect: 'token_malformed',
  },
  {
    name: 'control: a small compressed nested token within maxDecompressedBytes is accepted',
    options: zipAllowed(64 * 1024),
    token: async () =>
      craftJwe({ header: jweHeader({ zip: 'DEF' }), plaintext: await honestJws(), deflate: true }),
    expect: 'accepted',
  },
  {
    name: 'compressed token claiming an issuer whose policy did not enable zip',
    options: ({ jwks }) => ({
      issuers: [
        {
          issuer: 'https://zip.issuer.test/',
          jwksUri: jwks.url,
          decryption: zipAllowed(1 << 20)().decryption,
        },
        { issuer: ISSUER, jwksUri: jwks.url, decryption: { keys: decryptionKeys } },
      ],
    }),
    token: async () =>
      craftJwe({ header: jweHeader({ zip: 'DEF' }), plaintext: await honestJws(), deflate: true }),
    expect: 'token_malformed',
  },
  {
    name: 'zip "GZIP" (unknown compression), zip enabled',
    options: zipAllowed(64 * 1024),
    token: async () =>
      craftJwe({ header: jweHeader({ zip: 'GZIP' }), plaintext: await honestJws(), deflate: true }),
    expect: 'token_malformed',
  },
  {
    name: 'zip announced but the plaintext is not deflated, zip enabled',
    options: zipAllowed(64 * 1024),
    token: async () =>
      craftJwe({ header: jweHeader({ zip: 'DEF' }), plaintext: await honestJws() }),
    expect: 'token_malformed',
  },
];

const pbes2Cases: AttackCase[] = ['PBES2-HS256+A128KW', 'PBES2-HS512+A256KW'].map(
  (alg): AttackCase => ({
    name: `${alg} with p2c 2^31 (refused by policy, no PBKDF2 run)`,
    token: () =>
      fakeJwe({ alg, enc: 'A256GCM', kid: rsaOaep.kid, p2c: 2 ** 31, p2s: b64u('saltsalt') }, 40),
    expect: 'alg_not_allowed',
  }),
);

// ECDH-ES with an ephemeral key off the receiver's curve (invalid-curve attack): the point must
// be refused before any key agreement uses it.
const goodEpk = (await exportJWK(
  (await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true })).publicKey,
)) as JWK;
const p384Epk = (await exportJWK(
  (await generateKeyPair('ECDH-ES', { crv: 'P-384', extractable: true })).publicKey,
)) as JWK;
const x25519Epk = (await exportJWK(
  (await generateKeyPair('ECDH-ES', { crv: 'X25519', extractable: true })).publicKey,
)) as JWK;
const flipLast = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64url');
  bytes[bytes.length - 1]! ^= 1;
  return b64u(bytes);
};
const ecdhHeader = (epk: unknown) => ({ alg: 'ECDH-ES', enc: 'A256GCM', kid: ecdhEs.kid, epk });
const invalidEpks: [string, unknown][] = [
  ['a point off the P-256 curve (y changed)', { ...goodEpk, y: flipLast(goodEpk.y!) }],
  [
    'the point (0, 0)',
    { kty: 'EC', crv: 'P-256', x: b64u(Buffer.alloc(32)), y: b64u(Buffer.alloc(32)) },
  ],
  ['a P-384 point for the P-256 key', p384Epk],
  ['P-384 coordinates labelled P-256', { ...p384Epk, crv: 'P-256' }],
  ['an X25519 key for the P-256 key', x25519Epk],
];
// Not even shaped like an EC point: a format error before any key agreement.
const malformedEpks: [string, unknown][] = [
  ['an RSA "key"', { kty: 'RSA', n: b64u('n'), e: 'AQAB' }],
  ['no epk at all', undefined],
];
const invalidCurveCases: AttackCase[] = [
  {
    name: 'control: a nested token to the ECDH-ES key is accepted',
    token: () => nested(claims(), { encrypt: { to: ecdhEs } }),
    expect: 'accepted',
  },
  ...invalidEpks.map(([what, epk]): AttackCase => ({
    name: `ECDH-ES epk: ${what}`,
    token: () => fakeJwe(ecdhHeader(epk), 0),
    expect: 'decryption_failed',
  })),
  ...malformedEpks.map(([what, epk]): AttackCase => ({
    name: `ECDH-ES epk: ${what}`,
    token: () => fakeJwe(ecdhHeader(epk), 0),
    expect: 'token_malformed',
  })),
];

const unsignedCases: AttackCase[] = [
  {
    name: 'encrypted claims without a signature (anyone can encrypt to the receiver)',
    token: () =>
      craftJwe({ header: jweHeader({ cty: undefined }), plaintext: JSON.stringify(claims()) }),
    expect: 'token_malformed',
  },
  {
    name: 'control: encrypted claims are accepted only with allowUnsignedClaims',
    options: () => ({ decryption: { keys: decryptionKeys, allowUnsignedClaims: true } }),
    token: () =>
      craftJwe({ header: jweHeader({ cty: undefined }), plaintext: JSON.stringify(claims()) }),
    expect: 'accepted',
  },
  {
    name: 'encrypted claims labelled cty JWT, even with allowUnsignedClaims',
    options: () => ({ decryption: { keys: decryptionKeys, allowUnsignedClaims: true } }),
    token: () => craftJwe({ header: jweHeader(), plaintext: JSON.stringify(claims()) }),
    expect: 'token_malformed',
  },
  {
    name: 'encrypted-but-unsigned claims with requireEncryption',
    options: () => ({ requireEncryption: true }),
    token: () =>
      craftJwe({ header: jweHeader({ cty: undefined }), plaintext: JSON.stringify(claims()) }),
    expect: 'token_malformed',
  },
];

const innerCases: AttackCase[] = [
  {
    name: 'inner token is a JWE (encryption inside encryption)',
    token: async () => craftJwe({ header: jweHeader(), plaintext: await nested(claims()) }),
    expect: 'token_malformed',
  },
  ...(
    [
      ['text', 'hello'],
      ['two segments', 'eyJhbGciOiJFUzI1NiJ9.e30'],
      ['a JWS with a trailing newline', 'JWS\n'],
      ['an empty string', ''],
      ['JSON that is not an object', '[1,2,3]'],
    ] as const
  ).map(([what, plaintext]): AttackCase => ({
    name: `inner token is ${what} (cty JWT)`,
    token: async () =>
      craftJwe({
        header: jweHeader(),
        plaintext: plaintext === 'JWS\n' ? `${await honestJws()}\n` : plaintext,
      }),
    expect: 'token_malformed',
  })),
  {
    name: 'inner JWS signed by a key the issuer never published',
    token: async () =>
      craftJwe({
        header: jweHeader(),
        plaintext: craftJws({
          header: esHeader(),
          payload: claims(),
          key: signing.rs256,
          alg: 'ES256',
        }).replace(/\.[^.]*$/, '.' + b64u(Buffer.alloc(64, 1))),
      }),
    expect: 'signature_invalid',
  },
  {
    name: 'inner JWS with cty JWT whose payload is another JWS (not followed)',
    token: async () =>
      craftJwe({
        header: jweHeader(),
        plaintext: craftJws({ header: esHeader({ cty: 'JWT' }), payload: await honestJws() }),
      }),
    expect: 'token_malformed',
  },
];

// RFC 9068 at+jwt profile: the type is read from the signed (inner) token, never from the
// unauthenticated-by-the-issuer JWE layer.
const atJwtClaims = () =>
  claims({ client_id: 'client-1', jti: 'jti-1' }) as Record<string, unknown>;
const profile = () => ({ profile: 'at+jwt' as const });
const typCases: AttackCase[] = [
  {
    name: 'control: nested at+jwt is accepted under profile at+jwt',
    options: profile,
    token: () =>
      craftJwe({
        header: jweHeader(),
        plaintext: craftJws({ header: esHeader(), payload: atJwtClaims() }),
      }),
    expect: 'accepted',
  },
  {
    name: 'outer JWE typ at+jwt around an ID token (inner typ JWT)',
    options: profile,
    token: () =>
      craftJwe({
        header: jweHeader({ typ: 'at+jwt' }),
        plaintext: craftJws({ header: esHeader({ typ: 'JWT' }), payload: atJwtClaims() }),
      }),
    expect: 'typ_mismatch',
  },
  {
    name: 'outer JWE typ at+jwt around an inner token without typ',
    options: profile,
    token: () =>
      craftJwe({
        header: jweHeader({ typ: 'at+jwt' }),
        plaintext: craftJws({ header: esHeader({ typ: undefined }), payload: atJwtClaims() }),
      }),
    expect: 'typ_mismatch',
  },
  {
    name: 'control: outer typ JWT around an inner at+jwt is accepted (the inner type counts)',
    options: profile,
    token: () =>
      craftJwe({
        header: jweHeader({ typ: 'JWT' }),
        plaintext: craftJws({ header: esHeader(), payload: atJwtClaims() }),
      }),
    expect: 'accepted',
  },
  {
    name: 'inner typ "JWE" under profile at+jwt',
    options: profile,
    token: () =>
      craftJwe({
        header: jweHeader(),
        plaintext: craftJws({ header: esHeader({ typ: 'JWE' }), payload: atJwtClaims() }),
      }),
    expect: 'typ_mismatch',
  },
  {
    name: 'unsigned claims with an outer typ at+jwt (allowUnsignedClaims off)',
    options: profile,
    token: () =>
      craftJwe({
        header: jweHeader({ typ: 'at+jwt', cty: undefined }),
        plaintext: JSON.stringify(atJwtClaims()),
      }),
    expect: 'token_malformed',
  },
];

describeAttacks([
  ...compressionCases,
  ...pbes2Cases,
  ...invalidCurveCases,
  ...unsignedCases,
  ...innerCases,
  ...typCases,
]);

describe('configuration that would weaken the JWE layer is refused at start-up', () => {
  const refused: [string, Record<string, unknown>][] = [
    ['PBES2 in keyManagementAlgorithms', { keyManagementAlgorithms: ['PBES2-HS256+A128KW'] }],
    ['RSA1_5 in keyManagementAlgorithms', { keyManagementAlgorithms: ['RSA1_5'] }],
    ['a negative maxDecompressedBytes', { maxDecompressedBytes: -1 }],
    ['a public key as a decryption key', { keys: [rsaOaep.publicJwk] }],
  ];
  describe.each(drivers)('$name', (driver) => {
    it.each(refused)('%s', async (_what, decryption) => {
      const jwks = await startJwksServer(issuerJwks);
      try {
        const start = async () =>
          startGatedApp(driver, {
            jwks,
            options: { decryption: { keys: decryptionKeys, ...decryption } },
          });
        await expect(start()).rejects.toThrow(TypeError);
      } finally {
        await jwks.close();
      }
    });
  });
});

// A JWE without kid may try the receiver's keys that fit its alg, but only a few: each try is a
// private-key operation. Counted by wrapping both engines' ECDH: node:crypto's ECDH computeSecret
// (what core's own JWE path runs on the NIST curves) and WebCrypto's deriveBits (what jose runs).
const extra = await Promise.all(
  [1, 2, 3, 4, 5].map((i) => createEncryptionKey('ECDH-ES', `enc-ecdh-${i}`, { crv: 'P-256' })),
);
const keys = [...decryptionKeys, ...extra.map((k) => k.privateJwk)];

describe.each(drivers)('$name: a JWE without kid causes bounded work', (driver) => {
  // jose calls the global WebCrypto at call time, so an own property on `subtle` intercepts it.
  const subtle = globalThis.crypto.subtle as webcrypto.SubtleCrypto;
  const deriveBits = subtle.deriveBits.bind(subtle) as (...args: unknown[]) => Promise<ArrayBuffer>;
  // Every ECDH object shares this prototype, so wrapping it counts core's key agreements too.
  const computeSecret = Object.getOwnPropertyDescriptor(ECDH.prototype, 'computeSecret')!;
  let agreements = 0;
  beforeEach(() => {
    subtle.deriveBits = ((...args: unknown[]) => {
      agreements++;
      return deriveBits(...args);
    }) as webcrypto.SubtleCrypto['deriveBits'];
    Object.defineProperty(ECDH.prototype, 'computeSecret', {
      ...computeSecret,
      value: function (this: ECDH, ...args: unknown[]) {
        agreements++;
        return (computeSecret.value as (...a: unknown[]) => Buffer).apply(this, args);
      },
    });
  });
  afterEach(() => {
    delete (subtle as Partial<webcrypto.SubtleCrypto>).deriveBits;
    Object.defineProperty(ECDH.prototype, 'computeSecret', computeSecret);
  });

  const toKey = async (key: EncryptionKeyPair, kid?: string) =>
    new CompactEncrypt(new TextEncoder().encode(await honestJws()))
      .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', cty: 'JWT', ...(kid && { kid }) })
      .encrypt(key.publicKey);

  it('six ECDH-ES keys, token to the last one, no kid: at most 3 key agreements, refused', async () => {
    const jwks = await startJwksServer(issuerJwks);
    const gate = await startGatedApp(driver, { jwks, options: { decryption: { keys } } });
    try {
      const token = await toKey(extra[4]!);
      agreements = 0; // encrypting the token above ran one key agreement of its own
      const reply = await gate.send(token);
      expectRefused(gate, reply, 'decryption_failed');
      expect(agreements).toBeGreaterThan(0);
      expect(agreements).toBeLessThanOrEqual(3);
    } finally {
      await gate.close();
      await jwks.close();
    }
  });

  it('control: token to the first ECDH-ES key, no kid: accepted after one agreement', async () => {
    const jwks = await startJwksServer(issuerJwks);
    const gate = await startGatedApp(driver, { jwks, options: { decryption: { keys } } });
    try {
      const token = await toKey(ecdhEs);
      agreements = 0;
      const reply = await gate.send(token);
      expectAccepted(gate, reply);
      expect(agreements).toBe(1);
    } finally {
      await gate.close();
      await jwks.close();
    }
  });

  it('an unknown kid causes no key agreement at all', async () => {
    const jwks = await startJwksServer(issuerJwks);
    const gate = await startGatedApp(driver, { jwks, options: { decryption: { keys } } });
    try {
      const token = await toKey(extra[0]!, 'no-such-kid');
      agreements = 0;
      const reply = await gate.send(token);
      expectRefused(gate, reply, 'decryption_failed');
      expect(agreements).toBe(0);
    } finally {
      await gate.close();
      await jwks.close();
    }
  });
});

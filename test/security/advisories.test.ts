// Past advisories of JWT receivers (jsonwebtoken, jose, node-jose, express-jwt, fast-jwt, hono),
// each replayed against tokengate through real HTTP in every adapter. A test is named by the
// advisory and says in one line what went wrong there; the assertion is that it does not here.
// Only facts were carried over from the advisories; every token here is built by this suite.
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import type { JWK } from 'jose';
import type { KeySource } from '@tokengate/core';
import { startJwksServer } from '@tokengate/test-fixtures/jwks-server';
import {
  createSigningKey,
  decryptionKeys,
  encryption,
  issuerJwks,
  signing,
} from '@tokengate/test-fixtures/keys';
import { ISSUER, claims } from '@tokengate/test-fixtures/tokens';
import { b64u, craftJwe, craftJws, esHeader, fakeJwe, publicPem } from './craft.js';
import {
  describeAttacks,
  drivers,
  expectAccepted,
  expectRefused,
  gateFixture,
  startGatedApp,
} from './harness.js';
import type { AttackCase } from './harness.js';

const rs256 = signing.rs256;
const payload = (extra: Record<string, unknown> = {}) =>
  ({ ...claims(), ...extra }) as Record<string, unknown>;
const hsWith = (secret: string | Uint8Array, kid: string | undefined = rs256.kid) =>
  craftJws({
    header: { alg: 'HS256', typ: 'at+jwt', ...(kid && { kid }) },
    payload: payload(),
    key: secret,
  });
const none = () =>
  craftJws({ header: { alg: 'none', typ: 'at+jwt' }, payload: payload(), key: null });
const attacker = await createSigningKey('ES256', 'attacker');
const weakRsa = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return {
    privateKey,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid: 'legacy-1024', alg: 'RS256' } as JWK,
  };
})();
const emptyKeySource: KeySource = {
  getKeys: async () => [],
  isPublished: () => false,
  refresh: async () => {},
};
const BOMB = Buffer.alloc(8 << 20);
const jweHeader = (extra: Record<string, unknown> = {}) => ({
  alg: 'RSA-OAEP-256',
  enc: 'A256GCM',
  kid: encryption.rsaOaep.kid,
  cty: 'JWT',
  ...extra,
});

const advisories: AttackCase[] = [
  {
    name: 'CVE-2015-9235 (jsonwebtoken): an HS256 token keyed with the RS256 public key PEM was verified as HMAC',
    token: () => hsWith(publicPem(rs256.publicJwk)),
    expect: 'alg_not_allowed',
  },
  {
    name: 'CVE-2015-9235 (jsonwebtoken): alg "none" was accepted as a valid signature',
    token: none,
    expect: 'alg_not_allowed',
  },
  {
    name: 'CVE-2022-23540 (jsonwebtoken): with no algorithms and a falsy key, verify fell back to "none"',
    options: () => ({ keySource: emptyKeySource }),
    token: none,
    expect: 'alg_not_allowed',
  },
  {
    name: 'CVE-2022-23540 (jsonwebtoken): a key source with no key for the token never means "unsigned"',
    options: () => ({ keySource: emptyKeySource }),
    token: () => craftJws({ header: esHeader(), payload: payload(), key: null }),
    expect: 'signature_invalid',
  },
  {
    name: 'CVE-2022-23541 (jsonwebtoken): a key callback returned the RSA key, then used as an HMAC secret',
    options: () => ({ keys: [rs256.publicJwk], algorithms: ['RS256', 'HS256'] }),
    token: () => hsWith(publicPem(rs256.publicJwk)),
    expect: 'kid_unknown',
  },
  {
    name: 'CVE-2022-23539 (jsonwebtoken): legacy, insecure keys (RSA under 2048 bits) were usable',
    published: { keys: [weakRsa.publicJwk, signing.es256.publicJwk] },
    token: () =>
      craftJws({
        header: { alg: 'RS256', kid: 'legacy-1024', typ: 'at+jwt' },
        payload: payload(),
        key: weakRsa.privateKey,
      }),
    expect: 'kid_unknown',
  },
  {
    name: 'CVE-2018-0114 (node-jose): the key embedded in the "jwk" header verified its own token',
    token: () =>
      craftJws({
        header: { alg: 'ES256', kid: attacker.kid, jwk: attacker.publicJwk },
        payload: payload(),
        key: attacker,
      }),
    expect: 'kid_unknown',
  },
  {
    name: 'CVE-2023-25653 (node-jose): ECC arithmetic on attacker-chosen points could hang; an off-curve epk is refused',
    token: () => {
      const bad = {
        kty: 'EC',
        crv: 'P-256',
        x: b64u(Buffer.alloc(32, 1)),
        y: b64u(Buffer.alloc(32, 2)),
      };
      return fakeJwe({ alg: 'ECDH-ES', enc: 'A256GCM', kid: encryption.ecdhEs.kid, epk: bad }, 0);
    },
    expect: 'decryption_failed',
  },
  {
    name: 'CVE-2022-36083 (jose): an unbounded PBES2 "p2c" made one token cost minutes of CPU',
    token: () =>
      fakeJwe({ alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', p2c: 2 ** 31, p2s: b64u('salt') }, 40),
    expect: 'alg_not_allowed',
  },
  {
    name: 'CVE-2024-28176 (jose): a "zip" JWE inflated without bound (decompression bomb)',
    token: () => craftJwe({ header: jweHeader({ zip: 'DEF' }), plaintext: BOMB, deflate: true }),
    expect: 'token_malformed',
  },
  {
    name: 'CVE-2024-28176 (jose): with zip enabled, inflation stops at maxDecompressedBytes',
    options: () => ({ decryption: { keys: decryptionKeys, maxDecompressedBytes: 64 << 10 } }),
    token: () => craftJwe({ header: jweHeader({ zip: 'DEF' }), plaintext: BOMB, deflate: true }),
    expect: 'token_malformed',
  },
  ...(
    [
      ['PKCS#1 "BEGIN RSA PUBLIC KEY"', () => publicPem(rs256.publicJwk, 'pkcs1')],
      ['SPKI "BEGIN PUBLIC KEY"', () => publicPem(rs256.publicJwk)],
    ] as const
  ).map(([what, pem]): AttackCase => ({
    name: `CVE-2023-48223 (fast-jwt): a ${what} PEM missed the public-key regex and became an HMAC secret`,
    options: () => ({ keys: [rs256.publicJwk], algorithms: ['RS256', 'HS256'] }),
    token: () => hsWith(pem()),
    expect: 'kid_unknown',
  })),
  ...['\n', ' ', '\t', '\r\n  '].map((space): AttackCase => ({
    name: `CVE-2026-34950 (fast-jwt): leading whitespace (${JSON.stringify(space)}) before the PEM bypassed the CVE-2023-48223 fix`,
    token: () => hsWith(space + publicPem(rs256.publicJwk)),
    expect: 'alg_not_allowed',
  })),
  {
    name: 'CVE-2025-30144 (fast-jwt): an "iss" array passed when any element matched the trusted issuer',
    token: () =>
      craftJws({ header: esHeader(), payload: payload({ iss: ['https://evil.test/', ISSUER] }) }),
    expect: 'issuer_mismatch',
  },
  {
    name: 'CVE-2026-35042 (fast-jwt): an unknown "crit" extension was ignored instead of refused',
    token: () =>
      craftJws({
        header: esHeader({ crit: ['x-policy'], 'x-policy': 'require-mfa' }),
        payload: payload(),
      }),
    expect: 'token_malformed',
  },
  {
    name: 'CVE-2020-15084 (express-jwt): without "algorithms", HS256 keyed with the public key was accepted',
    token: () => hsWith(publicPem(rs256.publicJwk), undefined),
    expect: 'alg_not_allowed',
  },
  {
    name: 'CVE-2020-15084 (express-jwt): without "algorithms", alg none was accepted',
    token: none,
    expect: 'alg_not_allowed',
  },
  {
    name: 'CVE-2026-22817 (hono jwk middleware): a JWK without "alg" let the token pick HS256',
    published: { keys: [{ ...rs256.publicJwk, alg: undefined }] },
    token: () => hsWith(publicPem(rs256.publicJwk)),
    expect: 'alg_not_allowed',
  },
];

describeAttacks(advisories, issuerJwks);

describe.each(drivers)('$name: advisories fixed by refusing the configuration', (driver) => {
  const refused: [string, Record<string, unknown>][] = [
    [
      'CVE-2022-23541 (jsonwebtoken): HMAC beside a key callback (keySource) is refused at start-up',
      { keySource: emptyKeySource, algorithms: ['RS256', 'HS256'] },
    ],
    [
      'CVE-2026-22817 (hono): HMAC algorithms with a JWKS are refused at start-up',
      { algorithms: ['RS256', 'HS256'] },
    ],
    [
      'CVE-2022-23540 (jsonwebtoken): "none" cannot be put in the allow-list',
      { algorithms: ['none'] },
    ],
    [
      'CVE-2022-23540 (jsonwebtoken): a verifier without any key source is refused at start-up',
      { jwksUri: undefined },
    ],
    [
      'GHSA-3j8v-cgw4-2g6q (fast-jwt): a stateful /g RegExp audience made verification flap; only strings are taken',
      { audience: /api:\/\/orders/g },
    ],
  ];
  it.each(refused)('%s', async (_name, options) => {
    const jwks = await startJwksServer(issuerJwks);
    try {
      await expect(startGatedApp(driver, { jwks, options: options as never })).rejects.toThrow(
        TypeError,
      );
    } finally {
      await jwks.close();
    }
  });
});

describe.each(drivers)('$name: GHSA-rp9m-7r4c-75qg / CVE-2026-35039 (fast-jwt)', (driver) => {
  const env = gateFixture(driver);

  it('colliding cache keys returned another token’s claims; each token is its own cache entry', async () => {
    const alice = craftJws({ header: esHeader(), payload: payload({ sub: 'alice' }) });
    const bob = craftJws({ header: esHeader(), payload: payload({ sub: 'bob' }) });
    for (const [token, sub] of [
      [alice, 'alice'],
      [bob, 'bob'],
      [alice, 'alice'],
      [bob, 'bob'],
    ] as const) {
      const reply = await env.gate.send(token);
      expectAccepted(env.gate, reply);
      expect((reply.body as { sub: string }).sub).toBe(sub);
    }
    // Alice's header and payload with Bob's signature: shares every claim with a cached token.
    const mixed = `${alice.split('.').slice(0, 2).join('.')}.${bob.split('.')[2]}`;
    expectRefused(env.gate, await env.gate.send(mixed), 'signature_invalid');
  });
});

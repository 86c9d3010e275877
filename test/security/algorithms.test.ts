// Attack class: the token chooses its algorithm (RFC 8725 §2.1, §3.1). Every case runs through
// real HTTP in every adapter (describeAttacks).
import { encryption, signing } from '@tokengate/test-fixtures/keys';
import { claims, sign } from '@tokengate/test-fixtures/tokens';
import { b64u, craftJwe, craftJws, esHeader, fakeJwe, privateKeyOf, publicPem } from './craft.js';
import { describeAttacks } from './harness.js';
import type { AttackCase } from './harness.js';

const rs256 = signing.rs256;
const payload = () => claims() as Record<string, unknown>;
const rsHeader = (alg: string) => ({ alg, kid: rs256.kid, typ: 'at+jwt' });
const jweHeader = (extra: Record<string, unknown> = {}) => ({
  alg: 'RSA-OAEP-256',
  enc: 'A256GCM',
  kid: encryption.rsaOaep.kid,
  cty: 'JWT',
  ...extra,
});

const noneSpellings = ['none', 'None', 'NONE', 'nOnE'];

const cases: AttackCase[] = [
  // Controls: the hand-made tokens are accepted when honest, so each refusal below is real.
  {
    name: 'control: a hand-made ES256 token is accepted',
    token: () => craftJws({ header: esHeader(), payload: payload() }),
    expect: 'accepted',
  },
  {
    name: 'control: a hand-made RS256 token is accepted',
    token: () => craftJws({ header: rsHeader('RS256'), payload: payload(), key: rs256 }),
    expect: 'accepted',
  },
  {
    name: 'control: a hand-made nested JWE is accepted',
    token: async () => craftJwe({ header: jweHeader(), plaintext: await sign(claims()) }),
    expect: 'accepted',
  },

  // alg none, in every spelling, with and without a signature.
  ...noneSpellings.map((alg): AttackCase => ({
    name: `alg "${alg}" with an empty signature`,
    token: () => craftJws({ header: { alg, typ: 'at+jwt' }, payload: payload(), key: null }),
    expect: 'alg_not_allowed',
  })),
  ...noneSpellings.map((alg): AttackCase => ({
    name: `alg "${alg}" naming a published kid, with a real signature attached`,
    token: async () => {
      const honest = await sign(claims());
      const forged = craftJws({ header: esHeader({ alg }), payload: payload(), key: null });
      return forged + honest.split('.')[2];
    },
    expect: 'alg_not_allowed',
  })),
  {
    name: 'ES256 header with an empty signature',
    token: () => craftJws({ header: esHeader(), payload: payload(), key: null }),
    expect: 'signature_invalid',
  },
  {
    name: 'RS256 header with an empty signature',
    token: () => craftJws({ header: rsHeader('RS256'), payload: payload(), key: null }),
    expect: 'signature_invalid',
  },
  {
    name: 'ES256 signature of zero bytes in the right length (r = s = 0, "psychic signature")',
    token: () => {
      const input = craftJws({ header: esHeader(), payload: payload(), key: null });
      return input + b64u(Buffer.alloc(64));
    },
    expect: 'signature_invalid',
  },

  // HMAC keyed with public material (the classic RS256 → HS256 confusion).
  ...(
    [
      ['the RS256 key as SPKI PEM', () => publicPem(rs256.publicJwk)],
      ['the RS256 key as PKCS#1 PEM', () => publicPem(rs256.publicJwk, 'pkcs1')],
      ['the ES256 key as SPKI PEM', () => publicPem(signing.es256.publicJwk)],
      ['the RS256 public JWK (JSON bytes)', () => JSON.stringify(rs256.publicJwk)],
      ['the RS256 modulus bytes', () => Buffer.from(rs256.publicJwk.n!, 'base64url')],
    ] as const
  ).flatMap(([what, secret]): AttackCase[] => [
    {
      name: `HS256 keyed with ${what}, naming the RS256 kid`,
      token: () => craftJws({ header: rsHeader('HS256'), payload: payload(), key: secret() }),
      expect: 'alg_not_allowed',
    },
    {
      name: `HS256 keyed with ${what}, even where HS256 is allowed for static keys`,
      options: () => ({ keys: [rs256.publicJwk], algorithms: ['RS256', 'HS256'] }),
      token: () => craftJws({ header: rsHeader('HS256'), payload: payload(), key: secret() }),
      expect: 'kid_unknown',
    },
  ]),

  // An algorithm outside the allow-list, on the JWS layer.
  ...['RS512', 'PS512', 'ES512', 'HS512', 'RS1', 'es256', 'ES256 ', 'ＥS256'].map(
    (alg): AttackCase => ({
      name: `JWS alg "${alg}" outside the allow-list`,
      token: () =>
        craftJws({
          header: rsHeader(alg),
          payload: payload(),
          key: rs256,
          alg: /^(RS|PS)\d+$/.test(alg) ? alg : 'RS256',
        }),
      expect: 'alg_not_allowed',
    }),
  ),
  {
    name: 'JWS alg RS256 when the allow-list was narrowed to ES256',
    options: () => ({ algorithms: ['ES256'] }),
    token: () => craftJws({ header: rsHeader('RS256'), payload: payload(), key: rs256 }),
    expect: 'alg_not_allowed',
  },

  // An algorithm outside the allow-list, on the JWE layer (checked before any key operation).
  {
    name: 'JWE alg RSA-OAEP (SHA-1) when the allow-list has RSA-OAEP-256',
    token: async () =>
      craftJwe({ header: jweHeader({ alg: 'RSA-OAEP' }), plaintext: await sign(claims()) }),
    expect: 'alg_not_allowed',
  },
  ...['RSA1_5', 'dir', 'A128KW', 'PBES2-HS256+A128KW', 'none', 'rsa-oaep-256'].map(
    (alg): AttackCase => ({
      name: `JWE alg "${alg}" outside the allow-list`,
      token: () => fakeJwe(jweHeader({ alg })),
      expect: 'alg_not_allowed',
    }),
  ),
  ...['A192GCM', 'A256CBC', 'a256gcm', 'A128CBC-HS256 '].map((enc): AttackCase => ({
    name: `JWE enc "${enc}" outside the allow-list`,
    token: () => fakeJwe(jweHeader({ enc })),
    expect: 'enc_not_allowed',
  })),
  {
    name: 'JWE enc A128GCM when the allow-list was narrowed to A256GCM',
    options: () => ({
      decryption: {
        keys: [encryption.rsaOaep.privateJwk],
        contentEncryptionAlgorithms: ['A256GCM'],
      },
    }),
    token: async () =>
      craftJwe({ header: jweHeader({ enc: 'A128GCM' }), plaintext: await sign(claims()) }),
    expect: 'enc_not_allowed',
  },
  {
    name: 'allowed JWE around an inner JWS with alg none',
    token: () =>
      craftJwe({
        header: jweHeader(),
        plaintext: craftJws({ header: { alg: 'none' }, payload: payload(), key: null }),
      }),
    expect: 'alg_not_allowed',
  },
  {
    name: 'allowed JWE around an inner HS256 JWS keyed with the issuer public key',
    token: () =>
      craftJwe({
        header: jweHeader(),
        plaintext: craftJws({
          header: rsHeader('HS256'),
          payload: payload(),
          key: publicPem(rs256.publicJwk),
        }),
      }),
    expect: 'alg_not_allowed',
  },

  // A key whose JWK `alg` differs from the token's: one algorithm per key (RFC 8725 §3.1).
  {
    name: 'PS256 token signed by the RS256 key (JWK alg RS256)',
    token: () => craftJws({ header: rsHeader('PS256'), payload: payload(), key: rs256 }),
    expect: 'kid_unknown',
  },
  {
    name: 'ES384 token signed with the P-256 key (JWK alg ES256)',
    token: () =>
      craftJws({ header: esHeader({ alg: 'ES384' }), payload: payload(), key: signing.es256 }),
    expect: 'kid_unknown',
  },
  {
    name: 'Ed25519 token signed with the EdDSA key (JWK alg EdDSA)',
    token: () =>
      craftJws({
        header: { alg: 'Ed25519', kid: signing.eddsa.kid, typ: 'at+jwt' },
        payload: payload(),
        key: privateKeyOf(signing.eddsa),
      }),
    expect: 'kid_unknown',
  },
  {
    name: 'nested: the inner RS256 key presented as PS256',
    token: () =>
      craftJwe({
        header: jweHeader(),
        plaintext: craftJws({ header: rsHeader('PS256'), payload: payload(), key: rs256 }),
      }),
    expect: 'kid_unknown',
  },
];

describeAttacks(cases);

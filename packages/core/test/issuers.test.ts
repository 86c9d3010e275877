import { describe, expect, it } from 'vitest';
import { createVerifier } from '../src/index.js';
import type { IssuerPolicy, VerifierOptions } from '../src/index.js';
import {
  AUDIENCE,
  NOW,
  encrypt,
  fakeClock,
  generateTestKeys,
  sign,
  validClaims,
} from './helpers/keys.js';

const keys = await generateTestKeys();
const A = 'https://login.a.example/';
const B = 'https://partner.example/';

const policies: IssuerPolicy[] = [
  { issuer: A, keys: [keys.rs256.publicJwk], algorithms: ['RS256'] },
  { issuer: B, keys: [keys.es256.publicJwk], algorithms: ['ES256'], typ: 'at+jwt' },
];
const base: VerifierOptions = {
  audience: AUDIENCE,
  issuers: policies,
  decryption: { keys: [keys.rsaOaep.privateJwk] },
  now: () => NOW,
};

describe('several issuers, each with its own policy', () => {
  const cases = [
    {
      name: 'A token signed by A key',
      make: () => sign(keys.rs256, validClaims({ iss: A })),
      code: undefined,
    },
    {
      name: 'B token (at+jwt) signed by B key',
      make: () => sign(keys.es256, validClaims({ iss: B }), { typ: 'at+jwt' }),
      code: undefined,
    },
    {
      name: 'B token without at+jwt typ',
      make: () => sign(keys.es256, validClaims({ iss: B })),
      code: 'typ_mismatch',
    },
    {
      name: "token claiming B, signed with A's key",
      make: () => sign(keys.rs256, validClaims({ iss: B }), { typ: 'at+jwt' }),
      code: 'alg_not_allowed',
    },
    {
      name: "token claiming A, signed with B's key",
      make: () => sign(keys.es256, validClaims({ iss: A }), { kid: 'rs-1', alg: 'ES256' }),
      code: 'alg_not_allowed',
    },
    {
      name: 'unlisted issuer',
      make: () => sign(keys.rs256, validClaims({ iss: 'https://evil.example/' })),
      code: 'issuer_mismatch',
    },
    {
      name: 'no iss at all',
      make: () => sign(keys.rs256, validClaims({ iss: undefined })),
      code: 'issuer_mismatch',
    },
    {
      name: 'nested: inner iss chooses the policy',
      make: async () => encrypt(keys.rsaOaep, await sign(keys.rs256, validClaims({ iss: A }))),
      code: undefined,
    },
  ] as const;
  it.each(cases)('$name', async ({ make, code }) => {
    const v = createVerifier(base);
    const p = v.verify(await make());
    if (code === undefined) await expect(p).resolves.toHaveProperty('payload.sub', 'user-1');
    else await expect(p).rejects.toMatchObject({ code });
  });

  it('refuses a JWE for an issuer whose policy has no decryption', async () => {
    const v = createVerifier({
      ...base,
      decryption: undefined,
      issuers: [{ ...policies[0]!, decryption: { keys: [keys.rsaOaep.privateJwk] } }, policies[1]!],
    });
    const forB = await encrypt(
      keys.rsaOaep,
      await sign(keys.es256, validClaims({ iss: B }), { typ: 'at+jwt' }),
    );
    await expect(v.verify(forB)).rejects.toMatchObject({ code: 'decryption_failed' });
  });

  it.each([
    ['an issuer listed twice', { issuers: [policies[0]!, policies[0]!] }, /twice/],
    ['issuer and issuers together', { issuer: A }, /not both/],
    ['an empty list', { issuers: [] }, /non-empty/],
    [
      'a policy with a bad option',
      { issuers: [{ ...policies[0]!, algorithms: ['none'] }] },
      /unsupported/,
    ],
  ])('throws at construction for %s', (_name, extra, message) => {
    expect(() => createVerifier({ ...base, ...(extra as object) })).toThrow(message);
  });
});

describe('issuer resolver', () => {
  it('looks each issuer up once per TTL, and an unknown issuer is issuer_mismatch', async () => {
    const calls: string[] = [];
    const clock = fakeClock();
    const v = createVerifier({
      audience: AUDIENCE,
      now: clock,
      issuerCache: { ttl: 60 },
      issuers: async (iss) => {
        calls.push(iss);
        return iss === A ? { issuer: A, keys: [keys.rs256.publicJwk] } : undefined;
      },
    });
    const tokens = await Promise.all(
      [1, 2, 3].map((i) => sign(keys.rs256, validClaims({ iss: A, jti: `${i}` }))),
    );
    for (const t of tokens) await v.verify(t);
    expect(calls).toEqual([A]);
    await expect(v.verify(await sign(keys.rs256, validClaims({ iss: B })))).rejects.toMatchObject({
      code: 'issuer_mismatch',
    });
    clock.advance(61);
    await v.verify(await sign(keys.rs256, validClaims({ iss: A, jti: 'late' })));
    expect(calls).toEqual([A, B, A]);
  });

  it('answers 503 when the resolver fails, and asks again next time', async () => {
    let fail = true;
    const v = createVerifier({
      audience: AUDIENCE,
      now: () => NOW,
      issuers: async () => {
        if (fail) throw new Error('tenant store down');
        return { issuer: A, keys: [keys.rs256.publicJwk] };
      },
    });
    const token = await sign(keys.rs256, validClaims({ iss: A }));
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'jwks_unavailable', status: 503 });
    fail = false;
    await expect(v.verify(token)).resolves.toHaveProperty('payload.iss', A);
  });

  it('stays within issuerCache.max entries', async () => {
    const calls: string[] = [];
    const v = createVerifier({
      audience: AUDIENCE,
      now: () => NOW,
      issuerCache: { max: 2 },
      issuers: (iss) => {
        calls.push(iss);
        return { issuer: iss, keys: [keys.rs256.publicJwk] };
      },
    });
    for (const iss of ['https://1/', 'https://2/', 'https://3/', 'https://1/']) {
      await v.verify(await sign(keys.rs256, validClaims({ iss, jti: iss + calls.length })));
    }
    expect(calls).toEqual(['https://1/', 'https://2/', 'https://3/', 'https://1/']);
  });
});

describe('RFC 9068 access-token profile', () => {
  const at = {
    audience: AUDIENCE,
    issuer: A,
    keys: [keys.rs256.publicJwk],
    now: () => NOW,
    profile: 'at+jwt' as const,
  };
  const full = validClaims({ iss: A, client_id: 'c1', jti: 'j1' });
  it('accepts a complete at+jwt token', async () => {
    await expect(
      createVerifier(at).verify(await sign(keys.rs256, full, { typ: 'at+jwt' })),
    ).resolves.toBeDefined();
  });
  it('refuses an ID token (typ JWT) as typ_mismatch', async () => {
    await expect(createVerifier(at).verify(await sign(keys.rs256, full))).rejects.toMatchObject({
      code: 'typ_mismatch',
    });
  });
  it.each(['client_id', 'jti', 'iat', 'sub'])('refuses a token without %s', async (claim) => {
    const token = await sign(keys.rs256, { ...full, [claim]: undefined }, { typ: 'at+jwt' });
    await expect(createVerifier(at).verify(token)).rejects.toMatchObject({ code: 'claim_missing' });
  });
  it('checks typ on the inner token when nested', async () => {
    const v = createVerifier({ ...at, decryption: { keys: [keys.rsaOaep.privateJwk] } });
    const inner = await sign(keys.rs256, full, { typ: 'at+jwt' });
    await expect(
      v.verify(await encrypt(keys.rsaOaep, inner, { typ: 'JWT' })),
    ).resolves.toBeDefined();
    const wrong = await encrypt(keys.rsaOaep, await sign(keys.rs256, full), { typ: 'at+jwt' });
    await expect(v.verify(wrong)).rejects.toMatchObject({ code: 'typ_mismatch' });
  });
});
